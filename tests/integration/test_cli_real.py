"""Each CLI verb against the embedded server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from integrations.cli import app
from integrations.settings import OllamaSettings

runner = CliRunner()


def _host(settings: OllamaSettings) -> str:
    return settings.hosts[0].url


@pytest.mark.plumbing
def test_doctor_all_green(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["doctor", "--host", _host(ollama_settings), "--model", "smollm2:135m", "--tools"])
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output
    assert "smollm2:135m" in result.output and "8192" in result.output
    assert "FAIL" not in result.output


@pytest.mark.plumbing
def test_doctor_tools_probes_how_calls_come_back(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["doctor", "--host", _host(ollama_settings), "--model", "smollm2:135m", "--tools"])
    assert result.exit_code == 0, result.output
    assert "smollm2:135m tool calls" in result.output and "structured" in result.output
    assert "smollm2:135m thinking" in result.output


def test_doctor_missing_model_numbers_the_fix(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["doctor", "--host", _host(ollama_settings), "--model", "codellama"])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "1. ollama pull codellama" in result.output


def test_doctor_vision_required_but_missing(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["doctor", "--host", _host(ollama_settings), "--model", "smollm2:135m", "--vision"])
    assert result.exit_code == 1
    assert "Choose a model with vision" in result.output


def test_models_table(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["models", "--host", _host(ollama_settings)])
    assert result.exit_code == 0, result.output
    assert "smollm2:135m" in result.output
    assert "Q4_1" in result.output and "tools" in result.output


def test_pull_existing_and_unknown(ollama_settings: OllamaSettings) -> None:
    ok = runner.invoke(app, ["pull", "smollm2:135m", "--host", _host(ollama_settings)])
    assert ok.exit_code == 0, ok.output
    assert "pulled smollm2:135m" in ok.output
    bad = runner.invoke(app, ["pull", "no-such-model", "--host", _host(ollama_settings)])
    assert bad.exit_code == 1
    assert "no-such-model" in bad.output and "Traceback" not in bad.output


def test_warm_reports_time(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(app, ["warm", "smollm2:135m", "--host", _host(ollama_settings)])
    assert result.exit_code == 0, result.output
    assert "loaded smollm2:135m" in result.output and " s" in result.output
    assert "context" in result.output and "tokens" in result.output


def test_config_checked_against_the_server(ollama_settings: OllamaSettings) -> None:
    result = runner.invoke(
        app, ["config", "--format", "agentchat", "--check", "--host", _host(ollama_settings), "--model", "smollm2:135m"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["config"]["model_info"]["function_calling"] is True
    assert data["config"]["base_url"] == f"{_host(ollama_settings)}/v1"
