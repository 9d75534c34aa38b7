"""OpenAI-compatible routes (``/v1``): a translation layer over the same generation core."""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.embedded.bridge import in_thread
from integrations.embedded.core import Calls, Core, Done, Job, Text, collect
from integrations.embedded.native import (
    MAX_TOP_LOGPROBS,
    NativeApi,
    logprobs_request,
    model_name,
    no_insert,
    renormalise,
    stream_flag,
    think_check,
)
from integrations.embedded.planning import chat_plan, prompt_plan
from integrations.embedded.prompting import normalize_messages, parse_tools
from integrations.embedded.protocol import ApiError, Options, parse_keep_alive, parse_options
from integrations.embedded.store import ModelRecord
from integrations.embedded.toolcalls import ToolCall
from integrations.embedded.wire import JSONResponse, openai_errors, read_json, sse

__all__ = ["oai_calls", "oai_options", "openai_routes", "response_format"]


def oai_options(record: ModelRecord, body: dict[str, Any]) -> Options:
    """OpenAI sampling fields as Ollama maps them (absent temperature and top_p mean 1.0 on ``/v1``)."""
    req: dict[str, Any] = {
        "temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
        "top_p": body["top_p"] if body.get("top_p") is not None else 1.0,
    }
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_completion_tokens")
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise ApiError(400, "max_tokens must be a non-negative integer")
        req["num_predict"] = max_tokens
    for key in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(key) is not None:
            req[key] = body[key]
    stop = body.get("stop")
    if stop is not None:
        req["stop"] = [stop] if isinstance(stop, str) else stop
    return parse_options(record.parameters, req)


def response_format(rf: Any) -> Any:
    """``response_format`` as the native ``format`` value."""
    if rf is None:
        return None
    if not isinstance(rf, dict):
        raise ApiError(400, "response_format must be an object")
    kind = rf.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        js = rf.get("json_schema")
        schema = js.get("schema") if isinstance(js, dict) else None
        if not isinstance(schema, dict):
            raise ApiError(400, "response_format.json_schema.schema must be an object")
        return schema
    if kind not in (None, "text"):
        raise ApiError(400, f"invalid response_format type {kind!r}")
    return None


