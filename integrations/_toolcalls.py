"""Tool calls that arrive as text, turned back into tool calls: the one rule, whatever the wire format.

Ollama extracts a tool call only when the model wraps it in its template's tag
(``<tool_call>`` for Qwen 2.5). Small models often skip the tag and answer with
the bare call, ``{"name": "get_price", "arguments": {"ticker": "NVDA"}}``, or
the same object in a fenced json block; Ollama then returns it as ``content``
and every framework sees prose. This module decides, for the tools a request
offered and nothing else, whether a reply's text is such a call:

* the whole text (trimmed) is one JSON call or a non-empty array of them, bare or
  as the whole of one fenced json block; or
* a short lead-in (at most `LEAD_IN_MAX` characters of prose, with no braces,
  brackets or fences) followed by exactly one such call, bare or fenced, that ends
  the text: the lead-in is kept as the message's content; or
* exactly one fenced call, with or without a lead-in, followed by a short
  afterword (at most `LEAD_IN_MAX` characters of prose, no fence, braces and
  brackets only inside inline code), when the request does not answer a tool
  call (`Offered.answering`): a report of a call just made reads the same and must
  not call again; lead-in and afterword are kept as content;

and in both cases every call names an offered tool and its ``arguments`` are an
object that validates against that tool's parameter schema (`validates`), nested at
most `MAX_DEPTH` deep. Anything else stays text. `split_text_calls` is the decision
on a whole text and `CallWatch` the same decision made while a reply streams;
`integrations._toolwire` applies them to each wire format.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LEAD_IN_MAX",
    "MAX_DEPTH",
    "CallWatch",
    "Decision",
    "Offered",
    "Tools",
    "new_call_id",
    "offered_tools",
    "parse_text_calls",
    "split_text_calls",
    "still_possible",
    "validates",
]

_FENCE = "```"
_FENCE_LANGUAGES = ("", "json")

MAX_DEPTH = 64
"""How deep a text call's JSON may nest; deeper text is not a call (and is never handed to a JSON parser)."""

LEAD_IN_MAX = 400
"""The longest prose before a call that is kept as content; a longer text is an answer, not a call."""

_LEAD_IN_FORBIDDEN = re.compile(r"[{}\[\]]|```")
"""A lead-in is a sentence: braces, brackets or a fence in it mean an explanation with code, not a call."""

_SCHEMA_STEPS = 10_000
"""Validation work allowed per call (schemas with ``$ref`` cycles end here, as not validated)."""

Tools = Mapping[str, Any]
"""Offered tools: name -> the JSON schema of its parameters (None or ``{}`` when it gave none)."""

_INLINE_CODE = re.compile(r"`[^`\n]*`")


class Offered(dict[str, Any]):
    """The tools a request offers (`Tools`), and whether the request answers a tool call."""

    answering: bool = False
    """The request's last message is a tool's result: the model is reporting, so a fenced call with
    prose after it is a report of the call just made, not a new one."""


def _answering(body: Mapping[str, Any]) -> bool:
    """Whether the last message of a request in any wire format is a tool's result."""
    messages = body.get("messages", body.get("input"))
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        return False
    last = messages[-1]
    if last.get("role") == "tool" or last.get("type") == "function_call_output":
        return True
    content = last.get("content")
    return isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )


def new_call_id() -> str:
    """An id in the shape Ollama gives tool calls: ``call_`` and eight random characters."""
    return "call_" + secrets.token_hex(4)


