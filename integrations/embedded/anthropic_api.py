"""Anthropic's Messages API (``/v1/messages``), as Ollama serves it: a translation layer over the core.

``system`` and the content blocks become chat messages (``tool_use`` blocks are
assistant tool calls, ``tool_result`` blocks are tool messages), ``tools`` become
chat tools, and the core's events become content blocks: ``text``, then one
``tool_use`` per call. Errors have Anthropic's shape, so its SDK raises its own types.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.embedded.core import Calls, Core, Done, Job, Text, collect
from integrations.embedded.native import model_name, stream_flag, think_check
from integrations.embedded.planning import chat_plan
from integrations.embedded.prompting import normalize_messages, parse_tools
from integrations.embedded.protocol import ApiError, parse_keep_alive, parse_options
from integrations.embedded.toolcalls import ToolCall
from integrations.embedded.wire import JSONResponse, guarded, read_json, sse_events

__all__ = ["anthropic_error_body", "anthropic_routes", "messages_request"]

log = logging.getLogger("integrations.embedded")

Frame = tuple[str, dict[str, Any]]

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                503: "overloaded_error", 529: "overloaded_error"}


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error object: ``{"type": "error", "error": {"type", "message"}}``."""
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": "req_" + secrets.token_hex(12)}


def _block_text(content: Any, where: str) -> str:
    """A ``tool_result``'s or ``system``'s content: a string or text blocks (images carry nothing here)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ApiError(400, f"{where} must be a string or an array of content blocks")
    texts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
    return "".join(texts)


def _message(raw: Any, i: int) -> list[dict[str, Any]]:
    """One Anthropic message as chat messages: tool results first (each its own tool message), then the turn."""
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise ApiError(400, f"{where} must be an object")
    role = raw.get("role")
    if role not in ("user", "assistant"):
        raise ApiError(400, f"{where}.role must be user or assistant, not {role!r}")
    content = raw.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise ApiError(400, f"{where}.content must be a string or an array of content blocks")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        spot = f"{where}.content[{j}]"
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "image":
            source = block.get("source")
            if not isinstance(source, dict) or source.get("type") != "base64":
                raise ApiError(400, f"{spot}: only base64 image sources are supported")
        elif kind == "tool_use":
            if not block.get("id") or not block.get("name"):
                raise ApiError(400, f"{spot}: a tool_use block needs id and name")
            arguments = block.get("input") if block.get("input") is not None else {}
            calls.append({"id": block["id"], "type": "function",
                          "function": {"name": block["name"], "arguments": json.dumps(arguments)}})
        elif kind == "tool_result":
            text = _block_text(block.get("content"), f"{spot}.content")
            if block.get("is_error"):
                text = f"Error: {text}"
            results.append({"role": "tool", "content": text, "tool_call_id": block.get("tool_use_id")})
        elif kind in ("thinking", "redacted_thinking"):
            continue  # no model here thinks; earlier thinking carries nothing to replay
        else:
            raise ApiError(400, f"{spot} has unsupported type {kind!r}")
    turn: list[dict[str, Any]] = []
    if texts or calls or not results:
        message: dict[str, Any] = {"role": role, "content": "".join(texts)}
        if calls:
            message["tool_calls"] = calls
        turn.append(message)
    return [*results, *turn] if role == "user" else [*turn, *results]


def _tool_choice(choice: Any) -> Any:
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    mapped = {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))
    if mapped is None:
        raise ApiError(400, f"invalid tool_choice type {kind!r}: use auto, any, tool or none")
    return mapped


def messages_request(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """Chat messages, chat tools and tool choice of a Messages request; what cannot be served is a 400."""
    messages: list[dict[str, Any]] = []
    system = _block_text(body.get("system"), "system")
    if system:
        messages.append({"role": "system", "content": system})
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "messages: at least one message is required")
    names: dict[str, str] = {}
    for i, item in enumerate(raw):
        for message in _message(item, i):
            for call in message.get("tool_calls", ()):
                names[call["id"]] = call["function"]["name"]
            if message["role"] == "tool" and message.get("tool_call_id") in names:
                message["name"] = names[message["tool_call_id"]]
            messages.append(message)
    tools = []
    raw_tools = body.get("tools")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise ApiError(400, f"tools: {json.dumps(raw_tools)[:80]} is not a list of tools (name, input_schema)")
    for i, tool in enumerate(raw_tools or []):
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise ApiError(400, f"tools[{i}] has type {kind!r}; only custom tools (name, input_schema) are supported")
        tools.append({"type": "function", "function": {"name": tool.get("name"),
                                                       "description": tool.get("description"),
                                                       "parameters": tool.get("input_schema")}})
    return messages, tools, _tool_choice(body.get("tool_choice"))


def _options(body: dict[str, Any]) -> dict[str, Any]:
    limit = body.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ApiError(400, "max_tokens is required: a positive integer")
    stop = body.get("stop_sequences")
    return {"num_predict": limit, "temperature": body.get("temperature"), "top_p": body.get("top_p"),
            "top_k": body.get("top_k"), "stop": stop or None}


def _stop_reason(done: Done, called: bool) -> str:
    if called:
        return "tool_use"
    return "max_tokens" if done.result.done_reason == "length" else "end_turn"


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


class MessagesApi:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def create(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body, legacy_name=False)
        record = self.core.store.require(model)
        raw_messages, raw_tools, tool_choice = messages_request(body)
        thinking = body.get("thinking")
        think_check(isinstance(thinking, dict) and thinking.get("type") == "enabled", model)
        messages = normalize_messages(raw_messages, openai=True)
        tools = parse_tools(raw_tools)
        opts = parse_options(record.parameters, _options(body))
        stream = stream_flag(body, False)
        generation = await self.core.start(Job(record, opts, parse_keep_alive(None),
                                               chat_plan(messages, tools, tool_choice, None)))
        message_id = "msg_" + secrets.token_hex(12)
        head = {"id": message_id, "type": "message", "role": "assistant", "model": model}
        if not stream:
            out = await collect(generation, request)
            content: list[dict[str, Any]] = [{"type": "text", "text": out.text}] if out.text else []
            content += [_tool_use(call) for call in out.calls]
            r = out.done.result
            return JSONResponse({**head, "content": content, "stop_reason": _stop_reason(out.done, bool(out.calls)),
                                 "stop_sequence": None,
                                 "usage": {"input_tokens": r.prompt_eval_count, "output_tokens": r.eval_count}})
        start: dict[str, Any] = {**head, "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": len(generation.plan.tokens), "output_tokens": 0}}
        return sse_events(_events(start, generation.events()), _stream_error)


def _stream_error(status: int, message: str) -> Frame:
    body = anthropic_error_body(status, message)
    return "error", {"type": "error", "error": body["error"]}


async def _events(start: dict[str, Any], events: AsyncIterator[Text | Calls | Done]) -> AsyncIterator[Frame]:
    """The core's events as Messages stream events: one content block per text run and per tool call."""
    yield "message_start", {"type": "message_start", "message": start}
    index = 0
    text_open = False
    called = False
    async for event in events:
        if isinstance(event, Text):
            if not text_open:
                text_open = True
                yield "content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": event.text}}
        elif isinstance(event, Calls):
            if text_open:
                yield "content_block_stop", {"type": "content_block_stop", "index": index}
                index += 1
                text_open = False
            for call in event.calls:
                called = True
                yield "content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {**_tool_use(call), "input": {}}}
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": json.dumps(call.arguments)}}
                yield "content_block_stop", {"type": "content_block_stop", "index": index}
                index += 1
        else:
            if text_open:
                yield "content_block_stop", {"type": "content_block_stop", "index": index}
            r = event.result
            yield "message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": _stop_reason(event, called), "stop_sequence": None},
                                    "usage": {"input_tokens": r.prompt_eval_count, "output_tokens": r.eval_count}}
            yield "message_stop", {"type": "message_stop"}


def anthropic_routes(core: Core) -> list[Route]:
    api = MessagesApi(core)
    return [Route("/v1/messages", guarded(api.create, anthropic_error_body), methods=["POST"])]
