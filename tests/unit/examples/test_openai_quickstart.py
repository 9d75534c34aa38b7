"""The quickstart's request and curl command, without a server."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import openai_quickstart
import pytest

from integrations import OllamaSettings


def test_curl_command_round_trips_the_request() -> None:
    settings = OllamaSettings(host="http://gpu-box:11434", model="llama2", max_tokens=64)
    body = openai_quickstart.request_body(settings)
    words = shlex.split(openai_quickstart.curl_command(settings, body).replace("\\\n", " "))
    assert words[:2] == ["curl", "http://gpu-box:11434/v1/chat/completions"]
    assert json.loads(words[words.index("-d") + 1]) == body
    assert body["max_tokens"] == 64 and body["messages"][-1]["content"] == "Where was it played?"


def test_curl_command_never_prints_a_real_key() -> None:
    settings = OllamaSettings(host="https://ollama.example.com", api_key="s3cret-token")
    curl = openai_quickstart.curl_command(settings, openai_quickstart.request_body(settings))
    assert "s3cret-token" not in curl and "$OLLAMA_API_KEY" in curl


def test_unreachable_server_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert openai_quickstart.main(["--host", "http://127.0.0.1:9", "--work-dir", str(tmp_path)]) == 2
    assert "not reachable" in capsys.readouterr().err
