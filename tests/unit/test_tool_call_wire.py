"""The text tool-call rule in every wire format, through each format's own client: native, Responses, Messages.

The answers are written here in the shapes the embedded server (and Ollama) send; the
clients are the official ones (``ollama``, ``openai``, ``anthropic``), so what is checked
is what a framework built on them receives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from integrations._transport import (
    AsyncNativeTransport,
    AsyncOllamaTransport,
    NativeTransport,
    OllamaTransport,
    TransportOptions,
    repair_plan,
    repaired,
    repaired_async,
)

SCHEMA = {"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}
CHAT_TOOL = {"type": "function", "function": {"name": "get_price", "description": "A price.", "parameters": SCHEMA}}
RESPONSES_TOOL = {"type": "function", "name": "get_price", "description": "A price.", "parameters": SCHEMA}
MESSAGES_TOOL = {"name": "get_price", "description": "A price.", "input_schema": SCHEMA}
CALL = json.dumps({"name": "get_price", "arguments": {"ticker": "NVDA"}})
LEAD = "Here is the price of NVDA from Yahoo Finance:"
NOT_OFFERED = json.dumps({"name": "say_hello", "arguments": {}})
INVALID = json.dumps({"name": "get_price", "arguments": {"ticker": "NVDA", "shell": "rm -rf /"}})
DEEP = '{"name": "get_price", "arguments": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"

# what must come out as a call, with the content kept; and what must stay text, unchanged
CASES = {
    "bare": (CALL, ""),
    "fenced": ("```json\n" + CALL + "\n```", ""),
    "lead-in": (LEAD + "\n" + CALL, LEAD),
    "afterword": (
        LEAD + "\n```json\n" + CALL + "\n```\nThat is the latest quote.",
        LEAD + "\n\nThat is the latest quote.",
    ),
}
TEXTS = {"prose": "The price is 42.", "not-offered": NOT_OFFERED, "invalid-arguments": INVALID, "nested-5000": DEEP}


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _mock(answer: Callable[[dict[str, Any]], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: answer(json.loads(request.content)))


# native /api/chat through the ollama client


def _native_answer(text: str) -> Callable[[dict[str, Any]], httpx.Response]:
    frame = {"model": "m", "created_at": "2026-01-01T00:00:00Z"}

    def answer(body: dict[str, Any]) -> httpx.Response:
        last = {
            **frame,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "eval_count": 9,
        }
        if body.get("stream", True):
            lines = [{**frame, "message": {"role": "assistant", "content": p}, "done": False} for p in _pieces(text)]
            content = b"".join(json.dumps(line).encode() + b"\n" for line in [*lines, last])
            return httpx.Response(200, content=content, headers={"content-type": "application/x-ndjson"})
        return httpx.Response(200, json={**last, "message": {"role": "assistant", "content": text}})

    return answer


def _native(text: str, stream: bool, *, asynchronous: bool = False, tools: Any = (CHAT_TOOL,)) -> tuple[str, list[Any]]:
    import ollama

    messages = [{"role": "user", "content": "price of NVDA?"}]
    if asynchronous:
        client: Any = ollama.AsyncClient(
            host="http://o.test", transport=AsyncNativeTransport(_mock(_native_answer(text)))
        )

        async def ask() -> list[Any]:
            if not stream:
                return [await client.chat("m", messages=messages, tools=list(tools))]
            return [part async for part in await client.chat("m", messages=messages, tools=list(tools), stream=True)]

        parts = asyncio.run(ask())
    else:
        client = ollama.Client(host="http://o.test", transport=NativeTransport(_mock(_native_answer(text))))
        answer = client.chat("m", messages=messages, tools=list(tools), stream=stream)
        parts = list(answer) if stream else [answer]
    assert parts[-1].done
    content = "".join(p.message.content or "" for p in parts)
    calls = [(c.function.name, dict(c.function.arguments)) for p in parts for c in p.message.tool_calls or ()]
    return content, calls


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(CASES))
def test_native_chat_gets_the_call(case: str, stream: bool, asynchronous: bool) -> None:
    text, kept = CASES[case]
    content, calls = _native(text, stream, asynchronous=asynchronous)
    assert calls == [("get_price", {"ticker": "NVDA"})]
    assert content.strip() == kept


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(TEXTS))
def test_native_chat_keeps_text_that_is_no_call(case: str, stream: bool) -> None:
    assert _native(TEXTS[case], stream) == (TEXTS[case], [])


def test_native_chat_without_tools_is_untouched() -> None:
    assert _native(CALL, True, tools=()) == (CALL, [])


def test_native_real_calls_and_reasoning_pass_through() -> None:
    import ollama

    lines = [
        {"model": "m", "message": {"role": "assistant", "content": "", "thinking": "hmm"}, "done": False},
        {
            "model": "m",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "get_price", "arguments": {"ticker": "AMD"}}}],
            },
            "done": False,
        },
        {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    mock = httpx.MockTransport(
        lambda r: httpx.Response(200, content=body, headers={"content-type": "application/x-ndjson"})
    )
    client = ollama.Client(host="http://o.test", transport=NativeTransport(mock))
    parts = list(client.chat("m", messages=[{"role": "user", "content": "x"}], tools=[CHAT_TOOL], stream=True))
    assert [p.message.thinking for p in parts] == ["hmm", None, None]
    assert [(c.function.name, dict(c.function.arguments)) for p in parts for c in p.message.tool_calls or ()] == [
        ("get_price", {"ticker": "AMD"})
    ]


# Responses through the OpenAI SDK


def _responses_answer(text: str) -> Callable[[dict[str, Any]], httpx.Response]:
    head = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "temperature": 0,
        "top_p": 1,
        "metadata": {},
    }

    def message(content: str, status: str) -> dict[str, Any]:
        return {
            "id": "msg_1",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}],
        }

    def answer(body: dict[str, Any]) -> httpx.Response:
        usage = {
            "input_tokens": 3,
            "output_tokens": 9,
            "total_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        done = {**head, "status": "completed", "output": [message(text, "completed")], "usage": usage}
        if not body.get("stream"):
            return httpx.Response(200, json=done)
        where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        opening = message("", "in_progress")
        opening["content"] = []
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        events = [
            {"type": "response.created", "response": {**head, "status": "in_progress", "output": []}},
            {"type": "response.in_progress", "response": {**head, "status": "in_progress", "output": []}},
            {"type": "response.output_item.added", "output_index": 0, "item": opening},
            {"type": "response.content_part.added", **where, "part": part},
            *({"type": "response.output_text.delta", **where, "delta": p, "logprobs": []} for p in _pieces(text)),
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": {**part, "text": text}},
            {"type": "response.output_item.done", "output_index": 0, "item": message(text, "completed")},
            {"type": "response.completed", "response": done},
        ]
        sse = b"".join(
            f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': i})}\n\n".encode()
            for i, e in enumerate(events)
        )
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    return answer


def _responses(
    text: str, stream: bool, *, asynchronous: bool = False, repair: bool = True
) -> tuple[str, list[Any], list[int]]:
    import openai

    options = TransportOptions(repair_tool_calls=repair)
    kwargs: Any = {"model": "m", "input": "price of NVDA?", "tools": [RESPONSES_TOOL]}
    numbers: list[int] = []
    if asynchronous:
        transport: Any = AsyncOllamaTransport({}, options=options, inner=_mock(_responses_answer(text)))
        aclient = openai.AsyncOpenAI(
            base_url="http://o.test/v1", api_key="k", http_client=httpx.AsyncClient(transport=transport)
        )

        async def ask() -> Any:
            if not stream:
                return await aclient.responses.create(**kwargs)
            async with aclient.responses.stream(**kwargs) as events:
                async for event in events:
                    numbers.append(event.sequence_number)
                return await events.get_final_response()

        response = asyncio.run(ask())
    else:
        transport = OllamaTransport({}, options=options, inner=_mock(_responses_answer(text)))
        client = openai.OpenAI(base_url="http://o.test/v1", api_key="k", http_client=httpx.Client(transport=transport))
        if stream:
            with client.responses.stream(**kwargs) as events:
                numbers = [event.sequence_number for event in events]
                response = events.get_final_response()
        else:
            response = client.responses.create(**kwargs)
    calls = [(o.name, json.loads(o.arguments)) for o in response.output if o.type == "function_call"]
    return response.output_text, calls, numbers


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(CASES))
def test_responses_get_a_function_call_item(case: str, stream: bool, asynchronous: bool) -> None:
    text, kept = CASES[case]
    content, calls, numbers = _responses(text, stream, asynchronous=asynchronous)
    assert calls == [("get_price", {"ticker": "NVDA"})]
    assert content.strip() == kept
    assert numbers == list(range(len(numbers))), "sequence numbers stay consecutive"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(TEXTS))
def test_responses_keep_text_that_is_no_call(case: str, stream: bool) -> None:
    content, calls, _ = _responses(TEXTS[case], stream)
    assert (content, calls) == (TEXTS[case], [])


def test_responses_repair_can_be_switched_off() -> None:
    assert _responses(CALL, True, repair=False)[:2] == (CALL, [])


# Messages through the Anthropic SDK (which runs on httpx2)


def _messages_answer(text: str) -> Callable[[Any], Any]:
    httpx2 = pytest.importorskip("httpx2")

    def answer(request: Any) -> Any:
        body = json.loads(request.content)
        head = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_sequence": None}
        if not body.get("stream"):
            return httpx2.Response(
                200,
                json={
                    **head,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 3, "output_tokens": 9},
                },
            )
        events = [
            {
                "type": "message_start",
                "message": {
                    **head,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 3, "output_tokens": 0},
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            *(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                for p in _pieces(text)
            ),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"input_tokens": 3, "output_tokens": 9},
            },
            {"type": "message_stop"},
        ]
        sse = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
        return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    return answer


def _messages(text: str, stream: bool, *, asynchronous: bool = False) -> tuple[str, list[Any], str | None]:
    anthropic = pytest.importorskip("anthropic")
    httpx2 = pytest.importorskip("httpx2")
    mock = httpx2.MockTransport(_messages_answer(text))

    class Repairing(httpx2.BaseTransport):  # type: ignore[misc]
        def handle_request(self, request: Any) -> Any:
            plan = repair_plan(request)
            response = mock.handle_request(request)
            return repaired(httpx2, plan, response) if plan else response

    class AsyncRepairing(httpx2.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            plan = repair_plan(request)
            response = await mock.handle_async_request(request)
            return await repaired_async(httpx2, plan, response) if plan else response

    kwargs: Any = {
        "model": "m",
        "max_tokens": 64,
        "tools": [MESSAGES_TOOL],
        "messages": [{"role": "user", "content": "price of NVDA?"}],
    }
    if asynchronous:
        aclient = anthropic.AsyncAnthropic(
            base_url="http://o.test", api_key="k", http_client=httpx2.AsyncClient(transport=AsyncRepairing())
        )

        async def ask() -> Any:
            if not stream:
                return await aclient.messages.create(**kwargs)
            async with aclient.messages.stream(**kwargs) as events:
                return await events.get_final_message()

        message = asyncio.run(ask())
    else:
        client = anthropic.Anthropic(
            base_url="http://o.test", api_key="k", http_client=httpx2.Client(transport=Repairing())
        )
        if stream:
            with client.messages.stream(**kwargs) as events:
                message = events.get_final_message()
        else:
            message = client.messages.create(**kwargs)
    content = "".join(b.text for b in message.content if b.type == "text")
    calls = [(b.name, b.input) for b in message.content if b.type == "tool_use"]
    return content, calls, message.stop_reason


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(CASES))
def test_messages_get_a_tool_use_block(case: str, stream: bool, asynchronous: bool) -> None:
    text, kept = CASES[case]
    content, calls, stop = _messages(text, stream, asynchronous=asynchronous)
    assert calls == [("get_price", {"ticker": "NVDA"})]
    assert content.strip() == kept
    assert stop == "tool_use"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", list(TEXTS))
def test_messages_keep_text_that_is_no_call(case: str, stream: bool) -> None:
    assert _messages(TEXTS[case], stream) == (TEXTS[case], [], "end_turn")


# chat completions: arguments nested 5,000 deep come back as text, never as an exception


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_chat_completions_nested_5000_deep_stay_text(stream: bool) -> None:
    import openai

    def answer(body: dict[str, Any]) -> httpx.Response:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        if body.get("stream"):
            events = [
                {**chunk, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                for p in _pieces(DEEP, 500)
            ]
            events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            sse = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
            return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": DEEP}}],
            },
        )

    transport = OllamaTransport({}, inner=_mock(answer))
    client = openai.OpenAI(
        base_url="http://o.test/v1", api_key="k", max_retries=0, http_client=httpx.Client(transport=transport)
    )
    ask: Any = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [CHAT_TOOL]}
    if stream:
        text = "".join(
            c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **ask) if c.choices
        )
    else:
        text = client.chat.completions.create(**ask).choices[0].message.content or ""
    assert text == DEEP


# the factories hand these transports to the clients they build


def test_the_native_factories_carry_the_repairing_transport() -> None:
    from integrations.agent_framework import chat_client
    from integrations.langchain import chat_ollama
    from integrations.llamaindex import llm

    chat = chat_ollama("m", check=False)
    assert isinstance(chat._client._client._transport, NativeTransport)
    assert isinstance(chat._async_client._client._transport, AsyncNativeTransport)
    index = llm("m", check=False)
    assert isinstance(index.client._client._transport, NativeTransport)
    assert isinstance(index.async_client._client._transport, AsyncNativeTransport)
    assert isinstance(chat_client("m", check=False).client._client._transport, AsyncNativeTransport)
    off = chat_ollama("m", check=False, repair_tool_calls=False)
    assert not isinstance(off._client._client._transport, NativeTransport)
    assert not isinstance(llm("m", check=False, repair_tool_calls=False).client._client._transport, NativeTransport)


def test_the_anthropic_factory_repairs_and_can_be_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anthropic")
    httpx2 = pytest.importorskip("httpx2")
    from integrations.anthropic import anthropic_client

    answer = _messages_answer(CALL)
    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", lambda self, request: answer(request))  # the server

    def content(repair: bool) -> list[Any]:
        client = anthropic_client("m", check=False, repair_tool_calls=repair, max_retries=0)
        message = client.messages.create(
            model="m", max_tokens=9, tools=[MESSAGES_TOOL], messages=[{"role": "user", "content": "x"}]
        )
        return [block.type for block in message.content]

    assert content(True) == ["tool_use"]
    assert content(False) == ["text"]
