"""OpenAI's Responses API (``/v1/responses``), stateless as Ollama serves it: a translation layer over the core.

The request's ``instructions`` and ``input`` items become chat messages, function
tools become the chat tools, and the core's events become Responses output items:
a ``message`` with ``output_text``, then one ``function_call`` per tool call.
Nothing is stored, so ``previous_response_id`` is refused: the caller sends the
whole conversation each time, as Ollama requires.
"""

from __future__ import annotations

import json
import secrets
import time
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
from integrations.embedded.store import ModelRecord
from integrations.embedded.toolcalls import ToolCall
from integrations.embedded.wire import JSONResponse, openai_errors, read_json, sse_events

__all__ = ["responses_request", "responses_routes"]

Frame = tuple[str, dict[str, Any]]


def _parts(content: Any, where: str) -> Any:
    """Responses content parts as chat content parts (text, and images as ``image_url``)."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, f"{where}.content must be a string or an array of content parts")
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "input_image":
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url") or ""}})
        elif kind == "input_file":
            raise ApiError(400, f"{where}.content[{j}]: file inputs are not supported; send the text instead")
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        else:
            raise ApiError(400, f"{where}.content[{j}] has unsupported type {kind!r}")
    return parts


def input_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``instructions`` and ``input`` as OpenAI chat messages (tool-call arguments stay JSON strings)."""
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise ApiError(400, "instructions must be a string")
    raw = body.get("input")
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
        return messages
    if not isinstance(raw, list):
        raise ApiError(400, "input is required: a string or an array of input items")
    names: dict[str, str] = {}
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise ApiError(400, f"{where}.role must be user, assistant, system or developer, not {role!r}")
            messages.append({"role": role, "content": _parts(item.get("content"), where)})
        elif kind == "function_call":
            call_id, name = item.get("call_id"), item.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str) or not name:
                raise ApiError(400, f"{where}: a function_call needs call_id and name")
            names[call_id] = name
            call = {"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": item.get("arguments") or "{}"}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise ApiError(400, f"{where}: a function_call_output needs call_id")
            output = item.get("output")
            content = output if isinstance(output, str) else _parts(output, where)
            message: dict[str, Any] = {"role": "tool", "content": content, "tool_call_id": call_id}
            if call_id in names:
                message["name"] = names[call_id]
            messages.append(message)
        elif kind == "reasoning":
            continue  # no model here thinks; earlier reasoning carries nothing to replay
        else:
            raise ApiError(400, f"{where} has unsupported type {kind!r}; use message, function_call or "
                                "function_call_output")
    if not messages:
        raise ApiError(400, "input must not be empty")
    return messages


