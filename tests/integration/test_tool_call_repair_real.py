"""A model that writes its tool call as JSON text: Ollama hands it over as content, the factories' clients as a call.

qwen2.5-coder:0.5b skips its template's ``<tool_call>`` tag and answers with the bare
or fenced JSON call. The embedded server, like Ollama, extracts calls only from the
tag, so the raw OpenAI SDK receives text; every factory-built client receives the call.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import integrations
from integrations._toolcalls import parse_text_calls
from integrations.pytest_plugin import OllamaServerInfo
from integrations.settings import OllamaSettings

pytestmark = pytest.mark.decider

PRICE = {
    "type": "function",
    "function": {
        "name": "get_price",
        "description": "The latest price of a stock.",
        "parameters": {
            "type": "object",
            "properties": {"ticker": {"type": "string", "description": "Stock ticker, e.g. AAPL"}},
            "required": ["ticker"],
        },
    },
}
NEWS = {
    "type": "function",
    "function": {
        "name": "get_news",
        "description": "Headlines about a topic.",
        "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
    },
}
QUESTION = "What is the current price of NVDA stock?"
ASK: Any = [{"role": "user", "content": QUESTION}]


@pytest.fixture
def settings(ollama_server: OllamaServerInfo, decider_model: str) -> OllamaSettings:
    return OllamaSettings(host=ollama_server.url, model=decider_model, temperature=0, seed=1, max_tokens=96)


def _is_price_call(name: str, arguments: str | dict[str, Any]) -> bool:
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    return name == "get_price" and str(args.get("ticker", "")).upper() == "NVDA"


def test_the_raw_openai_sdk_gets_the_call_as_text(settings: OllamaSettings) -> None:
    import openai

    raw = openai.OpenAI(base_url=settings.base_url, api_key="ollama")
    reply = raw.chat.completions.create(
        model=settings.model, messages=ASK, tools=[PRICE], temperature=0, seed=1, max_tokens=96
    )
    message = reply.choices[0].message
    assert not message.tool_calls, "the server must hand untagged calls over as text, as Ollama does"
    calls = parse_text_calls(message.content or "", {"get_price"})
    assert calls is not None, f"expected a JSON call in the text, got {message.content!r}"
    assert _is_price_call(calls[0]["function"]["name"], calls[0]["function"]["arguments"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_openai_client_gets_a_tool_call(settings: OllamaSettings, stream: bool) -> None:
    client = integrations.openai_client(settings=settings)
    if not stream:
        reply = client.chat.completions.create(model=settings.model, messages=ASK, tools=[PRICE])  # type: ignore[list-item]
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert not choice.message.content
        call = (choice.message.tool_calls or [])[0]
        assert _is_price_call(call.function.name, call.function.arguments)  # type: ignore[union-attr]
        return
    calls: dict[int, Any] = {}
    text, finish = "", None
    for chunk in client.chat.completions.create(model=settings.model, messages=ASK, tools=[PRICE], stream=True):  # type: ignore[list-item]
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or ():
                calls[call.index] = call.function
    assert finish == "tool_calls" and not text
    assert _is_price_call(calls[0].name, calls[0].arguments)


def test_async_openai_client_gets_a_tool_call(settings: OllamaSettings) -> None:
    async def ask() -> Any:
        client = integrations.async_openai_client(settings=settings)
        return await client.chat.completions.create(model=settings.model, messages=ASK, tools=[PRICE])  # type: ignore[list-item]

    call = (asyncio.run(ask()).choices[0].message.tool_calls or [])[0]
    assert _is_price_call(call.function.name, call.function.arguments)  # type: ignore[union-attr]


def test_chat_openai_with_bind_tools_gets_a_tool_call(settings: OllamaSettings) -> None:
    reply = integrations.chat_openai(settings=settings).bind_tools([PRICE]).invoke(QUESTION)
    assert [c["name"] for c in reply.tool_calls] == ["get_price"]
    assert _is_price_call(reply.tool_calls[0]["name"], reply.tool_calls[0]["args"])


def test_chat_openai_streaming_gets_a_tool_call(settings: OllamaSettings) -> None:
    merged: Any = None
    for part in integrations.chat_openai(settings=settings).bind_tools([PRICE]).stream(QUESTION):
        merged = part if merged is None else merged + part
    assert [c["name"] for c in merged.tool_calls] == ["get_price"]


def test_agentchat_model_client_gets_a_function_call(settings: OllamaSettings) -> None:
    from autogen_core import FunctionCall
    from autogen_core.models import UserMessage
    from autogen_core.tools import FunctionTool

    def get_price(ticker: str) -> str:
        """The latest price of a stock."""
        return "1.0"

    client = integrations.model_client(settings=settings)
    tool = FunctionTool(get_price, description="The latest price of a stock.")
    result = asyncio.run(client.create([UserMessage(content=QUESTION, source="user")], tools=[tool]))
    assert result.finish_reason == "function_calls"
    assert isinstance(result.content, list) and isinstance(result.content[0], FunctionCall)
    assert _is_price_call(result.content[0].name, result.content[0].arguments)


def test_ag2_llm_config_gets_a_tool_call(settings: OllamaSettings) -> None:
    from autogen import ConversableAgent

    config = integrations.llm_config(settings=settings, tools=[PRICE])
    agent = ConversableAgent("assistant", system_message="You are a helpful assistant.", llm_config=config)
    reply = agent.generate_reply(messages=ASK)
    assert isinstance(reply, dict) and reply.get("tool_calls"), f"expected a tool call, got {reply!r}"
    function = reply["tool_calls"][0]["function"]
    assert _is_price_call(function["name"], function["arguments"])


def test_a_call_to_a_tool_that_was_not_offered_stays_text(settings: OllamaSettings) -> None:
    client = integrations.openai_client(settings=settings)
    ask: Any = [
        {"role": "user", "content": QUESTION + ' Answer with {"name": "get_price", "arguments": {"ticker": ...}}.'}
    ]
    reply = client.chat.completions.create(model=settings.model, messages=ask, tools=[NEWS])  # type: ignore[list-item]
    message = reply.choices[0].message
    assert not message.tool_calls
    assert parse_text_calls(message.content or "", {"get_price"}) is not None, message.content


def test_repair_can_be_switched_off(settings: OllamaSettings) -> None:
    client = integrations.openai_client(settings=settings.merged(repair_tool_calls=False))
    reply = client.chat.completions.create(model=settings.model, messages=ASK, tools=[PRICE])  # type: ignore[list-item]
    assert not reply.choices[0].message.tool_calls
    assert parse_text_calls(reply.choices[0].message.content or "", {"get_price"}) is not None


def test_doctor_reports_calls_that_come_back_as_text(settings: OllamaSettings) -> None:
    from integrations.doctor import probe_tools

    probe = probe_tools(settings)
    assert probe.outcome == "text", probe
