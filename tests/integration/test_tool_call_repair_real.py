"""A model that writes its tool call as JSON text: Ollama hands it over as content, the factories' clients as a call.

qwen2.5-coder:0.5b skips its template's ``<tool_call>`` tag and answers with the bare
or fenced JSON call. The embedded server, like Ollama, extracts calls only from the
tag, so the raw clients (OpenAI SDK, ``ChatOllama``, LlamaIndex's ``Ollama``, Agent
Framework's ``OllamaChatClient``, the Responses and Messages APIs) receive text; every
factory-built client receives the call, in its own wire format.
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


# native /api/chat clients, Responses and Messages

NVDA = "What is the price of NVDA?"
RESPONSES_PRICE: Any = {"type": "function", **PRICE["function"]}
MESSAGES_PRICE: Any = {
    "name": "get_price",
    "description": PRICE["function"]["description"],
    "input_schema": PRICE["function"]["parameters"],
}
MESSAGES_NEWS: Any = {
    "name": "get_news",
    "description": NEWS["function"]["description"],
    "input_schema": NEWS["function"]["parameters"],
}
UNOFFERED = NVDA + ' Answer only with {"name": "get_price", "arguments": {"ticker": "NVDA"}}.'


def get_price(ticker: str) -> str:
    """The latest price of a stock."""
    return "1.0"


def test_chat_ollama_with_bind_tools_gets_a_tool_call(settings: OllamaSettings) -> None:
    from langchain_ollama import ChatOllama

    from integrations.langchain import chat_ollama

    raw = ChatOllama(model=settings.model, base_url=settings.host, temperature=0, seed=1, num_predict=96)
    text = raw.bind_tools([PRICE]).invoke(NVDA)
    assert not text.tool_calls and parse_text_calls(str(text.content), {"get_price"}), text
    reply = chat_ollama(settings=settings).bind_tools([PRICE]).invoke(NVDA)
    assert [c["name"] for c in reply.tool_calls] == ["get_price"] and not reply.content
    assert _is_price_call(reply.tool_calls[0]["name"], reply.tool_calls[0]["args"])


def test_chat_ollama_streaming_and_async_get_a_tool_call(settings: OllamaSettings) -> None:
    from integrations.langchain import chat_ollama

    model = chat_ollama(settings=settings).bind_tools([PRICE])
    merged: Any = None
    for part in model.stream(NVDA):
        merged = part if merged is None else merged + part
    assert [c["name"] for c in merged.tool_calls] == ["get_price"]
    reply = asyncio.run(model.ainvoke(NVDA))
    assert _is_price_call(reply.tool_calls[0]["name"], reply.tool_calls[0]["args"])


def test_chat_ollama_keeps_a_call_to_a_tool_that_was_not_offered_as_text(settings: OllamaSettings) -> None:
    from integrations.langchain import chat_ollama

    reply = chat_ollama(settings=settings).bind_tools([NEWS]).invoke(UNOFFERED)
    assert not reply.tool_calls
    assert parse_text_calls(str(reply.content), {"get_price"}) is not None, reply.content


def test_llamaindex_llm_gets_a_tool_call(settings: OllamaSettings) -> None:
    from llama_index.core.tools import FunctionTool
    from llama_index.llms.ollama import Ollama

    from integrations.llamaindex import llm

    tool = FunctionTool.from_defaults(get_price)
    raw = Ollama(
        model=settings.model,
        base_url=settings.host,
        temperature=0,
        request_timeout=600,
        additional_kwargs={"seed": 1, "num_predict": 96},
    )
    text = raw.chat_with_tools([tool], user_msg=NVDA)
    assert not raw.get_tool_calls_from_response(text, error_on_no_tool_call=False), text
    built = llm(settings=settings)
    selections = built.get_tool_calls_from_response(built.chat_with_tools([tool], user_msg=NVDA))
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [("get_price", {"ticker": "NVDA"})]


def test_agent_framework_chat_client_calls_the_tool(settings: OllamaSettings) -> None:
    import ollama
    from agent_framework_ollama import OllamaChatClient

    from integrations.agent_framework import chat_client

    calls: list[str] = []

    def price(ticker: str) -> str:
        """The latest price of a stock."""
        calls.append(ticker)
        return "1.0"

    raw = OllamaChatClient(client=ollama.AsyncClient(host=settings.host), model_id=settings.model)
    options: Any = {"temperature": 0, "seed": 1, "max_tokens": 96}
    asyncio.run(raw.as_agent(tools=[price], default_options=options).run(NVDA))
    assert calls == [], "the raw client sees the call as text"
    asyncio.run(chat_client(settings=settings).as_agent(tools=[price]).run(NVDA))
    assert [t.upper() for t in calls[:1]] == ["NVDA"]


@pytest.mark.parametrize("mode", ["whole", "stream", "async"])
def test_openai_client_responses_get_a_function_call(settings: OllamaSettings, mode: str) -> None:
    ask: Any = {
        "model": settings.model,
        "input": NVDA,
        "tools": [RESPONSES_PRICE],
        "temperature": 0,
        "max_output_tokens": 96,
    }
    if mode == "whole":
        response = integrations.openai_client(settings=settings).responses.create(**ask)
    elif mode == "stream":
        with integrations.openai_client(settings=settings).responses.stream(**ask) as events:
            response = events.get_final_response()
    else:
        response = asyncio.run(integrations.async_openai_client(settings=settings).responses.create(**ask))
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1, response.output
    assert _is_price_call(calls[0].name, calls[0].arguments)


def test_raw_responses_get_text_and_an_unoffered_name_stays_text(settings: OllamaSettings) -> None:
    import openai

    ask: Any = {"model": settings.model, "tools": [RESPONSES_PRICE], "temperature": 0, "max_output_tokens": 96}
    raw = openai.OpenAI(base_url=settings.base_url, api_key="ollama").responses.create(input=NVDA, **ask)
    assert not [item for item in raw.output if item.type == "function_call"]
    assert "get_price" in raw.output_text
    news: Any = {"type": "function", **NEWS["function"]}
    response = integrations.openai_client(settings=settings).responses.create(
        **{**ask, "input": UNOFFERED, "tools": [news]}
    )
    assert not [item for item in response.output if item.type == "function_call"]
    assert "get_price" in response.output_text


@pytest.mark.parametrize("mode", ["whole", "stream", "async"])
def test_anthropic_client_messages_get_a_tool_use_block(settings: OllamaSettings, mode: str) -> None:
    from integrations.anthropic import anthropic_client, async_anthropic_client

    ask: Any = {
        "model": settings.model,
        "max_tokens": 96,
        "messages": [{"role": "user", "content": NVDA}],
        "tools": [MESSAGES_PRICE],
        "extra_body": {"temperature": 0},
    }
    if mode == "whole":
        message = anthropic_client(settings=settings).messages.create(**ask)
    elif mode == "stream":
        with anthropic_client(settings=settings).messages.stream(**ask) as events:
            message = events.get_final_message()
    else:
        message = asyncio.run(async_anthropic_client(settings=settings).messages.create(**ask))
    uses = [block for block in message.content if block.type == "tool_use"]
    assert message.stop_reason == "tool_use" and len(uses) == 1, message.content
    assert _is_price_call(uses[0].name, uses[0].input)


def test_raw_messages_get_text_and_an_unoffered_name_stays_text(settings: OllamaSettings) -> None:
    import anthropic

    from integrations.anthropic import anthropic_client

    ask: Any = {"model": settings.model, "max_tokens": 96, "extra_body": {"temperature": 0}}
    user: Any = [{"role": "user", "content": NVDA}]
    raw = anthropic.Anthropic(base_url=settings.host, api_key="ollama").messages.create(
        messages=user, tools=[MESSAGES_PRICE], **ask
    )
    assert raw.stop_reason != "tool_use" and all(block.type == "text" for block in raw.content)
    message = anthropic_client(settings=settings).messages.create(
        messages=[{"role": "user", "content": UNOFFERED}], tools=[MESSAGES_NEWS], **ask
    )
    assert message.stop_reason != "tool_use" and all(block.type == "text" for block in message.content)


def test_ag2_native_entries_get_a_tool_call_through_manual_tool_calling(settings: OllamaSettings) -> None:
    from autogen import ConversableAgent

    config = {"config_list": integrations.native_config_list(settings=settings), "tools": [PRICE], "cache_seed": None}
    assert config["config_list"][0]["native_tool_calls"] is False
    agent = ConversableAgent("assistant", system_message="You are a helpful assistant.", llm_config=config)
    reply = agent.generate_reply(messages=[{"role": "user", "content": NVDA}])
    assert isinstance(reply, dict) and reply.get("tool_calls"), f"expected a tool call, got {reply!r}"
    function = reply["tool_calls"][0]["function"]
    assert _is_price_call(function["name"], function["arguments"])
