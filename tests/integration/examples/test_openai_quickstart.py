"""The announcement's OpenAI quickstart against the embedded server: SDK and raw HTTP both answer."""

from __future__ import annotations

import json
from pathlib import Path

import openai_quickstart
import pytest

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


def test_sdk_and_plain_http_both_answer(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=32, seed=1)

    result = openai_quickstart.run(settings, work_dir=tmp_path)

    assert result.ok and result.sdk_answer.strip() and result.http_answer.strip()
    assert result.curl.startswith(f"curl {settings.base_url}/chat/completions")
    saved = json.loads((tmp_path / "responses.json").read_text())
    assert saved["request"]["messages"] == openai_quickstart.MESSAGES
    assert saved["request"]["max_tokens"] == 32
    assert saved["sdk"]["usage"]["completion_tokens"] <= 32
    assert saved["http"]["usage"]["completion_tokens"] <= 32
    assert saved["http"]["model"].startswith("smollm2")


def test_main_exits_0_and_prints_the_curl_command(
    ollama_settings: OllamaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", ollama_settings.model, "--host", ollama_settings.host, "--max-tokens", "16"]
    assert openai_quickstart.main([*argv, "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"curl {ollama_settings.host}/v1/chat/completions" in out and str(tmp_path / "responses.json") in out
