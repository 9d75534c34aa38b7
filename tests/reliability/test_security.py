"""Security pass: secrets never leak; untrusted registries need an explicit flag."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

import integrations
from integrations import checks
from integrations.cli import app
from integrations.errors import ConfigError, OllamaError
from integrations.settings import OllamaSettings
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


def test_written_config_files_are_private(tmp_path: object) -> None:
    from pathlib import Path

    path = integrations.write_oai_config_list(Path(str(tmp_path)) / "OAI_CONFIG_LIST", "m", check=False)
    assert path.stat().st_mode & 0o077 == 0
