"""The text tool-call rule of `integrations._toolcalls`, encoded for each wire format Ollama speaks.

One decision (`split_text_calls`, streamed: `CallWatch`), four encoders, each for a whole
answer and for its stream:

* chat completions (``/v1/chat/completions``): ``message.tool_calls``, ``finish_reason: "tool_calls"``;
* native chat (``/api/chat``, NDJSON when streamed): ``message.tool_calls`` with object arguments;
* Responses (``/v1/responses``): ``function_call`` output items;
* Messages (``/v1/messages``): ``tool_use`` content blocks, ``stop_reason: "tool_use"``.

A stream's events are held back only while the reply may still be a call; when it is,
the held text events are replaced by the call's events (a lead-in before the call stays
text); otherwise they go out unchanged. `EventStream` turns each repair into a byte-level
filter for an SSE or NDJSON body. Nothing here raises on odd input: what it cannot read
passes through.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from integrations._toolcalls import CallWatch, Decision, Tools, split_text_calls

__all__ = [
    "EventStream",
    "MessagesStreamRepair",
    "NativeStreamRepair",
    "ResponsesStreamRepair",
    "StreamRepair",
    "repair_completion",
    "repair_message",
    "repair_native",
    "repair_response",
]

_EVENT_END = re.compile(rb"\r?\n\r?\n")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _arguments(call: dict[str, Any]) -> Any:
    return json.loads(call["function"]["arguments"])  # our own json.dumps of a depth-checked object


# chat completions


def repair_completion(completion: dict[str, Any], tools: Tools) -> bool:
    """Turn text calls in a non-streamed chat completion into ``tool_calls``, in place; whether any were."""
    repaired = False
    for choice in completion.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if not isinstance(message, dict) or message.get("tool_calls") or not isinstance(message.get("content"), str):
            continue
        decision = split_text_calls(message["content"], tools)
        if decision is None:
            continue
        message["tool_calls"] = decision.calls
        message["content"] = decision.content
        choice["finish_reason"] = "tool_calls"
        repaired = True
    return repaired


class StreamRepair:
    """Holds back a chat-completions stream's chunks only while its content may be a text tool call.

    Feed each parsed chunk to `feed`; it yields the chunks to send on, in order. When a
    held choice finishes as a call, its held chunks become ``delta.tool_calls`` chunks
    (after the rest of a lead-in, as content) and ``finish_reason: "tool_calls"``.
    """

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self._watches: dict[int, CallWatch] = {}
        self._held: list[tuple[int, dict[str, Any]]] = []

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def feed(self, chunk: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The chunks to send on now that ``chunk`` arrived."""
        if not self.tools:
            yield chunk
            return
        choices = chunk.get("choices")
        if choices == [] and self.holding:
            self._held.append((-1, chunk))  # a usage-only chunk: keep the stream's order
            return
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
            yield from self._release_all()
            yield chunk
            return
        choice = choices[0]
        index = _int(choice.get("index"))
        watch = self._watches.setdefault(index, CallWatch(self.tools))
        delta = _dict(choice.get("delta"))
        if delta.get("tool_calls"):
            watch.settled = True  # the server made real calls: nothing to repair
            yield from self._release_all()
            yield chunk
            return
        content = delta.get("content")
        if not watch.add(content if isinstance(content, str) else ""):
            yield from self._release_all()
            yield chunk
            return
        self._held.append((index, chunk))
        if choice.get("finish_reason") is not None:
            yield from self._finish(index, watch, chunk)

    def close(self) -> Iterator[dict[str, Any]]:
        """What is still held when the stream ends without a finish reason: sent on unchanged."""
        yield from self._release_all()

    def _release_all(self) -> Iterator[dict[str, Any]]:
        held, self._held = self._held, []
        for watch in self._watches.values():
            if watch.holding:
                watch.release()
        for _, chunk in held:
            yield chunk

    def _finish(self, index: int, watch: CallWatch, last: dict[str, Any]) -> Iterator[dict[str, Any]]:
        decision = watch.decide()
        if decision is None:
            watch.settled = True
            yield from self._release_all()
            return
        others = [chunk for owner, chunk in self._held if owner != index]
        self._held = []
        watch.settled = True
        yield from others
        frame = {key: value for key, value in last.items() if key not in ("choices", "usage")}
        unsent = watch.unsent(decision)
        opening: dict[str, Any] = {"role": "assistant"} if watch.sent == 0 else {}
        if unsent:
            text = {**opening, "content": unsent}
            yield {**frame, "choices": [{"index": index, "delta": text, "finish_reason": None}]}
            opening = {}
        for position, call in enumerate(decision.calls):
            delta: dict[str, Any] = {"tool_calls": [{"index": position, **call}]}
            if position == 0 and opening:
                delta = {**opening, "content": None, **delta}
            yield {**frame, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}
        finish: dict[str, Any] = {**frame, "choices": [{"index": index, "delta": {}, "finish_reason": "tool_calls"}]}
        if "usage" in last:
            finish["usage"] = last["usage"]
        yield finish


