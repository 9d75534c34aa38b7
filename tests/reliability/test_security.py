"""Security pass: secrets never leak; untrusted registries need an explicit flag."""

from __future__ import annotations

import contextlib
import logging
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import integrations
from integrations import checks
from integrations.cli import app
from integrations.errors import ConfigError, OllamaError
from integrations.settings import OllamaSettings
from tests.reliability import _counts
from tests.stub import Reply, Stub, closed_port

SENTINEL = "sk-sentinel-7f3a9c"


def test_the_key_never_appears_in_repr_logs_output_or_errors(
    stub: Stub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OLLAMA_API_KEY", SENTINEL)
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(404, body={"error": "model 'x:latest' not found"}))
    stub.route("GET", "/api/tags", Reply(body={"models": []}))
    dead = f"http://127.0.0.1:{closed_port()}"
    seen: list[str] = []

    settings = OllamaSettings(host=f"{dead},{stub.url}")
    seen += [repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()]
    for attempt in (
        lambda: integrations.openai_client("x", settings=settings),
        lambda: integrations.llm_config("x", settings=settings),
        lambda: checks.server_info(settings=OllamaSettings(host=dead)),
        lambda: OllamaSettings(num_ctx=-1),
    ):
        with pytest.raises(OllamaError) as caught:
            attempt()
        seen.append(str(caught.value))
    runner = CliRunner()
    for args in (
        ["doctor", "--host", stub.url],
        ["config", "--format", "json"],
        ["config", "--format", "env"],
        ["config", "--format", "autogen"],
        ["config", "--format", "agentchat"],
        ["config", "--format", "langchain"],
    ):
        seen.append(runner.invoke(app, args).output)
    seen += [record.getMessage() for record in caplog.records]
    leaked = [text for text in seen if SENTINEL in text]
    assert not leaked
    # The key did reach the server, where it belongs.
    assert any(r.headers.get("authorization") == f"Bearer {SENTINEL}" for r in stub.requests)


def test_untrusted_registry_needs_insecure(stub: Stub) -> None:
    stub.route("POST", "/api/pull", Reply(lines=[{"status": "success"}]))
    settings = OllamaSettings(host=stub.url)
    with pytest.raises(ConfigError, match="insecure"):
        checks.pull_model("evil.example:5000/ns/model", settings=settings)
    assert not stub.requests
    checks.pull_model("evil.example:5000/ns/model", settings=settings, insecure=True)
    assert stub.requests[-1].body["insecure"] is True
    checks.pull_model("hf.co/org/repo:Q4_K_M", settings=settings)
    assert stub.requests[-1].body["model"] == "hf.co/org/repo:Q4_K_M"


def test_cli_pull_untrusted_registry_is_one_red_line(stub: Stub) -> None:
    result = CliRunner().invoke(app, ["pull", "evil.example:5000/ns/model", "--host", stub.url])
    assert result.exit_code == 1
    assert "--insecure" in result.output and "Traceback" not in result.output


def _write_with_library(path: Path) -> None:
    integrations.write_oai_config_list(path, "m", check=False)


def _write_with_cli(path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "--format", "env", "--output", str(path)])
    assert result.exit_code == 0, result.output


WRITERS = [pytest.param(_write_with_library, id="write_oai_config_list"), pytest.param(_write_with_cli, id="cli")]


@pytest.mark.parametrize("write", WRITERS)
def test_written_config_files_are_private(tmp_path: Path, write: Callable[[Path], None]) -> None:
    path = tmp_path / "OAI_CONFIG_LIST"
    path.write_text("old")
    path.chmod(0o644)  # an existing file keeps no wider mode either
    write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "old" not in path.read_text()
    assert sorted(tmp_path.iterdir()) == [path]  # no temporary file left behind


POLLER = """
import os, stat, sys
folder, stop = sys.argv[1], sys.argv[2]
looks, wide = 0, set()
while not os.path.exists(stop):
    for entry in os.scandir(folder):
        try:
            mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
        except FileNotFoundError:
            continue
        looks += 1
        if mode & 0o077:
            wide.add(oct(mode))
print(looks, sorted(wide))
"""


@pytest.mark.parametrize("write", WRITERS)
def test_no_reader_ever_sees_a_config_file_with_a_wider_mode(tmp_path: Path, write: Callable[[Path], None]) -> None:
    """Another process stats every file in the folder while the file is written again and again."""
    folder, stop = tmp_path / "out", tmp_path / "stop"
    folder.mkdir()
    path = folder / "OAI_CONFIG_LIST"
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(folder), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(60):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            write(path)
    finally:
        stop.touch()
        out, _ = poller.communicate(timeout=30)
    looks, wide = out.split(" ", 1)
    assert int(looks) > 0  # the poller did look
    assert wide.strip() == "[]"


@pytest.mark.parametrize("write", WRITERS)
def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path, write: Callable[[Path], None]) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    target.chmod(0o644)
    link = tmp_path / "OAI_CONFIG_LIST"
    link.symlink_to(target)
    if write is _write_with_cli:
        result = CliRunner().invoke(app, ["config", "--output", str(link)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        message = " ".join(result.output.split())
    else:
        with pytest.raises(ConfigError) as caught:
            write(link)
        message = str(caught.value)
    assert str(link) in message and "symbolic link" in message
    assert target.read_text() == "keep" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert link.is_symlink()


QUERY_TOKEN = "tok-sentinel-5c81"


@pytest.mark.parametrize("host", [
    f"http://host:1/?token={QUERY_TOKEN}",
    f"http://host:1/api?a=1&token={QUERY_TOKEN}#x",
    f"http://127.0.0.1:1,http://host:2/#{QUERY_TOKEN}",
])
def test_a_token_in_the_host_query_is_masked_everywhere_a_host_is_shown(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    seen: list[str] = []
    monkeypatch.setenv("OLLAMA_HOST", host)
    for args in (["doctor"], ["config", "--format", "env"], ["config", "--format", "json"], ["models"]):
        seen.append(runner.invoke(app, args).output)
    monkeypatch.delenv("OLLAMA_HOST")
    for args in (["doctor", "--host", host], ["config", "--host", host], ["models", "--host", host]):
        seen.append(runner.invoke(app, args).output)
    for attempt in (
        lambda: OllamaSettings(host=host),
        lambda: integrations.openai_client("x", host=host),
        lambda: checks.server_info(settings=OllamaSettings.model_construct(host=host)),
    ):
        with pytest.raises(OllamaError) as caught:
            attempt()
        seen.append(str(caught.value))
    for text in seen:
        _counts.record("host query token shown", "masked" if QUERY_TOKEN not in text else "SHOWN")
    assert not [text for text in seen if QUERY_TOKEN in text]
    assert all("***" in text for text in seen), seen
