"""Messages, tools and JSON schemas: turning requests into prompts and grammars.

Pure functions (no llama.cpp) so the tool policy and schema construction can be
unit tested. The tool-call policy is described in `integrations.embedded`.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Literal

from integrations.embedded.protocol import ApiError
from integrations.embedded.schemas import MAX_STRING, bounded_schema, check_literal_name

__all__ = [
    "MAX_STRING",
    "ChatMessage",
    "ToolSpec",
    "bounded_schema",
    "check_images",
    "new_call_id",
    "normalize_messages",
    "parse_tool_call",
    "parse_tools",
    "render_for_template",
    "structured_turns",
    "template_tools",
    "tool_call_schema",
    "tool_mode",
]



@dataclass
class ChatMessage:
    """A chat turn after validation: content is always text; tool-call arguments are objects."""

    role: str
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_name: str | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


def _text_content(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind == "text":
                    texts.append(str(part.get("text", "")))
                elif kind == "image_url":
                    url = part.get("image_url")
                    url = url.get("url") if isinstance(url, dict) else url
                    if isinstance(url, str) and url.startswith(("http://", "https://")):
                        raise ApiError(
                            400, "image URLs are not currently supported, please use base64 encoded data instead"
                        )
                    if isinstance(url, str) and url.startswith("data:"):
                        check_images([url.partition(",")[2]], f"{where}.content image_url")
                # other parts (audio, images as data) carry nothing this text-only model can use
            else:
                raise ApiError(400, f"invalid message content type in {where}")
        return "".join(texts)
    raise ApiError(400, f"invalid message content type in {where}")


def check_images(images: Any, where: str) -> None:
    """Refuse ``images`` that are not a list of base64 strings, as Ollama does (it decodes them)."""
    if images is None:
        return
    if not isinstance(images, list):
        raise ApiError(400, f"{where} must be an array of base64-encoded images")
    for k, image in enumerate(images):
        if not isinstance(image, str):
            raise ApiError(400, f"{where}[{k}] must be a base64-encoded string")
        try:
            base64.b64decode(image, validate=True)
        except ValueError:
            raise ApiError(400, f"{where}[{k}] is not valid base64: {image[:40]!r}") from None


def normalize_messages(raw: Any, *, openai: bool) -> list[ChatMessage]:
    """Validate ``messages``; on /v1 tool-call arguments are JSON strings, natively objects."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "messages must be an array")
    out: list[ChatMessage] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages[{i}] must be an object")
        role = m.get("role")
        if not isinstance(role, str) or not role:
            raise ApiError(400, f"messages[{i}].role is required")
        role = role.lower()
        if role == "developer":
            role = "system"
        check_images(m.get("images"), f"messages[{i}].images")
        calls: list[dict[str, Any]] = []
        raw_calls = m.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise ApiError(400, f"messages[{i}].tool_calls must be an array of calls, not {json.dumps(raw_calls)[:80]}")
        for j, call in enumerate(raw_calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise ApiError(400, f"messages[{i}].tool_calls[{j}].function.name is required")
            args = fn.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except ValueError:
                    raise ApiError(400, f"messages[{i}].tool_calls[{j}].function.arguments is not valid JSON") from None
            if not isinstance(args, dict):
                raise ApiError(400, f"messages[{i}].tool_calls[{j}].function.arguments must be an object")
            calls.append({"id": call.get("id"), "name": fn["name"], "arguments": args})
        tool_name = m.get("tool_name") or m.get("name")
        out.append(
            ChatMessage(
                role=role,
                content=_text_content(m.get("content"), f"messages[{i}]"),
                tool_calls=calls,
                tool_name=tool_name if isinstance(tool_name, str) else None,
                tool_call_id=m.get("tool_call_id") if isinstance(m.get("tool_call_id"), str) else None,
            )
        )
    return out


def parse_tools(raw: Any) -> list[ToolSpec]:
    """The function tools of a request (both APIs use OpenAI's ``{"type":"function","function":{...}}``)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "tools must be an array")
    tools: list[ToolSpec] = []
    for i, t in enumerate(raw):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ApiError(400, f"tools[{i}].function.name is required")
        check_literal_name(fn["name"], f"tools[{i}].function.name")
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise ApiError(400, f"tools[{i}].function.parameters must be an object")
        bounded_schema(params, f"tools[{i}].function.parameters")  # refuse now what the grammar cannot honour
        tools.append(ToolSpec(fn["name"], str(fn.get("description") or ""), params))
    return tools


ToolMode = Literal["none", "call"]


def tool_mode(tools: list[ToolSpec], tool_choice: Any, messages: list[ChatMessage]) -> tuple[ToolMode, list[ToolSpec]]:
    """Decide whether this turn is a tool call and which tools it may name.

    ``none`` -> text; ``required`` or a named function -> a forced call; ``auto``
    or absent -> a call when the last message is not a tool result, else text.
    """
    if not tools or tool_choice == "none":
        return "none", []
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        wanted = fn.get("name") if isinstance(fn, dict) else None
        chosen = [t for t in tools if t.name == wanted]
        if not chosen:
            raise ApiError(400, f"tool_choice names function {wanted!r}, which is not in tools")
        return "call", chosen
    if tool_choice == "required":
        return "call", tools
    if tool_choice not in (None, "auto"):
        raise ApiError(400, f"invalid tool_choice {tool_choice!r}: use 'none', 'auto', 'required' or a function")
    last = messages[-1] if messages else None
    if last is not None and last.role == "tool":
        return "none", []
    return "call", tools


def tool_call_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """``{"name": <one tool>, "arguments": <that tool's parameters>}``, one alternative per tool."""
    alternatives = []
    for t in tools:
        params = dict(t.parameters)
        params.setdefault("type", "object")
        if params.get("type") == "object" and "properties" not in params:
            params["properties"] = {}
        alternatives.append({
            "type": "object",
            "properties": {"name": {"const": t.name},
                           "arguments": bounded_schema(params, f"tools.{t.name}.parameters")},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        })
    return alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}


def _tools_text(tools: list[ToolSpec]) -> str:
    lines = [
        "You have access to the following tools. To call one, reply with only a JSON object "
        '{"name": <tool name>, "arguments": <arguments object>}.',
        "Tools:",
    ]
    for t in tools:
        lines.append(f"- {t.name}: {t.description}".rstrip(": ") + f"\n  parameters: {json.dumps(t.parameters)}")
    return "\n".join(lines)


def render_for_template(
    messages: list[ChatMessage],
    tools: list[ToolSpec],
    *,
    template_knows_tools: bool,
    default_system: str | None = None,
) -> list[dict[str, str]]:
    """Plain ``{"role","content"}`` turns any chat template can render.

    Tools go into the system message. With a template that has a tool role,
    assistant tool calls become a short note and results keep their role.
    Otherwise (SmolLM2) a call-only assistant turn is dropped and each result
    becomes a user turn naming the tool: a tiny model then answers from the
    result instead of imitating the previous turn.
    """
    out: list[dict[str, str]] = []
    has_system = any(m.role == "system" for m in messages)
    if default_system and not has_system:
        out.append({"role": "system", "content": default_system})
    names = {c["id"]: c["name"] for m in messages for c in m.tool_calls if c.get("id")}
    for m in messages:
        content = m.content
        role = m.role
        if m.tool_calls:
            if not template_knows_tools and not content.strip():
                continue
            calls = "\n".join(f"(called {c['name']} with {json.dumps(c['arguments'], ensure_ascii=False)})"
                              for c in m.tool_calls)
            content = f"{content}\n{calls}" if content else calls
        if role == "tool" and not template_knows_tools:
            name = m.tool_name or names.get(m.tool_call_id or "")
            label = f"The {name} tool returned" if name else "The tool returned"
            role, content = "user", f"{label}:\n{content}"
        out.append({"role": role, "content": content})
    if tools:
        text = _tools_text(tools)
        for turn in out:
            if turn["role"] == "system":
                turn["content"] = f"{turn['content']}\n\n{text}" if turn["content"] else text
                break
        else:
            out.insert(0, {"role": "system", "content": text})
    return out


def parse_tool_call(text: str, tools: list[ToolSpec]) -> tuple[str, dict[str, Any]]:
    """Read the grammar-constrained ``{"name","arguments"}`` object the model produced."""
    try:
        obj = json.loads(text)
    except ValueError:
        raise ApiError(500, f"the model's tool call is not valid JSON (output truncated?): {text[:200]!r}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not isinstance(obj.get("arguments"), dict):
        raise ApiError(500, f"the model's tool call has the wrong shape: {text[:200]!r}")
    if obj["name"] not in {t.name for t in tools}:
        raise ApiError(500, f"the model called an unknown tool {obj['name']!r}")
    return obj["name"], obj["arguments"]


_ALPHABET = string.ascii_lowercase + string.digits


def new_call_id() -> str:
    """``call_<8 chars>``, the id shape current Ollama servers use."""
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def structured_turns(messages: list[ChatMessage], default_system: str | None = None) -> list[dict[str, Any]]:
    """Messages in the OpenAI shape a tool-aware chat template renders itself (calls, results, roles).

    Tool-call arguments stay objects: templates serialise them (Qwen's ``| tojson``).
    """
    out: list[dict[str, Any]] = []
    if default_system and not any(m.role == "system" for m in messages):
        out.append({"role": "system", "content": default_system})
    for m in messages:
        turn: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            turn["tool_calls"] = [
                {"id": c.get("id") or new_call_id(), "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in m.tool_calls
            ]
        if m.role == "tool":
            if m.tool_call_id:
                turn["tool_call_id"] = m.tool_call_id
            if m.tool_name:
                turn["name"] = m.tool_name
        out.append(turn)
    return out


def template_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """Tools as chat templates expect them (OpenAI's function-tool shape)."""
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]
