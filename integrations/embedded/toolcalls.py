"""Tool calls in a model's free text, found the way Ollama finds them.

Ollama looks for the tag the model's chat template uses to open a call (Qwen 2.5
writes ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``) and turns
what follows into a call only when it names one of the tools the request offered.
Text before the tag streams as content; text that merely looks like JSON, without
the tag, stays content (clients that want those repaired do it themselves:
`integrations` does, in its transport).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from integrations.embedded.prompting import ToolSpec, new_call_id

__all__ = ["TagParser", "ToolCall", "template_tool_tag"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


_TAGS = ("<tool_call>", "<function_call>")


def template_tool_tag(template: str | None) -> str | None:
    """The tag a chat template opens tool calls with (``<tool_call>`` for Qwen), or None.

    A template with no such tag renders no tool instructions of its own, so its
    model cannot decide on calls the way Ollama expects.
    """
    if not template or "tools" not in template:
        return None
    return next((tag for tag in _TAGS if tag in template), None)


def _overlap(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that begins ``tag`` (a tag possibly cut by the stream)."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class TagParser:
    """Feed streamed text; get back (content to show now, completed calls)."""

    def __init__(self, tag: str, tools: list[ToolSpec]) -> None:
        self.open = tag
        self.close = "</" + tag[1:]
        self.names = {t.name for t in tools}
        self.buffer = ""
        self.inside = False
        self.calls = 0

    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        self.buffer += text
        shown: list[str] = []
        calls: list[ToolCall] = []
        while True:
            if not self.inside:
                at = self.buffer.find(self.open)
                if at < 0:
                    keep = _overlap(self.buffer, self.open)
                    shown.append(self.buffer[: len(self.buffer) - keep])
                    self.buffer = self.buffer[len(self.buffer) - keep:]
                    break
                shown.append(self.buffer[:at])
                self.buffer = self.buffer[at + len(self.open):]
                self.inside = True
            else:
                end = self.buffer.find(self.close)
                if end < 0:
                    break
                body, self.buffer = self.buffer[:end], self.buffer[end + len(self.close):]
                self.inside = False
                call = self._call(body)
                if call is None:
                    shown.append(self.open + body + self.close)
                else:
                    calls.append(call)
        return self._content("".join(shown)), calls

    def finish(self) -> tuple[str, list[ToolCall]]:
        """What is left at the end of generation (a call whose closing tag never came is still a call)."""
        rest, self.buffer = self.buffer, ""
        if self.inside:
            self.inside = False
            call = self._call(rest)
            if call is not None:
                return "", [call]
            return self._content(self.open + rest), []
        return self._content(rest), []

    def _content(self, text: str) -> str:
        return "" if self.calls and not text.strip() else text

    def _call(self, body: str) -> ToolCall | None:
        try:
            obj = json.loads(body.strip())
        except ValueError:
            return None
        if not isinstance(obj, dict) or obj.get("name") not in self.names:
            return None
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                return None
        if not isinstance(args, dict):
            return None
        self.calls += 1
        return ToolCall(new_call_id(), str(obj["name"]), args)