def _tools(raw: Any) -> list[dict[str, Any]]:
    """Responses' flat function tools as chat tools; built-in tools (web search, files) are not served."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "tools must be an array")
    out = []
    for i, tool in enumerate(raw):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            raise ApiError(400, f"tools[{i}] has type {kind!r}; only function tools are supported")
        out.append({"type": "function", "function": {"name": tool.get("name"),
                                                     "description": tool.get("description"),
                                                     "parameters": tool.get("parameters")}})
    return out


def _tool_choice(choice: Any) -> Any:
    """``{"type": "function", "name": ...}`` is Responses' form of Chat Completions' named choice."""
    if isinstance(choice, dict) and choice.get("type") == "function" and "function" not in choice:
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice


def _text_format(text: Any) -> Any:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise ApiError(400, "text.format.schema must be an object")
        return schema
    if kind == "json_object":
        return "json"
    if kind not in (None, "text"):
        raise ApiError(400, f"invalid text.format type {kind!r}")
    return None


def _options(record: ModelRecord, body: dict[str, Any]) -> dict[str, Any]:
    # As Ollama: an absent temperature is 1.0 (OpenAI's default); an absent top_p is the model's.
    req: dict[str, Any] = {"temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
                           "top_p": body.get("top_p")}
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ApiError(400, "max_output_tokens must be a non-negative integer")
        req["num_predict"] = limit
    return req


def responses_request(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any, Any]:
    """Messages, tools, tool choice and format of a Responses request; what cannot be served is a 400."""
    if body.get("previous_response_id"):
        raise ApiError(400, "previous_response_id is not supported: this server stores no responses; "
                            "send the whole conversation in input (function_call and function_call_output items)")
    if body.get("conversation"):
        raise ApiError(400, "conversation is not supported: this server stores no conversations; "
                            "send the whole conversation in input")
    if body.get("background"):
        raise ApiError(400, "background responses are not supported; leave background unset")
    return input_messages(body), _tools(body.get("tools")), _tool_choice(body.get("tool_choice")), \
        _text_format(body.get("text"))


class _Shape:
    """The response object of one request, as created, in progress and completed."""

    def __init__(self, model: str, body: dict[str, Any]) -> None:
        self.id = "resp_" + secrets.token_hex(12)
        self.model = model
        self.body = body
        self.created = int(time.time())

    def message(self, text: str, status: str) -> dict[str, Any]:
        return {"id": "msg_" + self.id[5:], "type": "message", "status": status, "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}

    def call(self, call: ToolCall, index: int, status: str = "completed", *,
             with_arguments: bool = True) -> dict[str, Any]:
        arguments = json.dumps(call.arguments, ensure_ascii=False) if with_arguments else ""
        return {"id": f"fc_{self.id[5:]}_{index}", "type": "function_call", "status": status,
                "call_id": call.id, "name": call.name, "arguments": arguments}

    def response(self, status: str, output: list[dict[str, Any]], done: Done | None) -> dict[str, Any]:
        body = self.body
        text_format = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id, "object": "response", "created_at": self.created,
            "completed_at": int(time.time()) if done is not None else None,
            "status": status, "incomplete_details": incomplete, "model": self.model,
            "previous_response_id": None, "instructions": body.get("instructions"), "output": output,
            "error": None, "tools": body.get("tools") or [], "tool_choice": body.get("tool_choice") or "auto",
            "truncation": body.get("truncation") or "disabled", "parallel_tool_calls": True,
            "text": text_format, "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
            "presence_penalty": 0, "frequency_penalty": 0, "top_logprobs": 0, "reasoning": None,
            "max_output_tokens": body.get("max_output_tokens"), "max_tool_calls": None, "store": False,
            "background": False, "service_tier": "default", "metadata": body.get("metadata") or {},
            "usage": _usage(done) if done is not None else None,
        }


def _usage(done: Done) -> dict[str, Any]:
    r = done.result
    return {"input_tokens": r.prompt_eval_count, "output_tokens": r.eval_count,
            "total_tokens": r.prompt_eval_count + r.eval_count,
            "input_tokens_details": {"cached_tokens": r.prompt_cached},
            "output_tokens_details": {"reasoning_tokens": 0}}


def _status(done: Done) -> str:
    return "incomplete" if done.result.done_reason == "length" else "completed"


class ResponsesApi:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def create(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body, legacy_name=False)
        record = self.core.store.require(model)
        raw_messages, raw_tools, tool_choice, fmt = responses_request(body)
        reasoning = body.get("reasoning")
        think_check(reasoning.get("effort") if isinstance(reasoning, dict) else None, model)
        messages = normalize_messages(raw_messages, openai=True)
        tools = parse_tools(raw_tools)
        opts = parse_options(record.parameters, _options(record, body))
        stream = stream_flag(body, False)
        generation = await self.core.start(Job(record, opts, parse_keep_alive(None),
                                               chat_plan(messages, tools, tool_choice, fmt)))
        shape = _Shape(model, body)
        if not stream:
            out = await collect(generation, request)
            output = [shape.message(out.text, "completed")] if out.text or not out.calls else []
            output += [shape.call(call, i) for i, call in enumerate(out.calls)]
            return JSONResponse(shape.response(_status(out.done), output, out.done))
        return sse_events(_events(shape, generation.events()), _stream_error)


def _stream_error(status: int, message: str) -> Frame:
    return "error", {"type": "error", "code": str(status), "message": message, "param": None}


async def _events(shape: _Shape, events: AsyncIterator[Text | Calls | Done]) -> AsyncIterator[Frame]:
    """The core's events as Responses stream events, each with its ``sequence_number``."""
    sequence = 0

    def frame(kind: str, data: dict[str, Any]) -> Frame:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **data}
        sequence += 1
        return kind, data

    output: list[dict[str, Any]] = []
    text: list[str] | None = None  # the open message item's text, while one is open
    yield frame("response.created", {"response": shape.response("in_progress", [], None)})
    yield frame("response.in_progress", {"response": shape.response("in_progress", [], None)})

    def close_message() -> list[Frame]:
        nonlocal text
        if text is None:
            return []
        whole, index, text = "".join(text), len(output), None
        item = shape.message(whole, "completed")
        output.append(item)
        where = {"item_id": item["id"], "output_index": index}
        part = item["content"][0]
        return [frame("response.output_text.done", {**where, "content_index": 0, "text": whole, "logprobs": []}),
                frame("response.content_part.done", {**where, "content_index": 0, "part": part}),
                frame("response.output_item.done", {"output_index": index, "item": item})]

    async for event in events:
        if isinstance(event, Text):
            if text is None:
                text = []
                item = shape.message("", "in_progress")
                item["content"] = []
                yield frame("response.output_item.added", {"output_index": len(output), "item": item})
                yield frame("response.content_part.added", {
                    "item_id": item["id"], "output_index": len(output), "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})
            text.append(event.text)
            yield frame("response.output_text.delta", {"item_id": "msg_" + shape.id[5:], "output_index": len(output),
                                                       "content_index": 0, "delta": event.text, "logprobs": []})
        elif isinstance(event, Calls):
            for pending in close_message():
                yield pending
            for call in event.calls:
                index = len(output)
                item = shape.call(call, index)
                where = {"item_id": item["id"], "output_index": index}
                yield frame("response.output_item.added", {
                    "output_index": index, "item": shape.call(call, index, "in_progress", with_arguments=False)})
                yield frame("response.function_call_arguments.delta", {**where, "delta": item["arguments"]})
                yield frame("response.function_call_arguments.done", {**where, "arguments": item["arguments"]})
                yield frame("response.output_item.done", {"output_index": index, "item": item})
                output.append(item)
        else:
            for pending in close_message():
                yield pending
            # Always ``response.completed``, as Ollama sends it (the OpenAI SDK's stream helper requires
            # that event); a reply cut by ``max_output_tokens`` says so in its status and incomplete_details.
            yield frame("response.completed", {"response": shape.response(_status(event), output, event)})


def responses_routes(core: Core) -> list[Route]:
    api = ResponsesApi(core)
    return [Route("/v1/responses", openai_errors(api.create), methods=["POST"])]