# native /api/chat


def _native_calls(decision: Decision) -> list[dict[str, Any]]:
    return [
        {"id": call["id"], "function": {"index": i, "name": call["function"]["name"], "arguments": _arguments(call)}}
        for i, call in enumerate(decision.calls)
    ]


def repair_native(answer: dict[str, Any], tools: Tools) -> bool:
    """Turn a text call in a non-streamed ``/api/chat`` answer into ``message.tool_calls``, in place."""
    message = answer.get("message")
    if not isinstance(message, dict) or message.get("tool_calls") or not isinstance(message.get("content"), str):
        return False
    decision = split_text_calls(message["content"], tools)
    if decision is None:
        return False
    message["content"] = decision.content
    message["tool_calls"] = _native_calls(decision)
    return True


class NativeStreamRepair:
    """The same for an ``/api/chat`` NDJSON stream: held lines become one line with ``tool_calls``.

    Lines carry ``message.content`` pieces and end with ``done: true``; a call goes out, as
    Ollama sends one, in a line of its own before the last.
    """

    def __init__(self, tools: Tools) -> None:
        self.watch = CallWatch(tools)
        self._held: list[dict[str, Any]] = []

    def feed(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        message = _dict(line.get("message"))
        if message.get("tool_calls"):
            self.watch.settled = True
            return self._release([line])
        content = message.get("content")
        hold = self.watch.add(content if isinstance(content, str) else "")
        if line.get("done") is not True:
            if hold:
                self._held.append(line)
                return []
            return self._release([line])
        if not self._held and not hold:
            return [line]
        decision = self.watch.decide()
        if decision is None:
            return self._release([line])
        self.watch.settled = True
        out = []
        for held in self._held:  # keep what else they carried (a thinking model's reasoning), without the text
            inner = _dict(held.get("message"))
            if any(value for key, value in inner.items() if key not in ("role", "content")):
                out.append({**held, "message": {**inner, "content": ""}})
        self._held = []
        frame = {key: value for key, value in line.items() if key in ("model", "created_at")}
        call = {"role": "assistant", "content": self.watch.unsent(decision), "tool_calls": _native_calls(decision)}
        out.append({**frame, "message": call, "done": False})
        last_message = _dict(line.get("message")) or {"role": "assistant"}
        out.append({**line, "message": {**last_message, "content": ""}})
        return out

    def close(self) -> list[dict[str, Any]]:
        return self._release([])

    def _release(self, then: list[dict[str, Any]]) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        if self.watch.holding:
            self.watch.release()
        return held + then


# Responses


def _function_call_item(call: dict[str, Any], status: str = "completed", *, arguments: bool = True) -> dict[str, Any]:
    return {
        "id": "fc_" + secrets.token_hex(12),
        "type": "function_call",
        "status": status,
        "call_id": call["id"],
        "name": call["function"]["name"],
        "arguments": call["function"]["arguments"] if arguments else "",
    }


def _output_text(item: dict[str, Any]) -> str | None:
    """The text of a Responses ``message`` item made only of ``output_text`` parts."""
    parts = item.get("content")
    if not isinstance(parts, list) or not all(isinstance(p, dict) and p.get("type") == "output_text" for p in parts):
        return None
    texts = [p.get("text") for p in parts]
    return "".join(t for t in texts if isinstance(t, str))


def _lead_message(item: dict[str, Any], text: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {**item, "status": "completed", "content": [part]}


def repair_response(response: dict[str, Any], tools: Tools) -> bool:
    """Turn a text call in a non-streamed Responses object into ``function_call`` output items, in place."""
    output = response.get("output")
    if not isinstance(output, list) or any(isinstance(i, dict) and i.get("type") == "function_call" for i in output):
        return False
    messages = [i for i, item in enumerate(output) if isinstance(item, dict) and item.get("type") == "message"]
    if len(messages) != 1:
        return False
    position = messages[0]
    item = output[position]
    text = _output_text(item)
    decision = split_text_calls(text, tools) if text is not None else None
    if decision is None:
        return False
    items = [_lead_message(item, decision.content)] if decision.content else []
    items += [_function_call_item(call) for call in decision.calls]
    output[position : position + 1] = items
    return True


class ResponsesStreamRepair:
    """The same for a Responses event stream: a held ``message`` item becomes ``function_call`` items.

    A message item's events are held from its ``output_item.added`` until its text rules a call
    out. The decision waits for the next item (a real call: no repair) or ``response.completed``,
    whose ``output`` is rewritten to match. Every event sent gets a fresh ``sequence_number``.
    """

    _ENDS = ("response.completed", "response.incomplete")

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.watch: CallWatch | None = None
        self._held: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None
        self._index = 0
        self._sequence = 0

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._numbered(e) for e in self._feed(event)]

    def close(self) -> list[dict[str, Any]]:
        return [self._numbered(e) for e in self._release([])]

    def _numbered(self, event: dict[str, Any]) -> dict[str, Any]:
        if "sequence_number" in event and event["sequence_number"] != self._sequence:
            event = {**event, "sequence_number": self._sequence}
        self._sequence += 1
        return event

    def _feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        item = _dict(event.get("item"))
        if kind == "response.output_item.added" and item.get("type") == "message" and self.watch is None:
            self.watch = CallWatch(self.tools)
            self._message = item
            self._index = _int(event.get("output_index"))
            self._held.append(event)
            return []
        if self.watch is None or self.watch.settled:
            return [event]
        if kind == "response.output_item.added":  # a real call after the text: nothing to repair
            self.watch.settled = True
            return self._release([event])
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            if self.watch.add(delta if isinstance(delta, str) else "") or (not self.watch.text and self._held):
                self._held.append(event)
                return []
            return self._release([event])
        if kind in self._ENDS and self._held:
            return self._finish(event)
        if self._held:
            self._held.append(event)
            return []
        return [event]

    def _release(self, then: list[dict[str, Any]]) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        if self.watch is not None and self.watch.holding:
            self.watch.release()
        return held + then

    def _finish(self, end: dict[str, Any]) -> list[dict[str, Any]]:
        watch, message = self.watch, self._message
        assert watch is not None and message is not None  # set together when a message item was added
        decision = watch.decide()
        response = end.get("response") if isinstance(end.get("response"), dict) else None
        output = response.get("output") if response is not None else None
        if decision is None or not isinstance(output, list):
            watch.settled = True
            return self._release([end])
        watch.settled = True
        out: list[dict[str, Any]] = []
        index = self._index
        shown = (watch.text[: watch.sent] + watch.unsent(decision)).strip() if watch.sent else decision.content
        if shown:
            where = {"item_id": message.get("id"), "output_index": index, "content_index": 0}
            lead = _lead_message(message, shown)
            if watch.sent == 0:
                out += [
                    e
                    for e in self._held
                    if e.get("type") in ("response.output_item.added", "response.content_part.added")
                ]
                out.append(
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": 0,
                        **where,
                        "delta": shown,
                        "logprobs": [],
                    }
                )
            elif watch.unsent(decision):
                out.append(
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": 0,
                        **where,
                        "delta": watch.unsent(decision),
                        "logprobs": [],
                    }
                )
            out += [
                {"type": "response.output_text.done", "sequence_number": 0, **where, "text": shown, "logprobs": []},
                {"type": "response.content_part.done", "sequence_number": 0, **where, "part": lead["content"][0]},
                {"type": "response.output_item.done", "sequence_number": 0, "output_index": index, "item": lead},
            ]
            index += 1
        self._held = []
        items = [_lead_message(message, shown)] if shown else []
        for call in decision.calls:
            item = _function_call_item(call)
            where = {"item_id": item["id"], "output_index": index}
            out += [
                {
                    "type": "response.output_item.added",
                    "sequence_number": 0,
                    "output_index": index,
                    "item": {**item, "status": "in_progress", "arguments": ""},
                },
                {
                    "type": "response.function_call_arguments.delta",
                    "sequence_number": 0,
                    **where,
                    "delta": item["arguments"],
                },
                {
                    "type": "response.function_call_arguments.done",
                    "sequence_number": 0,
                    **where,
                    "arguments": item["arguments"],
                },
                {"type": "response.output_item.done", "sequence_number": 0, "output_index": index, "item": item},
            ]
            items.append(item)
            index += 1
        position = next((i for i, o in enumerate(output) if isinstance(o, dict) and o.get("type") == "message"), None)
        rewritten = list(output)
        if position is None:
            rewritten += items
        else:
            rewritten[position : position + 1] = items
        out.append({**end, "response": {**response, "output": rewritten}})  # type: ignore[dict-item]
        return out


