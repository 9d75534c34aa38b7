"""The CLI without a server: one red line and a non-zero exit for every user mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integrations.cli import app
from tests.stub import closed_port

runner = CliRunner()


def dead_host() -> str:
    return f"127.0.0.1:{closed_port()}"


@pytest.mark.parametrize(
    "args",
    [
        ["models", "--host", "DEAD"],
        ["warm", "smollm2:135m", "--host", "DEAD"],
        ["pull", "smollm2:135m", "--host", "DEAD"],
        ["doctor", "--host", "DEAD"],
        ["config", "--check", "--host", "DEAD"],
        ["gateway", "--host", "DEAD", "--port", "0"],
    ],
)
def test_unreachable_host_gives_a_short_error_and_exit_1(args: list[str]) -> None:
    host = dead_host()
    result = runner.invoke(app, [host if a == "DEAD" else a for a in args])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert host in result.output
    if args[0] == "doctor":
        assert "FAIL" in result.output and "ollama-integrations serve" in result.output
    else:
        assert result.output.count("error:") == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["config", "--format", "yaml"], "unknown format 'yaml'"),
        (["config", "--host", "ftp://x"], "ftp"),
        (["config", "--model", "bad name"], "bad name"),
        (["config", "--profile", "nope"], "unknown profile 'nope'"),
        (["run", "no-such-example"], "unknown example 'no-such-example'"),
        (["gateway", "--bind", "0.0.0.0"], "loopback only, not '0.0.0.0'"),
        (["serve", "--engine", "nope", "--port", "0"], "unknown engine 'nope': use 'auto'"),
    ],
)
def test_user_mistakes(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_unknown_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["doctor", "--frobnicate"])
    assert result.exit_code == 2
    assert "frobnicate" in result.output


@pytest.mark.parametrize("verb", ["doctor", "models", "pull", "warm", "config", "run", "serve", "gateway"])
def test_every_verb_has_help(verb: str) -> None:
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_config_autogen_reads_back_with_autogen(tmp_path: Path) -> None:
    autogen = pytest.importorskip("autogen")
    path = tmp_path / "OAI_CONFIG_LIST"
    result = runner.invoke(
        app, ["config", "--format", "autogen", "--host", "a,b:1", "--model", "codellama", "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    loaded = autogen.LLMConfig.from_json(path=path).model_dump()["config_list"]
    assert [e["base_url"] for e in loaded] == ["http://a:11434/v1", "http://b:1/v1"]
    assert {e["model"] for e in loaded} == {"codellama"}


def test_config_masks_secrets_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-sentinel-cli")
    for fmt in ("autogen", "autogen-native", "agentchat", "langchain", "env", "json"):
        masked = runner.invoke(app, ["config", "--format", fmt])
        assert masked.exit_code == 0, masked.output
        assert "sk-sentinel-cli" not in masked.output
        if fmt != "autogen-native":  # AG2's native client reads OLLAMA_API_KEY itself
            assert "**********" in masked.output
    shown = runner.invoke(app, ["config", "--format", "autogen", "--show-secrets"])
    assert "sk-sentinel-cli" in shown.output


def test_config_env_drives_javascript_clients_too() -> None:
    result = runner.invoke(app, ["config", "--format", "env", "--host", "gpu:1234", "--model", "qwen2.5"])
    lines = dict(line.split("=", 1) for line in result.output.strip().splitlines())
    assert lines["OLLAMA_HOST"] == "http://gpu:1234"
    assert lines["OPENAI_BASE_URL"] == "http://gpu:1234/v1"
    assert lines["OLLAMA_INTEGRATIONS_MODEL"] == "qwen2.5"
    assert lines["OPENAI_API_KEY"] == "ollama"


def test_config_json_lists_hosts() -> None:
    result = runner.invoke(app, ["config", "--format", "json", "--host", "a,b"])
    data = json.loads(result.output)
    assert [h["base_url"] for h in data["hosts"]] == ["http://a:11434/v1", "http://b:11434/v1"]


def test_run_list_shows_the_examples() -> None:
    result = runner.invoke(app, ["run", "--list"])
    assert result.exit_code == 0
    assert "nvda-tsla" in result.output


def test_run_without_ollama_suggests_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_HOST", dead_host())
    result = runner.invoke(app, ["run", "nvda-tsla", "--work-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "--embedded" in result.output
    assert "Traceback" not in result.output
