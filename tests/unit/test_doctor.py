"""What `diagnose` reports about thinking, the context loaded, and how tool calls come back (stub server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.doctor import Check, diagnose
from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, chat_completion

SHOW = {
    "details": {"family": "qwen2", "parameter_size": "7B", "quantization_level": "Q4_K_M"},
    "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
    "parameters": "temperature 0.7",
    "capabilities": ["completion", "tools", "thinking"],
}
TAGS = {"models": [{"name": "m:latest", "model": "m:latest", "size": 1, "digest": "d", "details": {}}]}


@pytest.fixture
def server(stub: Stub) -> Stub:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.3"}))
    stub.route("GET", "/api/tags", Reply(body=TAGS))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    stub.route("GET", "/api/ps", Reply(body={"models": []}))
    return stub


def _check(checks: list[Check], suffix: str) -> Check:
    found = [c for c in checks if c.name.endswith(suffix)]
    assert found, f"no check named '... {suffix}' in {[c.name for c in checks]}"
    return found[0]


def _running(name: str, context: int) -> Reply:
    row = {"name": name, "model": name, "size": 1, "digest": "d", "expires_at": None, "context_length": context}
    return Reply(body={"models": [row]})


def test_thinking_is_listed(server: Stub) -> None:
    report = diagnose(OllamaSettings(host=server.url, model="m"))
    assert _check(report.checks, "thinking").detail == "yes"


def test_think_asked_of_a_model_without_thinking_fails(server: Stub) -> None:
    server.route("POST", "/api/show", Reply(body={**SHOW, "capabilities": ["completion"]}))
    report = diagnose(OllamaSettings(host=server.url, model="m", think=True))
    check = _check(report.checks, "thinking")
    assert not check.ok and check.fix and "thinking" in check.fix


def test_a_model_loaded_with_less_context_than_num_ctx_fails_with_the_fix(server: Stub) -> None:
    server.route("GET", "/api/ps", _running("m:latest-ctx8192", 2048))
    report = diagnose(OllamaSettings(host=server.url, model="m", num_ctx=8192))
    check = _check(report.checks, "loaded context")
    assert not check.ok
    assert "2048" in check.detail and "8192" in check.detail
    assert check.fix and "OLLAMA_INTEGRATIONS_NUM_CTX" in check.fix


def test_a_model_loaded_with_num_ctx_passes(server: Stub) -> None:
    server.route("GET", "/api/ps", _running("m:latest-ctx8192", 8192))
    report = diagnose(OllamaSettings(host=server.url, model="m", num_ctx=8192))
    check = _check(report.checks, "loaded context")
    assert check.ok and not check.warning


def _probe_reply(message: dict[str, Any]) -> Reply:
    completion = chat_completion("m")
    completion["choices"][0]["message"] = {"role": "assistant", **message}
    return Reply(body=completion)


STRUCTURED = {
    "content": "",
    "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ],
}
TEXT = {"content": "```json\n" + json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}}) + "\n```"}
PROSE = {"content": "It is sunny in Paris."}


@pytest.mark.parametrize(
    ("message", "repair", "ok", "warning", "words"),
    [
        (STRUCTURED, True, True, False, "structured"),
        (TEXT, True, True, False, "JSON text"),
        (TEXT, False, False, False, "repair is off"),
        (PROSE, True, True, True, "no tool call"),
    ],
    ids=["structured", "text-repaired", "text-repair-off", "neither"],
)
def test_the_tool_probe_says_how_the_call_came_back(
    server: Stub, message: dict[str, Any], repair: bool, ok: bool, warning: bool, words: str
) -> None:
    server.route("POST", "/v1/chat/completions", _probe_reply(message))
    report = diagnose(OllamaSettings(host=server.url, model="m", repair_tool_calls=repair), requires=("tools",))
    check = _check(report.checks, "tool calls")
    assert (check.ok, check.warning) == (ok, warning)
    assert words in check.detail
    sent = server.bodies("/v1/chat/completions")[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]


def test_no_probe_without_tools_asked(server: Stub) -> None:
    diagnose(OllamaSettings(host=server.url, model="m"))
    assert not server.bodies("/v1/chat/completions")