# Messages


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": _arguments(call)}


def repair_message(message: dict[str, Any], tools: Tools) -> bool:
    """Turn a text call in a non-streamed Messages answer into ``tool_use`` blocks, in place."""
    content = message.get("content")
    if not isinstance(content, list) or not content:
        return False
    if not all(isinstance(block, dict) and block.get("type") == "text" for block in content):
        return False  # real tool_use blocks, thinking, anything else: left alone
    decision = split_text_calls("".join(str(block.get("text") or "") for block in content), tools)
    if decision is None:
        return False
    blocks = [{"type": "text", "text": decision.content}] if decision.content else []
    message["content"] = blocks + [_tool_use(call) for call in decision.calls]
    message["stop_reason"] = "tool_use"
    return True


class MessagesStreamRepair:
    """The same for a Messages event stream: a held text block becomes ``tool_use`` blocks.

    A text block's events are held from its ``content_block_start`` until its text rules a call
    out; the decision waits for the next block (a real ``tool_use``: no repair) or
    ``message_delta``, whose ``stop_reason`` becomes ``tool_use``.
    """

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.watch: CallWatch | None = None
        self._held: list[dict[str, Any]] = []
        self._index = 0

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        block = _dict(event.get("content_block"))
        if kind == "content_block_start" and block.get("type") == "text" and self.watch is None:
            self.watch = CallWatch(self.tools)
            self.watch.add(str(block.get("text") or ""))
            self._index = _int(event.get("index"))
            self._held.append(event)
            return []
        if self.watch is None or self.watch.settled:
            return [event]
        if kind == "content_block_start":  # a real tool_use after the text: nothing to repair
            self.watch.settled = True
            return self._release([event])
        delta = _dict(event.get("delta"))
        if kind == "content_block_delta" and delta.get("type") == "text_delta":
            text = delta.get("text")
            if self.watch.add(text if isinstance(text, str) else "") or (not self.watch.text and self._held):
                self._held.append(event)
                return []
            return self._release([event])
        if kind == "message_delta" and self._held:
            return self._finish(event)
        if self._held:
            self._held.append(event)
            return []
        return [event]

    def close(self) -> list[dict[str, Any]]:
        return self._release([])

    def _release(self, then: list[dict[str, Any]]) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        if self.watch is not None and self.watch.holding:
            self.watch.release()
        return held + then

    def _finish(self, end: dict[str, Any]) -> list[dict[str, Any]]:
        watch = self.watch
        assert watch is not None  # set when a text block started
        decision = watch.decide()
        if decision is None:
            watch.settled = True
            return self._release([end])
        watch.settled = True
        out: list[dict[str, Any]] = []
        index = self._index
        unsent = watch.unsent(decision)
        if watch.sent or decision.content:
            if watch.sent == 0:
                text_block = {"type": "text", "text": ""}
                out.append({"type": "content_block_start", "index": index, "content_block": text_block})
            if unsent:
                out.append(
                    {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": unsent}}
                )
            out.append({"type": "content_block_stop", "index": index})
            index += 1
        self._held = []
        for call in decision.calls:
            block = _tool_use(call)
            out += [
                {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}},
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": call["function"]["arguments"]},
                },
                {"type": "content_block_stop", "index": index},
            ]
            index += 1
        delta = _dict(end.get("delta"))
        out.append({**end, "delta": {**delta, "stop_reason": "tool_use"}})
        return out