def offered_tools(body: Mapping[str, Any]) -> Offered:
    """The function tools a request offers, name -> parameter schema, in any of the wire formats.

    Chat completions and ``/api/chat`` nest the function (``{"type": "function", "function":
    {"name", "parameters"}}``), Responses flattens it (``{"type": "function", "name",
    "parameters"}``) and Messages names the schema ``input_schema``; built-in tools are no functions.

    >>> offered_tools({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
    ...                          {"type": "function", "name": "g"}, {"name": "h", "input_schema": {}},
    ...                          {"type": "web_search"}]})
    {'f': {'type': 'object'}, 'g': None, 'h': {}}
    """
    tools = Offered()
    tools.answering = _answering(body)
    raw = body.get("tools")
    for tool in raw if isinstance(raw, list) else ():
        if not isinstance(tool, Mapping):
            continue
        kind = tool.get("type")
        function = tool.get("function")
        if isinstance(function, Mapping) and kind in (None, "function"):
            name, schema = function.get("name"), function.get("parameters")
        elif kind in (None, "function", "custom"):
            name, schema = tool.get("name"), tool.get("parameters", tool.get("input_schema"))
        else:
            continue
        if isinstance(name, str) and name:
            tools[name] = schema
    return tools


# parsing, bounded


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


class _Scanner:
    """`_json_closed_at` and `_depth` for a text that only grows: each call continues where the last stopped."""

    def __init__(self, origin: int) -> None:
        self.origin = origin
        self.position = origin
        self.depth = self.deepest = 0
        self.in_string = self.escaped = False
        self.end: int | None = None

    def advance(self, text: str) -> int | None:
        """Where the JSON value starting at ``origin`` ends in ``text`` (absolute), once it has."""
        index = self.position
        while self.end is None and index < len(text) and self.deepest <= MAX_DEPTH:
            char = text[index]
            index += 1
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
                self.deepest = max(self.deepest, self.depth)
            elif char in "}]":
                self.depth -= 1
                if self.depth == 0:
                    self.end = index
        self.position = index
        return self.end


