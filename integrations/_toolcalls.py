"""Tool calls that arrive as text, turned back into tool calls.

Ollama extracts a tool call only when the model wraps it in its template's tag
(``<tool_call>`` for Qwen 2.5). Small models often skip the tag and answer with
the bare call, ``{"name": "get_price", "arguments": {"ticker": "NVDA"}}``, or
the same object in a fenced json block; Ollama then returns it as ``content``
and every framework sees prose. `parse_text_calls` recognises exactly that
shape, for the tools the request offered and nothing else; `repair_completion`
applies it to a chat completion and `StreamRepair` to a stream of chunks.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StreamRepair", "new_call_id", "offered_tools", "parse_text_calls", "repair_completion", "still_possible"]

_FENCE = "```"
_FENCE_LANGUAGES = ("", "json")


def new_call_id() -> str:
    """An id in the shape Ollama gives tool calls: ``call_`` and eight random characters."""
    return "call_" + secrets.token_hex(4)


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    """Names of the function tools a chat request offers.

    >>> sorted(offered_tools({"tools": [{"type": "function", "function": {"name": "f"}}, {"type": "web"}]}))
    ['f']
    """
    names: set[str] = set()
    for tool in body.get("tools") or ():
        if isinstance(tool, Mapping) and tool.get("type", "function") == "function":
            function = tool.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                names.add(function["name"])
    return frozenset(names)


def _unfenced(text: str) -> str | None:
    """The inside of one fenced block that is the whole text, or None when the text is not that."""
    if not (text.startswith(_FENCE) and text.endswith(_FENCE) and len(text) >= 2 * len(_FENCE)):
        return None
    inner = text[len(_FENCE) : -len(_FENCE)]
    language, newline, body = inner.partition("\n")
    if not newline or language.strip().lower() not in _FENCE_LANGUAGES or _FENCE in body:
        return None
    return body


def parse_text_calls(text: str, offered: Collection[str]) -> list[dict[str, Any]] | None:
    """The tool calls ``text`` spells out, in the OpenAI shape, or None when it is anything else.

    ``text``, trimmed, must be one JSON object or a non-empty array of objects (bare,
    or as the whole of one fenced json block), each with a ``name`` among ``offered``
    and ``arguments`` that are an object or a JSON string of one.

    >>> call = parse_text_calls('{"name": "f", "arguments": {"x": 1}}', {"f"})[0]
    >>> call["type"], call["function"]
    ('function', {'name': 'f', 'arguments': '{"x": 1}'})
    >>> parse_text_calls('{"name": "g", "arguments": {}}', {"f"}) is None
    True
    >>> parse_text_calls('Sure: {"name": "f", "arguments": {}}', {"f"}) is None
    True
    """
    if not offered:
        return None
    stripped = text.strip()
    inner = _unfenced(stripped) if stripped.startswith(_FENCE) else stripped
    if inner is None:
        return None
    try:
        value = json.loads(inner)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    calls = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        arguments = item.get("arguments")
        if not isinstance(name, str) or name not in offered:
            return None
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        if not isinstance(arguments, dict):
            return None
        calls.append(
            {
                "id": new_call_id(),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
            }
        )
    return calls


def repair_completion(completion: dict[str, Any], offered: Collection[str]) -> bool:
    """Turn text calls in a non-streamed chat completion into ``tool_calls``, in place; whether any were."""
    repaired = False
    for choice in completion.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if not isinstance(message, dict) or message.get("tool_calls") or not isinstance(message.get("content"), str):
            continue
        calls = parse_text_calls(message["content"], offered)
        if calls is None:
            continue
        message["tool_calls"] = calls
        message["content"] = ""
        choice["finish_reason"] = "tool_calls"
        repaired = True
    return repaired


def _could_open_fence(text: str) -> bool:
    """Whether ``text`` (starting with a backtick) can still become the opening line of a json fence."""
    if len(text) <= len(_FENCE):
        return _FENCE.startswith(text)
    if not text.startswith(_FENCE):
        return False
    line, newline, _ = text[len(_FENCE) :].partition("\n")
    language = line.strip().lower()
    if newline:
        return language in _FENCE_LANGUAGES
    return any(candidate.startswith(language) for candidate in _FENCE_LANGUAGES)


def _json_closed_at(text: str) -> int | None:
    """Where the first top-level JSON value in ``text`` (starting with ``{`` or ``[``) ends, if it has."""
    depth = 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def still_possible(text: str) -> bool:
    """Whether a stream whose content so far is ``text`` may still turn out to be a text tool call.

    >>> still_possible("  {\\"name\\": ")
    True
    >>> still_possible('{"a": 1} and then prose')
    False
    >>> still_possible("```python\\n")
    False
    """
    stripped = text.lstrip()
    if not stripped:
        return True
    first = stripped[0]
    if first in "{[":
        end = _json_closed_at(stripped)
        return end is None or not stripped[end:].strip()
    if first != "`":
        return False
    if not _could_open_fence(stripped):
        return False
    _, newline, body = stripped.partition("\n")
    if not newline:
        return True
    close = body.find(_FENCE)
    return close < 0 or not body[close + len(_FENCE) :].strip()


@dataclass
class _Choice:
    """One choice of a stream while its content is being watched."""

    text: str = ""
    held: list[dict[str, Any]] = field(default_factory=list)
    passing: bool = False


class StreamRepair:
    """Holds back a chat stream's chunks only while its content may be a text tool call.

    Feed each parsed chunk to `feed`; it yields the chunks to send on, in order.
    Prose is passed on as soon as its first non-blank character rules a call out.
    When a held choice finishes, its text either becomes ``delta.tool_calls``
    chunks with ``finish_reason: "tool_calls"``, or the held chunks go out unchanged.
    """

    def __init__(self, offered: Collection[str]) -> None:
        self.offered = frozenset(offered)
        self._choices: dict[int, _Choice] = {}
        self._held_order: list[dict[str, Any]] = []

    @property
    def holding(self) -> bool:
        return bool(self._held_order)

    def feed(self, chunk: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The chunks to send on now that ``chunk`` arrived."""
        choices = chunk.get("choices")
        if not self.offered:
            yield chunk
            return
        if choices == [] and self.holding:
            self._held_order.append(chunk)  # a usage-only chunk: keep the stream's order
            return
        if not isinstance(choices, list) or not choices:
            yield from self._release_all()
            yield chunk
            return
        if len(choices) != 1 or not isinstance(choices[0], dict):
            yield from self._release_all()
            yield chunk
            return
        choice = choices[0]
        index = int(choice.get("index") or 0)
        state = self._choices.setdefault(index, _Choice())
        raw_delta = choice.get("delta")
        delta: dict[str, Any] = raw_delta if isinstance(raw_delta, dict) else {}
        if state.passing or delta.get("tool_calls"):
            state.passing = True
            yield from self._release_all()
            yield chunk
            return
        content = delta.get("content")
        if isinstance(content, str):
            state.text += content
        if not still_possible(state.text):
            state.passing = True
            yield from self._release_all()
            yield chunk
            return
        if not state.text and not self.holding and choice.get("finish_reason") is None:
            yield chunk  # no content yet (a role, or a thinking model's reasoning): nothing to decide on
            return
        self._held_order.append(chunk)
        state.held.append(chunk)
        if choice.get("finish_reason") is not None:
            yield from self._finish(index, chunk)

    def close(self) -> Iterator[dict[str, Any]]:
        """What is still held when the stream ends without a finish reason: sent on unchanged."""
        yield from self._release_all()

    def _release_all(self) -> Iterator[dict[str, Any]]:
        held, self._held_order = self._held_order, []
        for state in self._choices.values():
            state.held.clear()
        yield from held

    def _finish(self, index: int, last: dict[str, Any]) -> Iterator[dict[str, Any]]:
        state = self._choices[index]
        calls = parse_text_calls(state.text, self.offered) if state.text.strip() else None
        if calls is None:
            state.passing = True
            yield from self._release_all()
            return
        ours = {id(chunk) for chunk in state.held}
        others = [chunk for chunk in self._held_order if id(chunk) not in ours]
        self._held_order = []
        state.held.clear()
        state.passing = True
        yield from others
        frame = {key: value for key, value in last.items() if key not in ("choices", "usage")}
        for position, call in enumerate(calls):
            delta: dict[str, Any] = {"tool_calls": [{"index": position, **call}]}
            if position == 0:
                delta = {"role": "assistant", "content": None, **delta}
            yield {**frame, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}
        finish: dict[str, Any] = {**frame, "choices": [{"index": index, "delta": {}, "finish_reason": "tool_calls"}]}
        if "usage" in last:
            finish["usage"] = last["usage"]
        yield finish
