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


# thinking, tool_choice, image URLs, reasoning and truncation (issue-level traps of newer Ollama)

THINKING_SHOW = {**SHOW, "capabilities": ["completion", "tools", "thinking"]}
VISION_SHOW = {**SHOW, "capabilities": ["completion", "vision"]}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000100"
    "05fe02fea7d6a0a30000000049454e44ae426082"
)
TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
    for name in ("get_price", "get_news")
]


@pytest.mark.parametrize("ask", ASKERS, ids=IDS)
@pytest.mark.parametrize(("think", "effort"), [(False, "none"), (True, "medium"), ("high", "high")])
def test_think_reaches_v1_as_reasoning_effort(server: Stub, ask: Any, think: Any, effort: str) -> None:
    server.route("POST", "/api/show", Reply(body=THINKING_SHOW))
    ask(OllamaSettings(host=server.url, think=think), check=True)
    body = _sent(server)
    assert body["reasoning_effort"] == effort
    assert "think" not in body


@pytest.mark.parametrize("ask", ASKERS, ids=IDS)
def test_think_unset_sends_no_reasoning_effort(server: Stub, ask: Any) -> None:
    ask(OllamaSettings(host=server.url))
    assert "reasoning_effort" not in _sent(server)


def test_think_asked_of_a_model_without_thinking_is_refused_when_checked(server: Stub) -> None:
    with pytest.raises(integrations.CapabilityMissing, match="thinking"):
        integrations.openai_client("m", settings=OllamaSettings(host=server.url, think=True), check=True)
    integrations.openai_client("m", settings=OllamaSettings(host=server.url, think=False), check=True)


def test_think_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THINK", "false")
    assert OllamaSettings().think is False
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THINK", "Low")
    assert OllamaSettings().think == "low"
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_THINK", "lots")
    with pytest.raises(integrations.ConfigError, match=r"OLLAMA_INTEGRATIONS_THINK.*false, true, low, medium or high"):
        OllamaSettings()


def test_tool_choice_none_sends_no_tools(server: Stub) -> None:
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice="none")  # type: ignore[arg-type]
    assert "tools" not in _sent(server)
    chat = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=False)
    chat.bind_tools(TOOLS, tool_choice="none").invoke("Say hi")
    assert "tools" not in _sent(server)


def test_a_named_tool_choice_sends_only_that_tool(server: Stub) -> None:
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    named = {"type": "function", "function": {"name": "get_news"}}
    client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice=named)  # type: ignore[arg-type]
    body = _sent(server)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_news"]
    assert body["tool_choice"] == named


def test_tool_choice_required_is_passed_on(server: Stub) -> None:
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice="required")  # type: ignore[arg-type]
    body = _sent(server)
    assert body["tool_choice"] == "required"
    assert len(body["tools"]) == 2


def _image_message(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}],
        }
    ]


def _image_urls(body: dict[str, Any]) -> list[str]:
    return [
        p["image_url"]["url"]
        for m in body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_http_image_url_reaches_ollama_as_a_data_uri(server: Stub, asynchronous: bool) -> None:
    import base64

    server.route("GET", "/cat.png", Reply(raw=PNG, content_type="image/png"))
    server.route("POST", "/api/show", Reply(body=VISION_SHOW))
    settings = OllamaSettings(host=server.url)
    messages: Any = _image_message(f"{server.url}/cat.png")
    if asynchronous:
        client = integrations.async_openai_client("m", settings=settings, check=True)
        asyncio.run(client.chat.completions.create(model="m", messages=messages))
    else:
        integrations.openai_client("m", settings=settings, check=True).chat.completions.create(
            model="m", messages=messages
        )
    assert _image_urls(_sent(server)) == ["data:image/png;base64," + base64.b64encode(PNG).decode()]


def test_langchain_image_urls_are_inlined_too(server: Stub) -> None:
    from langchain_core.messages import HumanMessage

    server.route("GET", "/cat.png", Reply(raw=PNG, content_type="image/png"))
    chat = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=False)
    chat.invoke([HumanMessage(content=_image_message(f"{server.url}/cat.png")[0]["content"])])
    assert _image_urls(_sent(server))[0].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("route", "reply", "reason"),
    [
        ("/page.html", Reply(raw=b"<html></html>", content_type="text/html"), "content type is text/html"),
        ("/gone.png", Reply(404, {"error": "no"}), "status 404"),
        ("/huge.png", Reply(raw=b"\0" * (20 * 1024 * 1024 + 1), content_type="image/png"), "more than the 20971520"),
    ],
    ids=["not-an-image", "missing", "too-large"],
)
def test_an_image_url_that_cannot_be_inlined_is_refused_with_the_reason(
    server: Stub, route: str, reply: Reply, reason: str
) -> None:
    import openai

    server.route("GET", route, reply)
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    with pytest.raises(openai.BadRequestError, match=reason):
        client.chat.completions.create(model="m", messages=_image_message(f"{server.url}{route}"))  # type: ignore[arg-type]
    assert not server.bodies("/v1/chat/completions"), "nothing may reach Ollama"