# byte streams


class _Repair(Protocol):
    def feed(self, event: dict[str, Any]) -> Any: ...

    def close(self) -> Any: ...


class EventStream:
    """A byte-level filter for a streamed body: frames it (SSE or NDJSON), repairs the events, frames them again.

    Events that come out unchanged are sent as the bytes that came in. Anything that is not
    a JSON object (comments, ``[DONE]``, a broken line) first releases what is held, then passes.
    """

    def __init__(
        self,
        repair: _Repair,
        *,
        ndjson: bool,
        named: bool = False,
        seen: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.repair = repair
        self.ndjson = ndjson
        self.named = named
        """SSE events carry an ``event:`` line naming their type (Responses, Messages)."""
        self.seen = seen
        self._buffer = b""
        self._raw: dict[int, tuple[dict[str, Any], bytes]] = {}

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out: list[bytes] = []
        while True:
            if self.ndjson:
                end = self._buffer.find(b"\n")
                if end < 0:
                    break
                cut = end + 1
            else:
                match = _EVENT_END.search(self._buffer)
                if match is None:
                    break
                cut = match.end()
            frame, self._buffer = self._buffer[:cut], self._buffer[cut:]
            out.extend(self._frame(frame))
        return b"".join(out)

    def close(self) -> bytes:
        out = [self._encode(event) for event in self.repair.close()]
        if self._buffer.strip():
            out.extend(self._frame(self._buffer))
        else:
            out.append(self._buffer)
        self._buffer = b""
        self._raw.clear()
        return b"".join(out)

    def _frame(self, raw: bytes) -> Iterator[bytes]:
        event = self._parse(raw)
        if event is None:
            yield from (self._encode(e) for e in self.repair.close())
            yield raw
            return
        if self.seen is not None:
            self.seen(event)
        self._raw[id(event)] = (event, raw)
        for sent in self.repair.feed(event):
            yield self._encode(sent)

    def _parse(self, raw: bytes) -> dict[str, Any] | None:
        text = raw.decode("utf-8", errors="replace")
        if not self.ndjson:
            text = "\n".join(line[5:].lstrip(" ") for line in text.splitlines() if line.startswith("data:"))
        if not text.strip() or text.strip() == "[DONE]":
            return None
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return event if isinstance(event, dict) else None

    def _encode(self, event: dict[str, Any]) -> bytes:
        kept = self._raw.pop(id(event), None)
        if kept is not None and kept[0] is event:
            return kept[1]
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        if self.ndjson:
            return body + b"\n"
        head = b"event: " + str(event.get("type")).encode() + b"\n" if self.named else b""
        return head + b"data: " + body + b"\n\n"