def _depth(text: str) -> int:
    """How deep the brackets outside strings in ``text`` nest."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
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
            deepest = max(deepest, depth)
        elif char in "}]":
            depth -= 1
    return deepest


def _loads(text: str) -> Any:
    """``text`` parsed as JSON when it nests at most `MAX_DEPTH` deep; `_INVALID` otherwise."""
    if _depth(text) > MAX_DEPTH:
        return _INVALID
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


_INVALID = object()


def _unfenced(text: str) -> str | None:
    """The inside of one fenced block that is the whole text, or None when the text is not that."""
    if not (text.startswith(_FENCE) and text.endswith(_FENCE) and len(text) >= 2 * len(_FENCE)):
        return None
    inner = text[len(_FENCE) : -len(_FENCE)]
    language, newline, body = inner.partition("\n")
    if not newline or language.strip().lower() not in _FENCE_LANGUAGES or _FENCE in body:
        return None
    return body


# the schema subset tool parameters use


def validates(value: Any, schema: Any, *, closed: bool = True) -> bool:
    """Whether ``value`` (tool-call arguments) satisfies ``schema`` (the tool's parameters).

    The subset tool schemas use: ``type``, ``properties``, ``required``,
    ``additionalProperties``, ``enum``, ``const``, ``items``, ``anyOf``/``oneOf``/``allOf``,
    ``nullable`` and local ``$ref``; other keywords are not checked. ``closed``: the
    top-level object takes no keys beyond its ``properties`` unless
    ``additionalProperties`` allows them, since each key becomes a keyword argument of
    the tool's function (a call guessed from text gets no benefit of the doubt).

    >>> schema = {"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}
    >>> validates({"ticker": "NVDA"}, schema), validates({"ticker": 5}, schema), validates({}, schema)
    (True, False, False)
    >>> validates({"ticker": "NVDA", "shell": "rm -rf /"}, schema)
    False
    """
    return _Validator(schema).check(value, schema, top=closed)


class _Validator:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.steps = 0

    def check(self, value: Any, schema: Any, *, top: bool = False) -> bool:
        self.steps += 1
        if self.steps > _SCHEMA_STEPS:
            return False
        if schema is None or schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, Mapping):
            return True  # not a schema: nothing to check against
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref)
            if target is not None and not self.check(value, target, top=top):
                return False
        if value is None and schema.get("nullable") is True:
            return True
        if "type" in schema and not _type_matches(value, schema["type"]):
            return False
        if "enum" in schema and isinstance(schema["enum"], list) and not any(_same(value, e) for e in schema["enum"]):
            return False
        if "const" in schema and not _same(value, schema["const"]):
            return False
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options and not any(self.check(value, s, top=top) for s in options):
                return False
        every = schema.get("allOf")
        if isinstance(every, list) and not all(self.check(value, s, top=top) for s in every):
            return False
        if isinstance(value, dict):
            return self._object(value, schema, top=top)
        if isinstance(value, list):
            items = schema.get("items")
            return not isinstance(items, Mapping | bool) or all(self.check(item, items) for item in value)
        return True

    def _object(self, value: dict[str, Any], schema: Mapping[str, Any], *, top: bool) -> bool:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else None
        required = schema.get("required")
        if isinstance(required, list) and any(isinstance(k, str) and k not in value for k in required):
            return False
        extra = schema.get("additionalProperties", None if top and properties is not None else True)
        for key, item in value.items():
            if properties is not None and key in properties:
                if not self.check(item, properties[key]):
                    return False
            elif extra is None or extra is False or (isinstance(extra, Mapping) and not self.check(item, extra)):
                return False
        return True

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return None  # remote references are not fetched: not checked
        node = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node


def _type_matches(value: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return any(_type_matches(value, e) for e in expected)
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "null":
        return value is None
    return True  # an unknown type name: not checked


def _same(value: Any, other: Any) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    return bool(value == other) and isinstance(value, bool) == isinstance(other, bool)


# the decision


@dataclass(frozen=True)
class Decision:
    """What a reply's text turned out to be: tool calls, with the lead-in kept as content."""

    content: str
    """The prose kept: the lead-in and the afterword, trimmed, a blank line between ("" when the whole text was
    the call)."""
    calls: list[dict[str, Any]]
    """The calls in the OpenAI chat shape: ``{"id", "type": "function", "function": {"name", "arguments"}}``,
    ``arguments`` a JSON string."""
    start: int
    """Where in the text the call begins (the lead-in is ``text[:start]``)."""
    after: str = ""
    """The afterword, trimmed: the prose after a fenced call ("" when the call ends the text)."""


def _calls_from(value: Any, tools: Tools | Collection[str]) -> list[dict[str, Any]] | None:
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    schemas = tools if isinstance(tools, Mapping) else None
    calls = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        arguments = item.get("arguments")
        if not isinstance(name, str) or name not in tools:
            return None
        if isinstance(arguments, str):
            arguments = _loads(arguments)
        if not isinstance(arguments, dict):
            return None
        if schemas is not None:
            arguments = _echo_read_as_none(arguments, schemas[name])
            if not validates(arguments, schemas[name]):
                return None
        calls.append(
            {
                "id": new_call_id(),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
            }
        )
    return calls


def _echo_read_as_none(arguments: dict[str, Any], schema: Any) -> dict[str, Any]:
    """A tool that takes no arguments, "called" with its own parameter schema as arguments: no arguments.

    Small models answer a no-argument tool with ``"arguments": {"type": "object", "properties": {}}``,
    its schema copied from the prompt; nothing of it can reach the function, so it reads as ``{}``.

    >>> _echo_read_as_none({"type": "object", "properties": {}}, {"properties": {}, "type": "object"})
    {}
    >>> _echo_read_as_none({"type": "object"}, {"type": "object", "properties": {"x": {}}})
    {'type': 'object'}
    """
    if not isinstance(schema, Mapping) or schema.get("properties"):
        return arguments
    if arguments and arguments == {key: value for key, value in schema.items() if key in arguments}:
        return {}
    return arguments


def _whole(text: str, tools: Tools | Collection[str]) -> list[dict[str, Any]] | None:
    """The calls ``text`` (already trimmed) is, bare or as the whole of one fenced block."""
    inner = _unfenced(text) if text.startswith(_FENCE) else text
    if inner is None:
        return None
    value = _loads(inner)
    return None if value is _INVALID else _calls_from(value, tools)


def parse_text_calls(text: str, offered: Tools | Collection[str]) -> list[dict[str, Any]] | None:
    """The tool calls ``text`` is as a whole, in the OpenAI shape, or None when it is anything else.

    ``offered`` maps each offered tool to its parameter schema (or is a plain collection of
    names, when no schema is known: then arguments need only be an object).

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
    return _whole(text.strip(), offered)


def _call_start(text: str) -> int | None:
    """Where a call after a lead-in would begin: the first brace, bracket or fence, when the prose before it
    is a lead-in."""
    match = _LEAD_IN_FORBIDDEN.search(text)
    if match is None:
        return None
    start = match.start()
    lead = text[:start]
    if len(lead.strip()) > LEAD_IN_MAX or not lead.strip():
        return None
    return start


def split_text_calls(text: str, tools: Tools) -> Decision | None:
    """The decision on a whole reply: the calls it spells out and the lead-in kept, or None when it stays text.

    >>> tools = {"get_price": {"type": "object", "properties": {"ticker": {"type": "string"}}}}
    >>> d = split_text_calls('Here is the price:\\n{"name": "get_price", "arguments": {"ticker": "NVDA"}}', tools)
    >>> d.content, d.calls[0]["function"]["arguments"]
    ('Here is the price:', '{"ticker": "NVDA"}')
    >>> split_text_calls('Call it as {"name": "get_price", "arguments": {"ticker": "NVDA"}} and wait.', tools)
    >>> fenced = '```json\\n{"name": "get_price", "arguments": {"ticker": "NVDA"}}\\n```'
    >>> split_text_calls('Use this:\\n' + fenced + '\\nIt returns the last close.', tools).content
    'Use this:\\n\\nIt returns the last close.'
    """
    if not tools or not text.strip():
        return None
    stripped = text.strip()
    calls = _whole(stripped, tools)
    if calls is not None:
        return Decision("", calls, 0)
    start = _call_start(text)
    if start is not None and text[start] != "[":  # after a lead-in, exactly one call (an object, bare or fenced)
        calls = _whole(text[start:].strip(), tools)
        if calls is not None and len(calls) == 1:
            return Decision(text[:start].strip(), calls, start)
    return _with_afterword(text, tools)


def _fence_closed_at(text: str, fence: int) -> int | None:
    """Where the fenced block opening at ``fence`` ends (after its closing fence), once it has."""
    line_end = text.find("\n", fence)
    close = text.find(_FENCE, line_end) if line_end >= 0 else -1
    return None if close < 0 else close + len(_FENCE)


def _is_lead_in(lead: str) -> bool:
    return not lead.strip() or (len(lead.strip()) <= LEAD_IN_MAX and not _LEAD_IN_FORBIDDEN.search(lead))


def _may_be_afterword(after: str) -> bool:
    """Whether ``after``, the text after a fenced call so far, is (or may still become) an afterword:
    short prose with no fence, its braces and brackets only inside inline code."""
    if _FENCE in after or len(after.strip()) > LEAD_IN_MAX:
        return False
    prose = _INLINE_CODE.sub("", after)
    if prose.count("`") % 2:
        prose = prose[: prose.rindex("`")]  # an inline span still open: its inside is not known yet
    return not _LEAD_IN_FORBIDDEN.search(prose)


def _fenced_after_lead_in(text: str, tools: Tools, held_from: int = 0) -> tuple[int, int] | None:
    """Where the first fence of ``text`` opens and closes, when a lead-in precedes it, it opens at or after
    ``held_from`` and the request does not answer a tool call (the shape an afterword may follow)."""
    fence = text.find(_FENCE)
    if getattr(tools, "answering", False) or fence < held_from or not _is_lead_in(text[:fence]):
        return None
    end = _fence_closed_at(text, fence)
    return None if end is None else (fence, end)


def _with_afterword(text: str, tools: Tools) -> Decision | None:
    """One fenced call between an optional lead-in and an afterword, unless the request answers a tool call."""
    span = _fenced_after_lead_in(text, tools)
    if span is None:
        return None
    fence, end = span
    after = text[end:]
    if not after.strip() or not _may_be_afterword(after) or after.count("`") % 2:
        return None
    calls = _whole(text[fence:end], tools)
    if calls is None or len(calls) != 1:
        return None
    lead = text[:fence].strip()
    return Decision("\n\n".join(part for part in (lead, after.strip()) if part), calls, fence, after.strip())


# while streaming


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


def still_possible(text: str) -> bool:
    """Whether a stream whose content so far is ``text`` may still turn out, as a whole, to be a text tool call.

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


class CallWatch:
    """The decision of `split_text_calls`, made while one reply's text streams in.

    `add` each piece of text; `holding` says whether what arrived since the text could
    become a call must be held back (prose is passed on as soon as it rules a call out,
    and a lead-in streams as it comes). `decide` at the end gives the decision, and
    `unsent` the part of the lead-in that was held back and still has to be sent as content.
    """

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.text = ""
        self.sent = 0
        """How much of the text was passed on (released) before the hold began."""
        self.holding = False
        self.settled = not tools
        """Nothing this reply still says can make it a call."""
        self._scanners: dict[int, _Scanner] = {}

    def add(self, piece: str) -> bool:
        """Take the next piece of text; whether it (and what comes after it) must be held."""
        self.text += piece
        if self.settled:
            return False
        if self._possible(0):
            if self.text:
                self.holding = True  # blanks too: the first character decides
            return self.holding
        start = _call_start(self.text)
        if start is not None and self.text[start] != "[" and start >= self.sent and self._possible(start):
            self.holding = True
            return True
        if start is None and not _LEAD_IN_FORBIDDEN.search(self.text) and len(self.text.strip()) <= LEAD_IN_MAX:
            if self.text.endswith("`"):
                self.holding = True  # perhaps the start of a fence
                return True
            self.release()
            return False  # still a lead-in: streamed as it comes
        if self._afterword_possible():
            self.holding = True
            return True
        self.settled = True
        self.release()
        return False

    def _possible(self, start: int) -> bool:
        """`still_possible` of ``text[start:]``, without rescanning JSON it has already scanned."""
        rest = self.text[start:]
        stripped = rest.lstrip()
        if not stripped or stripped[0] not in "{[":
            return still_possible(rest)  # blanks or a fence: string searches, no JSON scan
        origin = start + len(rest) - len(stripped)
        scanner = self._scanners.setdefault(origin, _Scanner(origin))
        end = scanner.advance(self.text)
        if scanner.deepest > MAX_DEPTH:
            return False
        return end is None or not self.text[end:].strip()

    def _afterword_possible(self) -> bool:
        """Whether the held text is a closed fenced call that an afterword follows so far (`_with_afterword`)."""
        span = _fenced_after_lead_in(self.text, self.tools, held_from=self.sent)
        return span is not None and _may_be_afterword(self.text[span[1] :])

    def release(self) -> None:
        """What was held has been passed on unchanged."""
        self.holding = False
        self.sent = len(self.text)

    def decide(self) -> Decision | None:
        """The decision on the whole text (None: what was held goes out unchanged)."""
        if self.settled:
            return None
        decision = split_text_calls(self.text, self.tools)
        if decision is None or decision.start < self.sent:
            return None  # a call that began in text already passed on cannot be taken back
        return decision

    def unsent(self, decision: Decision) -> str:
        """The prose that was held back (the end of the lead-in, the afterword): it still has to reach the client as
        content."""
        if not self.sent:
            return decision.content
        lead = self.text[self.sent : decision.start].rstrip() if decision.start > self.sent else ""
        if not decision.after:
            return lead
        streamed = self.text[: min(self.sent, decision.start)]
        if lead:
            return lead + "\n\n" + decision.after
        if not streamed.strip():
            return decision.after
        return "\n" * max(0, 2 - (len(streamed) - len(streamed.rstrip("\n")))) + decision.after