@pytest.mark.parametrize("url", ["http://example.invalid/cat.png", "data:image/png;base64,AAAA"], ids=["url", "data"])
def test_images_for_a_checked_model_without_vision_raise_capability_missing(server: Stub, url: str) -> None:
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=True)
    with pytest.raises(integrations.CapabilityMissing, match="vision"):
        client.chat.completions.create(model="m", messages=_image_message(url))  # type: ignore[arg-type]
    chat = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=True)
    with pytest.raises(integrations.CapabilityMissing, match="vision"):
        chat.invoke([("user", _image_message(url)[0]["content"])])
    assert not server.bodies("/v1/chat/completions")


def _thinking_completion() -> dict[str, Any]:
    completion = chat_completion("m", "Paris.")
    completion["choices"][0]["message"]["reasoning"] = "The capital of France is Paris."
    return completion


def test_reasoning_reaches_langchain_as_reasoning_content(server: Stub) -> None:
    server.route("POST", "/v1/chat/completions", Reply(body=_thinking_completion()))
    reply = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=False).invoke("Capital?")
    assert reply.content == "Paris."
    assert reply.additional_kwargs["reasoning_content"] == "The capital of France is Paris."


def test_streamed_reasoning_reaches_langchain_as_reasoning_content(server: Stub) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [
        chunk({"role": "assistant", "content": "", "reasoning": "Capital of "}),
        chunk({"content": "", "reasoning": "France."}),
        chunk({"content": "Paris."}),
        chunk({"content": ""}, "stop"),
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    server.route("POST", "/v1/chat/completions", Reply(raw=sse.encode(), content_type="text/event-stream"))
    chat = integrations.chat_openai("m", settings=OllamaSettings(host=server.url), check=False)
    merged = None
    for part in chat.stream("Capital?"):
        merged = part if merged is None else merged + part
    assert merged is not None
    assert merged.content == "Paris."
    assert merged.additional_kwargs["reasoning_content"] == "Capital of France."


def test_reasoning_reaches_agentchat_as_its_thought(server: Stub) -> None:
    from autogen_core.models import UserMessage

    server.route("POST", "/v1/chat/completions", Reply(body=_thinking_completion()))
    client = integrations.model_client("m", settings=OllamaSettings(host=server.url), check=False)
    result = asyncio.run(client.create([UserMessage(content="Capital?", source="user")]))
    assert result.content == "Paris."
    assert result.thought == "The capital of France is Paris."


def test_ag2_keeps_the_answer_in_content(server: Stub) -> None:
    from autogen import AssistantAgent

    server.route("POST", "/v1/chat/completions", Reply(body=_thinking_completion()))
    agent = AssistantAgent(
        "a", llm_config=integrations.llm_config("m", settings=OllamaSettings(host=server.url), check=False)
    )
    assert agent.generate_reply(messages=MESSAGES) == "Paris."


def _usage_reply(prompt: int, completion: int) -> Reply:
    body = chat_completion("m")
    body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return Reply(body=body)


def test_context_truncated_warns_once_per_conversation_length(server: Stub) -> None:
    import warnings

    server.route("POST", "/v1/chat/completions", _usage_reply(4000, 96))
    server.route(
        "GET", "/api/ps", Reply(body={"models": [{"name": "m:latest", "model": "m:latest", "context_length": 4096}]})
    )
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.chat.completions.create(model="m", messages=MESSAGES)
        client.chat.completions.create(model="m", messages=MESSAGES)
        client.chat.completions.create(
            model="m", messages=[*MESSAGES, {"role": "assistant", "content": "x"}, *MESSAGES]
        )
    truncated = [str(w.message) for w in caught if w.category is integrations.ContextTruncated]
    assert len(truncated) == 2, "once per conversation length"
    assert "'m'" in truncated[0] and "4096 tokens" in truncated[0] and "num_ctx" in truncated[0]
    assert len(server.bodies("/api/ps")) <= 1, "the loaded context is asked once per client"


def test_no_warning_while_the_conversation_fits(server: Stub) -> None:
    import warnings

    server.route("POST", "/v1/chat/completions", _usage_reply(4000, 95))
    server.route(
        "GET", "/api/ps", Reply(body={"models": [{"name": "m:latest", "model": "m:latest", "context_length": 4096}]})
    )
    client = integrations.openai_client("m", settings=OllamaSettings(host=server.url), check=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrations.ContextTruncated)
        client.chat.completions.create(model="m", messages=MESSAGES)