def oai_calls(calls: list[ToolCall], start: int = 0) -> list[dict[str, Any]]:
    return [{"id": c.id, "index": start + i, "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
            for i, c in enumerate(calls)]


def _legacy_logprobs(scored: list[dict[str, Any]]) -> dict[str, Any]:
    """The Completions API's column-wise logprobs object."""
    offsets, at = [], 0
    for entry in scored:
        offsets.append(at)
        at += len(entry["token"])
    return {"tokens": [e["token"] for e in scored], "token_logprobs": [e["logprob"] for e in scored],
            "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in scored],
            "text_offset": offsets}


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _finish(done: Done, called: bool) -> str:
    if called:
        return "tool_calls"
    return "length" if done.result.done_reason == "length" else "stop"


class OpenAIApi:
    def __init__(self, core: Core, native: NativeApi) -> None:
        self.core = core
        self.store = core.store
        self.native = native

    def _record(self, body: dict[str, Any]) -> tuple[str, ModelRecord]:
        model = model_name(body, legacy_name=False)
        return model, self.store.require(model)

    async def chat(self, request: Request) -> Response:
        body = await read_json(request)
        model, record = self._record(body)
        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list) or not raw_messages:
            raise ApiError(400, "[] is too short - 'messages'")
        messages = normalize_messages(raw_messages, openai=True)
        tools = parse_tools(body.get("tools"))
        opts = oai_options(record, body)
        fmt = response_format(body.get("response_format"))
        think_check(body.get("reasoning_effort"), model)
        stream = stream_flag(body, False)
        include_usage = _include_usage(body)
        logprobs = logprobs_request(body)
        generation = await self.core.start(Job(record, opts, parse_keep_alive(None),
                                               chat_plan(messages, tools, body.get("tool_choice"), fmt,
                                                         "response_format.json_schema.schema"), logprobs))
        cid = f"chatcmpl-{random.randint(0, 998)}"
        created = int(time.time())
        head = {"id": cid, "created": created, "model": model, "system_fingerprint": "fp_ollama"}

        if not stream:
            out = await collect(generation, request)
            message: dict[str, Any] = {"role": "assistant", "content": out.text}
            if out.calls:
                message["tool_calls"] = oai_calls(out.calls)
            choice: dict[str, Any] = {"index": 0, "message": message,
                                      "finish_reason": _finish(out.done, bool(out.calls))}
            if logprobs is not None:
                choice["logprobs"] = {"content": out.logprobs}
            return JSONResponse({"id": cid, "object": "chat.completion", **head, "choices": [choice],
                                 "usage": out.done.usage()})

        def chunk(delta: dict[str, Any], finish_reason: str | None,
                  scored: list[dict[str, Any]] | None = None) -> dict[str, Any]:
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            if scored is not None and logprobs is not None:
                choice["logprobs"] = {"content": scored}
            return {"id": cid, "object": "chat.completion.chunk", **head, "choices": [choice]}

        async def frames() -> AsyncIterator[dict[str, Any]]:
            first = True
            called = 0
            async for event in generation.events():
                if isinstance(event, Text):
                    yield chunk({"role": "assistant", "content": event.text} if first else {"content": event.text},
                                None, event.logprobs)
                    first = False
                elif isinstance(event, Calls):
                    delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
                    delta["tool_calls"] = oai_calls(event.calls, called)
                    called += len(event.calls)
                    first = False
                    yield chunk(delta, None)
                else:
                    if first:
                        yield chunk({"role": "assistant", "content": ""}, None)
                    yield chunk({}, _finish(event, called > 0))
                    if include_usage:
                        yield {"id": cid, "object": "chat.completion.chunk", **head, "choices": [],
                               "usage": event.usage()}

        return sse(frames())

    async def completions(self, request: Request) -> Response:
        body = await read_json(request)
        model, record = self._record(body)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if body.get("suffix"):
            raise ApiError(400, no_insert(record))
        opts = oai_options(record, body)
        stream = stream_flag(body, False)
        include_usage = _include_usage(body)
        top = body.get("logprobs")
        if top is not None and (isinstance(top, bool) or not isinstance(top, int)
                                or not 0 <= top <= MAX_TOP_LOGPROBS):
            raise ApiError(400, f"logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}, not {top!r}")
        generation = await self.core.start(Job(record, opts, parse_keep_alive(None),
                                               prompt_plan(prompt, system=None), top))
        cid = f"cmpl-{random.randint(0, 998)}"
        created = int(time.time())
        zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

        def base(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {"id": cid, "object": "text_completion", "created": created, "model": model,
                    "system_fingerprint": "fp_ollama", "choices": choices}

        if not stream:
            out = await collect(generation, request)
            result = base([{"text": out.text, "index": 0,
                            "logprobs": None if top is None else _legacy_logprobs(out.logprobs),
                            "finish_reason": _finish(out.done, False)}])
            result["usage"] = out.done.usage()
            return JSONResponse(result)

        async def frames() -> AsyncIterator[dict[str, Any]]:
            async for event in generation.events():
                if isinstance(event, Text):
                    frame = base([{"text": event.text, "index": 0, "finish_reason": None}])
                    if top is not None:
                        frame["choices"][0]["logprobs"] = _legacy_logprobs(event.logprobs)
                elif isinstance(event, Done):
                    frame = base([{"text": "", "index": 0, "finish_reason": _finish(event, False)}])
                else:  # pragma: no cover - completions offer no tools
                    continue
                if include_usage:
                    frame["usage"] = zero
                yield frame
                if isinstance(event, Done) and include_usage:
                    last = base([])
                    last["usage"] = event.usage()
                    yield last

        return sse(frames())

    async def embeddings(self, request: Request) -> Response:
        body = await read_json(request)
        model, record = self._record(body)
        raw = body.get("input")
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            texts = list(raw)
        else:
            raise ApiError(400, "invalid input")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise ApiError(400, f"Invalid value for 'encoding_format' = {fmt}. Supported values: ['float', 'base64'].")
        vectors, count = await self.native.embed_vectors(record, {}, texts)
        dims = body.get("dimensions")
        if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0:
            vectors = [renormalise(v[:dims]) for v in vectors]
        data = []
        for i, vec in enumerate(vectors):
            emb: Any = vec
            if fmt == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
            data.append({"object": "embedding", "embedding": emb, "index": i})
        return JSONResponse({"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": count, "total_tokens": count}})

    def _model(self, record: ModelRecord, shown: str) -> dict[str, Any]:
        return {"id": shown, "object": "model", "created": int(record.modified), "owned_by": record.name.namespace}

    async def models(self, request: Request) -> Response:
        records = await in_thread(self.store.list)
        data = [self._model(r, r.short) for r in records]
        return JSONResponse({"object": "list", "data": data or None})

    async def model(self, request: Request) -> Response:
        model = request.path_params["model"]
        return JSONResponse(self._model(self.store.require(model), model))


def openai_routes(core: Core, native: NativeApi) -> list[Route]:
    api = OpenAIApi(core, native)
    o = openai_errors
    return [
        Route("/v1/chat/completions", o(api.chat), methods=["POST"]),
        Route("/v1/completions", o(api.completions), methods=["POST"]),
        Route("/v1/embeddings", o(api.embeddings), methods=["POST"]),
        Route("/v1/models", o(api.models), methods=["GET"]),
        Route("/v1/models/{model}", o(api.model), methods=["GET"]),
    ]
