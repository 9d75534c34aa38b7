"""The traps Ollama's /v1 sets, checked on the request each factory-built client actually sends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import integrations
from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, chat_completion

MESSAGES = [{"role": "user", "content": "Say hi"}]
SHOW = {
    "details": {"family": "qwen2", "parameter_size": "7B", "quantization_level": "Q4_K_M"},
    "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
    "parameters": 'temperature                    0.3\ntop_p                          0.6\nstop                           "<|im_end|>"',
    "capabilities": ["completion", "tools"],
}


@pytest.fixture
def server(stub: Stub) -> Stub:
    stub.route("POST", "/v1/chat/completions", Reply(body=chat_completion("m")))
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.3"}))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    return stub


def _sent(stub: Stub) -> dict[str, Any]:
    bodies = stub.bodies("/v1/chat/completions")
    assert bodies, "no chat request reached the server"
    body: dict[str, Any] = bodies[-1]
    return body


def _ask_openai(settings: OllamaSettings, check: bool = False) -> None:
    integrations.openai_client("m", settings=settings, check=check).chat.completions.create(
        model="m", messages=MESSAGES
    )


def _ask_async_openai(settings: OllamaSettings, check: bool = False) -> None:
    client = integrations.async_openai_client("m", settings=settings, check=check)
    asyncio.run(client.chat.completions.create(model="m", messages=MESSAGES))


def _ask_chat_openai(settings: OllamaSettings, check: bool = False) -> None:
    integrations.chat_openai("m", settings=settings, check=check).invoke("Say hi")


def _ask_agentchat(settings: OllamaSettings, check: bool = False) -> None:
    from autogen_core.models import UserMessage

    client = integrations.model_client("m", settings=settings, check=check)
    asyncio.run(client.create([UserMessage(content="Say hi", source="user")]))


def _ask_ag2(settings: OllamaSettings, check: bool = False) -> None:
    from autogen import AssistantAgent

    agent = AssistantAgent("a", llm_config=integrations.llm_config("m", settings=settings, check=check))
    agent.generate_reply(messages=MESSAGES)


ASKERS = [_ask_openai, _ask_async_openai, _ask_chat_openai, _ask_agentchat, _ask_ag2]
IDS = ["openai", "async_openai", "chat_openai", "agentchat", "ag2"]


@pytest.mark.parametrize("ask", ASKERS, ids=IDS)
def test_temperature_top_p_and_max_tokens_always_sent(server: Stub, ask: Any) -> None:
    ask(OllamaSettings(host=server.url, temperature=0.25, top_p=0.5, max_tokens=33))
    body = _sent(server)
    assert body["temperature"] == 0.25
    assert body["top_p"] == 0.5
    assert body["max_tokens"] == 33
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("ask", ASKERS, ids=IDS)
def test_unset_sampling_comes_from_the_model_when_checked(server: Stub, ask: Any) -> None:
    ask(OllamaSettings(host=server.url), check=True)
    body = _sent(server)
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.6


@pytest.mark.parametrize("ask", ASKERS, ids=IDS)
def test_never_falls_back_to_openai_environment(server: Stub, ask: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-sentinel")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    ask(OllamaSettings(host=server.url))
    request = [r for r in server.requests if r.path == "/v1/chat/completions"][-1]
    assert request.headers["authorization"] == "Bearer ollama"
    assert "sk-openai-sentinel" not in json.dumps(request.headers)


def test_streams_ask_for_usage(server: Stub) -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }
    usage = {**chunk, "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}
    sse = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode()
    server.route("POST", "/v1/chat/completions", Reply(raw=sse, content_type="text/event-stream"))
    chat = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=False)
    chunks = list(chat.stream("hi"))
    assert _sent(server)["stream_options"] == {"include_usage": True}
    total = sum((c.usage_metadata or {}).get("total_tokens", 0) for c in chunks)
    assert total == 3


def test_explicit_request_values_win_over_defaults(server: Stub) -> None:
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url, temperature=0.9), check=False)
    client.chat.completions.create(model="m", messages=MESSAGES, temperature=0.0, max_completion_tokens=5)
    body = _sent(server)
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 5


def test_derived_context_model_is_what_requests_name(server: Stub) -> None:
    derived = {**SHOW, "parameters": SHOW["parameters"] + "\nnum_ctx                        16384"}

    def show(record: Any) -> Reply:
        return Reply(body=derived if "ctx16384" in record.body["model"] else SHOW)

    server.route("POST", "/api/show", show)
    server.route("POST", "/api/create", Reply(body={"status": "success"}))
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url, num_ctx=16384), check=True)
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert _sent(server)["model"] == "m:latest-ctx16384"
    assert not server.bodies("/api/create"), "an existing derived model must not be created again"
