"""Every framework factory makes real calls on the embedded server: chat, stream, embeddings, a tool round trip.

Chats and streams use the session's small model with a few tokens. Tool round trips
are plumbing tests on that model: the server's forced-call rule makes it call the
offered tool, so they show the call and its result travelling through each
framework's wire format, not the model's judgement. The ``decider`` test runs on a
model that decides: qwen2.5-coder:0.5b writes its call as bare JSON text rather than
inside its template's ``<tool_call>`` tag, so only clients on our ``/v1`` transport
(which repairs such calls) see a tool call from it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from integrations.settings import OllamaSettings

SHORT = 8
QUESTION = "What is 17 times 23? Call the multiply tool."
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return int(a) * int(b)


@pytest.fixture
def short(ollama_settings: OllamaSettings) -> OllamaSettings:
    return ollama_settings.merged(max_tokens=SHORT, temperature=0.0)


@pytest.fixture
def plumbing(ollama_settings: OllamaSettings) -> OllamaSettings:
    return ollama_settings.merged(max_tokens=16, temperature=0.0)


@pytest.fixture
def decider(ollama_settings: OllamaSettings, decider_model: str) -> OllamaSettings:
    return ollama_settings.merged(model=decider_model, temperature=0.0, max_tokens=64)


def _product(args: Any) -> str:
    args = json.loads(args) if isinstance(args, str) else args
    return str(multiply(args["a"], args["b"]))


# OpenAI Responses API and Anthropic Messages API, through our clients


def test_openai_responses_create_and_stream(short: OllamaSettings) -> None:
    from integrations.openai import openai_client

    client = openai_client(settings=short)
    response = client.responses.create(model=short.model, input="Name one colour.", max_output_tokens=SHORT)
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    with client.responses.stream(model=short.model, input="Name one colour.", max_output_tokens=SHORT) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text


def test_openai_responses_refuses_previous_response_id(short: OllamaSettings) -> None:
    import openai

    from integrations.openai import openai_client

    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        openai_client(settings=short).responses.create(model=short.model, input="hi", previous_response_id="resp_1")


def test_anthropic_messages_create_and_stream(short: OllamaSettings) -> None:
    from integrations.anthropic import anthropic_client

    client = anthropic_client(settings=short)
    ask = [{"role": "user", "content": "Name one colour."}]
    message = client.messages.create(model=short.model, max_tokens=SHORT, messages=ask)  # type: ignore[arg-type]
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.output_tokens > 0 and message.stop_reason in ("end_turn", "max_tokens")
    with client.messages.stream(model=short.model, max_tokens=SHORT, messages=ask) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.usage.output_tokens > 0


def test_async_anthropic_client(short: OllamaSettings) -> None:
    from integrations.anthropic import async_anthropic_client

    client = async_anthropic_client(settings=short)
    ask = [{"role": "user", "content": "Name one colour."}]
    message = asyncio.run(client.messages.create(model=short.model, max_tokens=SHORT, messages=ask))  # type: ignore[arg-type]
    assert message.content and message.usage.output_tokens > 0


def test_anthropic_unknown_model_is_anthropics_not_found(short: OllamaSettings) -> None:
    import anthropic

    from integrations.anthropic import anthropic_client

    client = anthropic_client(settings=short)
    with pytest.raises(anthropic.NotFoundError, match="not found"):
        client.messages.create(model="no-such-model", max_tokens=4, messages=[{"role": "user", "content": "hi"}])


@pytest.mark.plumbing
def test_openai_responses_tool_round_trip(plumbing: OllamaSettings) -> None:
    from integrations.openai import openai_client

    client = openai_client(settings=plumbing)
    tools: Any = [{"type": "function", "name": "multiply", "description": "Multiply two integers.",
                   "parameters": SCHEMA}]
    first = client.responses.create(model=plumbing.model, input=QUESTION, tools=tools)
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "multiply"
    items: Any = [{"role": "user", "content": QUESTION},
                  {"type": "function_call", "call_id": calls[0].call_id, "name": "multiply",
                   "arguments": calls[0].arguments},
                  {"type": "function_call_output", "call_id": calls[0].call_id, "output": _product(calls[0].arguments)}]
    second = client.responses.create(model=plumbing.model, input=items, tools=tools)
    assert second.output_text and not [item for item in second.output if item.type == "function_call"]


@pytest.mark.plumbing
def test_anthropic_tool_round_trip_streamed(plumbing: OllamaSettings) -> None:
    from integrations.anthropic import anthropic_client

    client = anthropic_client(settings=plumbing)
    tools: Any = [{"name": "multiply", "description": "Multiply two integers.", "input_schema": SCHEMA}]
    ask: Any = [{"role": "user", "content": QUESTION}]
    with client.messages.stream(model=plumbing.model, max_tokens=16, messages=ask, tools=tools) as stream:
        first = stream.get_final_message()
    uses = [block for block in first.content if block.type == "tool_use"]
    assert first.stop_reason == "tool_use" and uses[0].name == "multiply"
    ask += [{"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                          "content": _product(uses[0].input)}]}]
    second = client.messages.create(model=plumbing.model, max_tokens=16, messages=ask, tools=tools)
    text = "".join(block.text for block in second.content if block.type == "text")
    assert text and second.stop_reason in ("end_turn", "max_tokens")


# LangChain (langchain-ollama)


def test_chat_ollama_invoke_and_stream(short: OllamaSettings) -> None:
    from integrations.langchain import chat_ollama

    llm = chat_ollama(settings=short)
    assert llm.invoke("Name one colour.").content
    assert "".join(str(chunk.content) for chunk in llm.stream("Name one colour."))


def test_ollama_embeddings(short: OllamaSettings) -> None:
    from integrations.langchain import ollama_embeddings

    vectors = ollama_embeddings(settings=short).embed_documents(["red", "blue"])
    assert len(vectors) == 2 and len(vectors[0]) > 16


@pytest.mark.plumbing
def test_chat_ollama_tool_round_trip(plumbing: OllamaSettings) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from integrations.langchain import chat_ollama

    llm = chat_ollama(settings=plumbing).bind_tools([tool(multiply)])
    messages: list[Any] = [HumanMessage(QUESTION)]
    reply = llm.invoke(messages)
    assert reply.tool_calls and reply.tool_calls[0]["name"] == "multiply"
    product = _product(reply.tool_calls[0]["args"])
    messages += [reply, ToolMessage(product, tool_call_id=reply.tool_calls[0]["id"])]
    final = llm.invoke(messages)
    assert final.content and not final.tool_calls


# Pydantic AI


def test_pydantic_ai_run_and_stream(short: OllamaSettings) -> None:
    from pydantic_ai import Agent

    from integrations.pydantic_ai import model

    agent = Agent(model(settings=short))
    result = agent.run_sync("Name one colour.")
    assert result.output and result.usage.output_tokens > 0

    async def streamed() -> str:
        async with agent.run_stream("Name one colour.") as run:
            return "".join([piece async for piece in run.stream_text(delta=True)])

    assert asyncio.run(streamed())


@pytest.mark.plumbing
def test_pydantic_ai_tool_round_trip(plumbing: OllamaSettings) -> None:
    from pydantic_ai import Agent

    from integrations.pydantic_ai import model

    calls: list[tuple[int, int]] = []

    def multiply_tool(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    result = Agent(model(settings=plumbing), tools=[multiply_tool]).run_sync(QUESTION)
    assert calls and result.output


# CrewAI


def test_crewai_llm_call(short: OllamaSettings) -> None:
    from integrations.crewai import llm

    assert llm(settings=short).call("Name one colour.")


def test_crewai_embedder_embeds(short: OllamaSettings) -> None:
    from crewai.rag.embeddings.factory import build_embedder

    from integrations.crewai import embedder

    vectors = build_embedder(embedder(settings=short))(["red"])  # type: ignore[arg-type]
    assert len(vectors) == 1 and len(vectors[0]) > 16


@pytest.mark.decider
def test_crewai_llm_tool_call(decider: OllamaSettings) -> None:
    from integrations.crewai import llm

    tools = [{"type": "function", "function": {"name": "multiply", "description": "Multiply two integers.",
                                               "parameters": SCHEMA}}]
    calls: list[tuple[int, int]] = []

    def record(a: int, b: int) -> int:
        calls.append((a, b))
        return a * b

    result = llm(settings=decider).call(QUESTION, tools=tools, available_functions={"multiply": record})
    # CrewAI returns the tool's own return value, so the arguments the model chose are checked themselves
    assert calls in ([(17, 23)], [(23, 17)]), calls
    assert str(result) == "391"


# LlamaIndex


def test_llamaindex_chat_stream_and_embed(short: OllamaSettings) -> None:
    from llama_index.core.llms import ChatMessage

    from integrations.llamaindex import embed_model, llm

    model = llm(settings=short)
    assert model.chat([ChatMessage(role="user", content="Name one colour.")]).message.content
    assert "".join(chunk.delta or "" for chunk in model.stream_complete("Name one colour."))
    assert len(embed_model(settings=short).get_text_embedding("red")) > 16


@pytest.mark.plumbing
def test_llamaindex_tool_round_trip(plumbing: OllamaSettings) -> None:
    from llama_index.core.tools import FunctionTool

    from integrations.llamaindex import llm

    response = llm(settings=plumbing).predict_and_call([FunctionTool.from_defaults(multiply)], QUESTION)
    assert response.sources and response.sources[0].tool_name == "multiply"
    assert str(response) == str(response.sources[0].raw_output)


# smolagents


def test_smolagents_generate_and_stream(short: OllamaSettings) -> None:
    from integrations.smolagents import model

    built = model(settings=short)
    ask = [{"role": "user", "content": [{"type": "text", "text": "Name one colour."}]}]
    assert built.generate(ask).content
    assert "".join(delta.content or "" for delta in built.generate_stream(ask))


@pytest.mark.plumbing
def test_smolagents_tool_call(plumbing: OllamaSettings) -> None:
    from smolagents import tool

    from integrations.smolagents import model

    @tool
    def multiply_tool(a: int, b: int) -> int:
        """Multiply two integers.

        Args:
            a: first factor
            b: second factor
        """
        return a * b

    ask = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    message = model(settings=plumbing).generate(ask, tools_to_call_from=[multiply_tool])
    assert message.tool_calls and message.tool_calls[0].function.name == "multiply_tool"


# Microsoft Agent Framework


def test_agent_framework_response_and_stream(short: OllamaSettings) -> None:
    from agent_framework import Message

    from integrations.agent_framework import chat_client

    client = chat_client(settings=short)
    ask = [Message("user", text="Name one colour.")]

    async def both() -> tuple[str, str]:
        response = await client.get_response(ask)
        pieces = [update.text async for update in client.get_response(ask, stream=True)]
        return response.text, "".join(pieces)

    whole, streamed = asyncio.run(both())
    assert whole and streamed


@pytest.mark.plumbing
def test_agent_framework_tool_round_trip(plumbing: OllamaSettings) -> None:
    from integrations.agent_framework import chat_client

    calls: list[tuple[int, int]] = []

    def multiply_tool(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    agent = chat_client(settings=plumbing).as_agent(tools=[multiply_tool])
    result = asyncio.run(agent.run(QUESTION))
    assert calls and result.text


# DSPy


def test_dspy_lm(short: OllamaSettings) -> None:
    from integrations.dspy import lm

    answers = lm(settings=short, cache=False)("Name one colour.")
    assert answers and answers[0]
