"""Tool calls written as text become tool calls; everything else stays text, byte for byte."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from integrations._toolcalls import (
    LEAD_IN_MAX,
    MAX_DEPTH,
    CallWatch,
    Offered,
    offered_tools,
    parse_text_calls,
    split_text_calls,
    still_possible,
    validates,
)
from integrations._toolwire import StreamRepair, repair_completion
from integrations._transport import AsyncOllamaTransport, OllamaTransport, TransportOptions

OFFERED = {"get_price", "get_news"}
CALL = {"name": "get_price", "arguments": {"ticker": "NVDA"}}
TOOLS = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in sorted(OFFERED)]


def _arguments(calls: list[dict[str, Any]] | None) -> list[tuple[str, dict[str, Any]]]:
    assert calls is not None
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(CALL),
        "  \n" + json.dumps(CALL) + "\n\n",
        "```json\n" + json.dumps(CALL, indent=2) + "\n```",
        "```\n" + json.dumps(CALL) + "\n```",
        "```JSON\n" + json.dumps(CALL) + "\n```\n",
        json.dumps({"name": "get_price", "arguments": json.dumps({"ticker": "NVDA"})}),
    ],
    ids=["bare", "padded", "fenced", "fenced-no-language", "fenced-upper", "arguments-as-string"],
)
def test_one_call_in_every_accepted_shape(text: str) -> None:
    calls = parse_text_calls(text, OFFERED)
    assert _arguments(calls) == [("get_price", {"ticker": "NVDA"})]
    assert calls is not None
    assert calls[0]["type"] == "function"
    assert calls[0]["id"].startswith("call_") and len(calls[0]["id"]) == len("call_") + 8


def test_an_array_becomes_several_calls_with_distinct_ids() -> None:
    text = json.dumps([CALL, {"name": "get_news", "arguments": {"topic": "chips"}}])
    calls = parse_text_calls(text, OFFERED)
    assert _arguments(calls) == [("get_price", {"ticker": "NVDA"}), ("get_news", {"topic": "chips"})]
    assert calls is not None and calls[0]["id"] != calls[1]["id"]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"name": "say_hello", "arguments": {}}),
        json.dumps([CALL, {"name": "say_hello", "arguments": {}}]),
        '{"name": "get_price", "arguments": {"ticker": "NVDA"}',
        "Sure! " + json.dumps(CALL),
        json.dumps(CALL) + " I called the tool.",
        "```json\n" + json.dumps(CALL) + "\n```\nThat is the call.",
        "```python\n" + json.dumps(CALL) + "\n```",
        "```json\n" + json.dumps(CALL) + "\n```\n```json\n" + json.dumps(CALL) + "\n```",
        json.dumps({"name": "get_price", "arguments": ["NVDA"]}),
        json.dumps({"name": "get_price", "arguments": "not json"}),
        json.dumps({"name": "get_price"}),
        json.dumps([]),
        json.dumps(["get_price"]),
        json.dumps({"answer": 42}),
        "The price is 42.",
        "",
    ],
    ids=[
        "name-not-offered",
        "one-name-not-offered",
        "invalid-json",
        "prose-before",
        "prose-after",
        "prose-after-fence",
        "other-fence-language",
        "two-fences",
        "arguments-a-list",
        "arguments-string-not-json",
        "arguments-missing",
        "empty-array",
        "array-of-strings",
        "json-answer",
        "prose",
        "empty",
    ],
)
def test_anything_else_is_not_a_call(text: str) -> None:
    assert parse_text_calls(text, OFFERED) is None


def test_nothing_is_a_call_when_no_tools_were_offered() -> None:
    assert parse_text_calls(json.dumps(CALL), set()) is None


def _completion(content: str, tool_calls: list[Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
    }


def test_a_completion_is_repaired_in_place() -> None:
    completion = _completion("```json\n" + json.dumps(CALL) + "\n```")
    assert repair_completion(completion, OFFERED)
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == ""
    assert _arguments(choice["message"]["tool_calls"]) == [("get_price", {"ticker": "NVDA"})]


def test_a_completion_with_real_calls_is_left_alone() -> None:
    real = [{"id": "call_1", "type": "function", "function": {"name": "get_news", "arguments": "{}"}}]
    completion = _completion(json.dumps(CALL), real)
    assert not repair_completion(completion, OFFERED)
    assert completion["choices"][0]["message"]["tool_calls"] == real


# streams


def _chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE = {
    "id": "chatcmpl-9",
    "object": "chat.completion.chunk",
    "created": 7,
    "model": "m",
    "choices": [],
    "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream(pieces: list[str]) -> list[dict[str, Any]]:
    chunks = [_chunk(pieces[0], role="assistant")] + [_chunk(p) for p in pieces[1:]]
    return [*chunks, _chunk("", "stop"), USAGE]


def _run(repair: StreamRepair, chunks: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    """Feed chunks one by one; record, per chunk fed, what came out."""
    out = [(index, list(repair.feed(chunk))) for index, chunk in enumerate(chunks)]
    out.append((len(chunks), list(repair.close())))
    return out


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_a_streamed_call_split_across_chunks_becomes_tool_call_deltas(size: int) -> None:
    text = "```json\n" + json.dumps(CALL) + "\n```"
    sent = [chunk for _, out in _run(StreamRepair(OFFERED), _stream(_pieces(text, size))) for chunk in out]
    deltas = [c["choices"][0] for c in sent if c["choices"]]
    assert not any(d["delta"].get("content") for d in deltas), "the call's text must not leak as content"
    calls = [call for d in deltas for call in d["delta"].get("tool_calls") or ()]
    assert [(c["index"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        (0, "get_price", {"ticker": "NVDA"})
    ]
    assert calls[0]["id"].startswith("call_")
    assert deltas[-1]["finish_reason"] == "tool_calls"
    assert sent[-1]["usage"]["total_tokens"] == 12
    assert all(c["id"] == "chatcmpl-9" and c["model"] == "m" for c in sent)


def test_prose_streams_as_it_comes() -> None:
    chunks = _stream(["The ", "price ", "is ", "up."])
    out = _run(StreamRepair(OFFERED), chunks)
    assert [sent for _, sent in out[:-1]] == [[chunk] for chunk in chunks], "every chunk goes out when it arrives"


def test_leading_blanks_wait_only_for_the_first_character() -> None:
    chunks = _stream(["\n", " ", "Hello", " there"])
    out = _run(StreamRepair(OFFERED), chunks)
    assert out[0][1] == [] and out[1][1] == []
    assert out[2][1] == chunks[:3]
    assert out[3][1] == [chunks[3]]


def test_json_followed_by_prose_is_released_when_the_prose_arrives() -> None:
    chunks = _stream([json.dumps(CALL), " is what I would call.", " Done."])
    out = _run(StreamRepair(OFFERED), chunks)
    assert out[0][1] == []
    assert out[1][1] == chunks[:2]
    assert out[2][1] == [chunks[2]]
    assert [c for _, sent in out for c in sent] == chunks


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"name": "say_hello", "arguments": {}}),
        '{"name": "get_price", "arguments": {',
        "```python\nprint(1)\n```",
    ],
    ids=["not-offered", "cut-off-json", "python-fence"],
)
def test_a_held_stream_that_is_no_call_goes_out_unchanged(text: str) -> None:
    chunks = _stream(_pieces(text, 4))
    sent = [c for _, out in _run(StreamRepair(OFFERED), chunks) for c in out]
    assert sent == chunks


def test_a_stream_with_real_tool_calls_passes_through() -> None:
    real = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_news", "arguments": "{}"}}]
    chunks = [_chunk("", role="assistant"), _chunk(None, tool_calls=real), _chunk("", "tool_calls"), USAGE]
    sent = [c for _, out in _run(StreamRepair(OFFERED), chunks) for c in out]
    assert sent == chunks


@pytest.mark.parametrize(
    ("text", "possible"),
    [
        ("", True),
        ("  ", True),
        ("{", True),
        ('[{"name": "a", "arguments": {"x": "}"}}', True),
        ('{"a": "}"} ', True),
        ('{"a": 1} x', False),
        ("`", True),
        ("``", True),
        ("```js", True),
        ("```jsox", False),
        ("```json\n{", True),
        ("```json\n{}\n```", True),
        ("```json\n{}\n```\nmore", False),
        ("Hello", False),
    ],
)
def test_still_possible(text: str, possible: bool) -> None:
    assert still_possible(text) is possible


# through the transports, sync and async, streaming and not


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _server(answer: Callable[[dict[str, Any]], httpx.Response]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not here"})
        return answer(json.loads(request.content))

    return httpx.MockTransport(handle)


def _ask(stream: bool, tools: list[dict[str, Any]] | None, options: TransportOptions, content: str) -> dict[str, Any]:
    """One chat completion through our transport and the OpenAI SDK; returns the message and finish reason."""
    import openai

    def answer(body: dict[str, Any]) -> httpx.Response:
        if body.get("stream"):
            chunks = _stream(_pieces(content, 5))
            return httpx.Response(200, content=_sse(chunks), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=_completion(content))

    transport = OllamaTransport({}, options=options, inner=_server(answer))
    client = openai.OpenAI(base_url="http://ollama.test/v1", api_key="k", http_client=httpx.Client(transport=transport))
    extra: dict[str, Any] = {"tools": tools} if tools else {}
    messages: Any = [{"role": "user", "content": "price of NVDA?"}]
    if not stream:
        choice = client.chat.completions.create(model="m", messages=messages, **extra).choices[0]
        calls = [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or ()]
        return {"content": choice.message.content, "calls": calls, "finish": choice.finish_reason}
    text, finish, calls = "", None, {}
    for chunk in client.chat.completions.create(model="m", messages=messages, stream=True, **extra):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or ():
                calls[call.index] = (call.function.name, json.loads(call.function.arguments))
    return {"content": text, "calls": list(calls.values()), "finish": finish}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_transport_repairs_for_the_openai_sdk(stream: bool) -> None:
    got = _ask(stream, TOOLS, TransportOptions(), "```json\n" + json.dumps(CALL) + "\n```")
    assert got["calls"] == [("get_price", {"ticker": "NVDA"})]
    assert got["finish"] == "tool_calls"
    assert not got["content"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("tools", "options"),
    [(TOOLS, TransportOptions(repair_tool_calls=False)), (None, TransportOptions())],
    ids=["switched-off", "no-tools-offered"],
)
def test_the_transport_leaves_text_alone_when_off_or_without_tools(
    stream: bool, tools: list[dict[str, Any]] | None, options: TransportOptions
) -> None:
    text = json.dumps(CALL)
    got = _ask(stream, tools, options, text)
    assert got == {"content": text, "calls": [], "finish": "stop"}


def test_tool_choice_none_means_no_repair_either() -> None:
    import openai

    seen: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> httpx.Response:
        seen.append(body)
        return httpx.Response(200, json=_completion(json.dumps(CALL)))

    transport = OllamaTransport({}, inner=_server(answer))
    client = openai.OpenAI(base_url="http://o.test/v1", api_key="k", http_client=httpx.Client(transport=transport))
    reply = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "x"}],
        tools=TOOLS,
        tool_choice="none",  # type: ignore[arg-type]
    )
    assert "tools" not in seen[0]
    assert reply.choices[0].message.content == json.dumps(CALL)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_async_transport_repairs_too(stream: bool) -> None:
    import openai

    content = json.dumps([CALL, {"name": "get_news", "arguments": {"topic": "x"}}])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not here"})
        if json.loads(request.content).get("stream"):
            body = _sse(_stream(_pieces(content, 3)))
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=_completion(content))

    async def ask() -> list[tuple[str, dict[str, Any]]]:
        transport = AsyncOllamaTransport({}, inner=httpx.MockTransport(handle))
        client = openai.AsyncOpenAI(
            base_url="http://o.test/v1", api_key="k", http_client=httpx.AsyncClient(transport=transport)
        )
        messages: Any = [{"role": "user", "content": "x"}]
        if not stream:
            reply = await client.chat.completions.create(model="m", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
            return [
                (c.function.name, json.loads(c.function.arguments)) for c in reply.choices[0].message.tool_calls or ()
            ]  # type: ignore[union-attr]
        calls: dict[int, tuple[str, dict[str, Any]]] = {}
        async for chunk in await client.chat.completions.create(model="m", messages=messages, tools=TOOLS, stream=True):  # type: ignore[arg-type]
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or ():
                    calls[call.index] = (call.function.name, json.loads(call.function.arguments))  # type: ignore[union-attr,arg-type]
        return list(calls.values())

    assert asyncio.run(ask()) == [("get_price", {"ticker": "NVDA"}), ("get_news", {"topic": "x"})]


# arguments checked against the offered tool's schema, and bounded


PRICE_SCHEMA = {
    "type": "object",
    "properties": {"ticker": {"type": "string"}, "currency": {"type": "string", "enum": ["USD", "EUR"]}},
    "required": ["ticker"],
}
SCHEMAS: dict[str, Any] = {"get_price": PRICE_SCHEMA, "get_news": {"type": "object", "properties": {}}}


def _call(arguments: Any, name: str = "get_price") -> str:
    return json.dumps({"name": name, "arguments": arguments})


@pytest.mark.parametrize(
    "arguments",
    [
        {"ticker": "NVDA", "shell": "rm -rf /"},
        {"ticker": 5},
        {},
        {"ticker": "NVDA", "currency": "GBP"},
        {"ticker": None},
        json.dumps({"ticker": ["NVDA"]}),
    ],
    ids=["extra-key", "wrong-type", "required-missing", "not-in-enum", "null", "string-arguments-wrong-type"],
)
def test_arguments_that_do_not_validate_stay_text(arguments: Any) -> None:
    assert parse_text_calls(_call(arguments), SCHEMAS) is None
    assert split_text_calls(_call(arguments), SCHEMAS) is None
    completion = _completion(_call(arguments))
    assert not repair_completion(completion, SCHEMAS)
    assert completion["choices"][0]["message"]["content"] == _call(arguments)


def test_arguments_that_validate_become_a_call() -> None:
    calls = parse_text_calls(_call({"ticker": "NVDA", "currency": "EUR"}), SCHEMAS)
    assert _arguments(calls) == [("get_price", {"ticker": "NVDA", "currency": "EUR"})]
    assert _arguments(parse_text_calls(_call({}, "get_news"), SCHEMAS)) == [("get_news", {})]


@pytest.mark.parametrize(
    ("value", "schema", "valid"),
    [
        ({"n": 2}, {"type": "object", "properties": {"n": {"type": "integer"}}}, True),
        ({"n": 2.0}, {"type": "object", "properties": {"n": {"type": "integer"}}}, True),
        ({"n": 2.5}, {"type": "object", "properties": {"n": {"type": "integer"}}}, False),
        ({"n": True}, {"type": "object", "properties": {"n": {"type": "number"}}}, False),
        ({"n": None}, {"type": "object", "properties": {"n": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}, True),
        ({"n": 1}, {"type": "object", "properties": {"n": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}, False),
        (
            {"xs": [1, 2]},
            {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}},
            True,
        ),
        (
            {"xs": [1, "2"]},
            {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}},
            False,
        ),
        (
            {"a": {"b": 1, "c": 2}},
            {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}}}}},
            True,
        ),
        (
            {"a": {"c": 2}},
            {
                "type": "object",
                "properties": {"a": {"type": "object", "properties": {"b": {}}, "additionalProperties": False}},
            },
            False,
        ),
        ({"x": 1, "y": 2}, {"type": "object", "properties": {"x": {}}, "additionalProperties": True}, True),
        (
            {"x": 1, "y": "s"},
            {"type": "object", "properties": {"x": {}}, "additionalProperties": {"type": "integer"}},
            False,
        ),
        ({"anything": 1}, {"type": "object"}, True),
        ({"anything": 1}, None, True),
        (
            {"p": {"q": "s"}},
            {
                "type": "object",
                "properties": {"p": {"$ref": "#/$defs/P"}},
                "$defs": {"P": {"type": "object", "properties": {"q": {"type": "integer"}}}},
            },
            False,
        ),
        ({"p": 1}, {"type": "object", "properties": {"p": {"$ref": "#"}}}, False),
        ({"k": True}, {"type": "object", "properties": {"k": {"const": 1}}}, False),
    ],
)
def test_the_schema_subset(value: Any, schema: Any, valid: bool) -> None:
    assert validates(value, schema) is valid


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("where", ["arguments", "string-arguments"])
def test_arguments_nested_5000_deep_are_text_not_an_error(where: str) -> None:
    deep = _nested(5000)
    text = '{"name": "get_price", "arguments": ' + (deep if where == "arguments" else json.dumps(deep)) + "}"
    assert parse_text_calls(text, {"get_price": None}) is None
    assert split_text_calls(text, {"get_price": None}) is None
    watch = CallWatch({"get_price": None})
    for piece in _pieces(text, 997):
        watch.add(piece)
    assert watch.decide() is None


def test_arguments_nested_within_the_bound_are_fine() -> None:
    text = '{"name": "get_price", "arguments": {"x": ' + _nested(MAX_DEPTH - 3) + "}}"
    assert parse_text_calls(text, {"get_price": None}) is not None


# a lead-in sentence before the call


LEAD = "Here is the price of NVDA from Yahoo Finance:"


def _completion_carries(text: str, decision: Any) -> None:
    """A completion whose content is ``text`` is repaired into ``decision``: its prose as content, one call."""
    completion = _completion(text)
    assert repair_completion(completion, SCHEMAS)
    message = completion["choices"][0]["message"]
    assert message["content"] == decision.content and len(message["tool_calls"]) == 1


@pytest.mark.parametrize(
    "text",
    [
        LEAD + " " + _call({"ticker": "NVDA"}),
        LEAD + "\n\n" + _call({"ticker": "NVDA"}) + "\n",
        LEAD + "\n```json\n" + _call({"ticker": "NVDA"}) + "\n```",
        "I'll use the `get_price` tool:\n" + _call({"ticker": "NVDA"}),
    ],
    ids=["same-line", "own-line", "fenced", "inline-code-in-lead-in"],
)
def test_a_lead_in_stays_content_and_the_call_becomes_a_call(text: str) -> None:
    decision = split_text_calls(text, SCHEMAS)
    assert decision is not None
    assert decision.content == text[: decision.start].strip() and decision.content.endswith(":")
    assert _arguments(decision.calls) == [("get_price", {"ticker": "NVDA"})]
    _completion_carries(text, decision)


@pytest.mark.parametrize(
    "text",
    [
        "To get a price, send " + _call({"ticker": "NVDA"}) + " and the tool answers with the latest quote.",
        "For example: " + _call({"ticker": "NVDA"}) + "\nThat asks for NVDA's price.",
        "Two calls: " + _call({"ticker": "NVDA"}) + " " + _call({"ticker": "AMD"}),
        "The format is {name, arguments}, like this: " + _call({"ticker": "NVDA"}),
        LEAD + " " + _call({"ticker": "NVDA"}, "say_hello"),
        LEAD + " " + _call({"ticker": "NVDA", "shell": "rm -rf /"}),
        LEAD + " " + _call({"ticker": 42}),
        LEAD + " " + json.dumps([json.loads(_call({"ticker": "NVDA"})), json.loads(_call({"ticker": "AMD"}))]),
        "x" * (LEAD_IN_MAX + 1) + " " + _call({"ticker": "NVDA"}),
        "Here it is:\n```python\nprint(1)\n```\n" + _call({"ticker": "NVDA"}),
    ],
    ids=[
        "example-json-in-an-explanation",
        "bare-example-then-prose",
        "two-calls",
        "braces-in-the-lead-in",
        "unoffered-name",
        "extra-argument",
        "wrong-argument-type",
        "array-after-lead-in",
        "lead-in-too-long",
        "code-before",
    ],
)
def test_a_lead_in_false_positive_stays_text(text: str) -> None:
    assert split_text_calls(text, SCHEMAS) is None
    completion = _completion(text)
    assert not repair_completion(completion, SCHEMAS)


@pytest.mark.parametrize("size", [1, 4, 9, 1000])
def test_a_streamed_lead_in_streams_and_the_call_follows_as_tool_calls(size: int) -> None:
    text = LEAD + "\n" + _call({"ticker": "NVDA"})
    chunks = _stream(_pieces(text, size))
    out = _run(StreamRepair(SCHEMAS), chunks)
    sent = [c for _, o in out for c in o]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in sent if c["choices"])
    assert content.strip() == LEAD
    calls = [t for c in sent if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert [(t["function"]["name"], json.loads(t["function"]["arguments"])) for t in calls] == [
        ("get_price", {"ticker": "NVDA"})
    ]
    assert [c["choices"][0]["finish_reason"] for c in sent if c["choices"]][-1] == "tool_calls"
    if size < len(LEAD):
        first = next(i for i, o in out if o)
        assert first < len(LEAD) // size + 1, "the lead-in streams as it comes, before the call is complete"


def test_a_streamed_lead_in_before_an_example_goes_out_unchanged() -> None:
    text = "For example: " + _call({"ticker": "NVDA"}) + "\nThat asks for NVDA's price."
    chunks = _stream(_pieces(text, 5))
    sent = [c for _, o in _run(StreamRepair(SCHEMAS), chunks) for c in o]
    assert sent == chunks


# prose after a fenced call (an afterword), unless the request answers a tool call

FENCED = "```json\n" + json.dumps({"name": "get_news", "arguments": {}}, indent=2) + "\n```"
NO_ARGS_LEAD = "To calculate the value of `get_news()`, you can use the following JSON object:"
NO_ARGS_AFTER = "This function does not take any arguments and returns an empty object `{}`."


def _answering(tools: dict[str, Any]) -> Offered:
    offered = Offered(tools)
    offered.answering = True
    return offered


@pytest.mark.parametrize(
    ("text", "content"),
    [
        (NO_ARGS_LEAD + "\n\n" + FENCED + "\n\n" + NO_ARGS_AFTER, NO_ARGS_LEAD + "\n\n" + NO_ARGS_AFTER),
        (FENCED + "\nThat gets the news.", "That gets the news."),
        ("For example:\n" + FENCED + "\nThat gets the news, in `[title, url]` pairs.", None),
    ],
    ids=["lead-in-and-afterword", "afterword-only", "brackets-in-inline-code"],
)
def test_a_fenced_call_with_an_afterword_is_a_call_and_the_prose_stays(text: str, content: str | None) -> None:
    decision = split_text_calls(text, SCHEMAS)
    assert decision is not None
    assert _arguments(decision.calls) == [("get_news", {})]
    lead, after = text[: decision.start].strip(), text[text.rindex("```") + 3 :].strip()
    assert decision.content == (content or lead + "\n\n" + after)
    assert decision.after == after
    _completion_carries(text, decision)


@pytest.mark.parametrize(
    "text",
    [
        "For example:\n" + FENCED + "\nThen:\n```python\nprint(news)\n```",
        "For example:\n" + FENCED + '\nIt returns {"title": ...} objects.',
        FENCED + "\n" + "x" * (LEAD_IN_MAX + 1),
        "Use {this}:\n" + FENCED + "\nThat gets the news.",
        FENCED + "\n" + FENCED + "\nTwo calls.",
        "For example:\n```json\n" + _call({"ticker": "NVDA", "shell": "rm -rf /"}) + "\n```\nThat asks for NVDA.",
        "For example:\n" + FENCED + "\nThe `price",
    ],
    ids=[
        "code-after",
        "braces-after",
        "afterword-too-long",
        "braces-in-the-lead-in",
        "two-fences",
        "invalid-call",
        "open-inline-code",
    ],
)
def test_an_afterword_false_positive_stays_text(text: str) -> None:
    assert split_text_calls(text, SCHEMAS) is None
    assert not repair_completion(_completion(text), SCHEMAS)


def test_after_a_tool_result_a_fenced_call_with_prose_is_a_report_and_stays_text() -> None:
    text = "I called it:\n" + FENCED + "\nThe news is in: NVDA rose 3%."
    assert split_text_calls(text, SCHEMAS) is not None
    assert split_text_calls(text, _answering(SCHEMAS)) is None
    chunks = _stream(_pieces(text, 4))
    out = _run(StreamRepair(_answering(SCHEMAS)), chunks)
    assert [c for _, o in out for c in o] == chunks
    last_piece = len(chunks) - 3  # before the finish chunk and the usage
    assert out[last_piece][1] == [chunks[last_piece]], "the report streams on once the fence has closed"
    # the call alone is still a call: only the afterword form waits for a fresh question
    assert split_text_calls(FENCED, _answering(SCHEMAS)) is not None


@pytest.mark.parametrize("size", [1, 4, 9, 1000])
def test_a_streamed_afterword_arrives_as_content_with_the_call(size: int) -> None:
    text = NO_ARGS_LEAD + "\n\n" + FENCED + "\n\n" + NO_ARGS_AFTER
    sent = [c for _, o in _run(StreamRepair(SCHEMAS), _stream(_pieces(text, size))) for c in o]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in sent if c["choices"])
    assert content.strip() == NO_ARGS_LEAD + "\n\n" + NO_ARGS_AFTER
    calls = [t for c in sent if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert [(t["function"]["name"], json.loads(t["function"]["arguments"])) for t in calls] == [("get_news", {})]
    assert [c["choices"][0]["finish_reason"] for c in sent if c["choices"]][-1] == "tool_calls"


def test_a_streamed_afterword_that_turns_into_code_goes_out_unchanged() -> None:
    text = "For example:\n" + FENCED + "\nThen `news` is ready:\n```python\nprint(news)\n```"
    chunks = _stream(_pieces(text, 3))
    assert [c for _, o in _run(StreamRepair(SCHEMAS), chunks) for c in o] == chunks


@pytest.mark.parametrize(
    ("body", "answering"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, False),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}]}, True),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "42"}]}, True),
        ({"input": "What is the price?"}, False),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}, True),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}, False),
        ({"messages": []}, False),
    ],
    ids=[
        "chat-user",
        "chat-tool",
        "responses-output",
        "responses-text",
        "messages-tool-result",
        "messages-text",
        "empty",
    ],
)
def test_a_request_answering_a_tool_call_is_seen_in_every_wire_format(body: dict[str, Any], answering: bool) -> None:
    assert offered_tools({**body, "tools": TOOLS}).answering is answering


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"type": "object", "properties": {}}, {}),
        ({"properties": {}}, {}),
        ({"type": "object", "properties": {}, "extra": 1}, None),
        ({"type": "string"}, None),
    ],
    ids=["whole-schema", "part-of-schema", "more-than-the-schema", "not-the-schema"],
)
def test_a_no_argument_tool_called_with_its_own_schema_gets_no_arguments(
    arguments: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    calls = parse_text_calls(_call(arguments, "get_news"), SCHEMAS)
    assert (_arguments(calls)[0][1] if calls else None) == expected
