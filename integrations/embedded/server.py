"""HTTP routes (native ``/api`` and OpenAI ``/v1``), `EmbeddedServer` and `serve`.

Starlette on uvicorn, kept thin: handlers validate, then hand generation to a
worker thread (`_ThreadStream`) that pushes text pieces to the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import ipaddress
import json
import logging
import os
import random
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from integrations.embedded.prompting import (
    ChatMessage,
    ToolSpec,
    bounded_schema,
    new_call_id,
    normalize_messages,
    parse_tool_call,
    parse_tools,
    render_for_template,
    tool_call_schema,
    tool_mode,
)
from integrations.embedded.protocol import (
    FOREVER,
    ApiError,
    Options,
    format_parameters,
    local_time,
    parse_keep_alive,
    parse_options,
    utc_now,
)
from integrations.embedded.runtime import GenerationResult, LoadedModel, Runtime, schema_to_gbnf
from integrations.embedded.store import ModelRecord, Store
from integrations.errors import ConfigError

__all__ = ["MAX_BODY", "OLLAMA_VERSION", "EmbeddedServer", "build_app", "serve"]

log = logging.getLogger("integrations.embedded")

OLLAMA_VERSION = "0.32.15"
"""What ``/api/version`` reports: the Ollama release whose wire protocol this server mirrors."""

MAX_BODY = 32 * 1024 * 1024
GRAMMAR_MIN_TOKENS = 512
"""Grammar-constrained output (tool calls, JSON schemas) gets at least this budget so it always closes."""

T = TypeVar("T")


# -- responses ---------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _JSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return _dumps(content)


def _error(status: int, message: str) -> Response:
    return _JSON({"error": message}, status_code=status)


def _oai_error(status: int, message: str) -> Response:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return _JSON({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


Handler = Callable[[Request], Awaitable[Response]]


def _native(fn: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except Exception as exc:  # never let a bad request take the server down
            log.exception("unexpected error in %s", request.url.path)
            return _error(500, str(exc) or type(exc).__name__)

    return wrapped


def _openai(fn: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return _oai_error(exc.status, exc.message)
        except Exception as exc:
            log.exception("unexpected error in %s", request.url.path)
            return _oai_error(500, str(exc) or type(exc).__name__)

    return wrapped


async def _read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over `MAX_BODY` without buffering them."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"request body too large: {declared} bytes, the limit is {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"request body too large: the limit is {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "missing request body")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"json: cannot unmarshal {type(body).__name__} into a request object")
    return body


# -- threads -----------------------------------------------------------------


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work on a fresh thread (not the small default pool, which lock waits could starve)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def run() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:
            _call_soon(loop, settle, None, exc)
        else:
            _call_soon(loop, settle, value, None)

    threading.Thread(target=run, daemon=True).start()
    return await future


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # loop closed: the server is shutting down
        loop.call_soon_threadsafe(fn, *args)


_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _ThreadStream:
    """Runs ``work(emit, cancel)`` on a thread now; iterate it asynchronously for what it emits.

    Closing the iteration early (client went away) sets ``cancel``.
    """

    def __init__(self, work: Callable[[Callable[[Any], None], threading.Event], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancel = threading.Event()

        def run() -> None:
            try:
                work(self.emit, self.cancel)
            except BaseException as exc:
                self.emit(_Failure(exc))
            finally:
                self.emit(_END)

        threading.Thread(target=run, daemon=True).start()

    def emit(self, item: Any) -> None:
        _call_soon(self.loop, self.queue.put_nowait, item)

    async def items(self) -> AsyncIterator[Any]:
        try:
            while True:
                item = await self.queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            self.cancel.set()


def _ndjson(lines: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for obj in lines:
                yield _dumps(obj) + b"\n"
        except ApiError as exc:
            yield _dumps({"error": exc.message}) + b"\n"
        except Exception as exc:
            log.exception("stream failed")
            yield _dumps({"error": str(exc) or type(exc).__name__}) + b"\n"

    return StreamingResponse(body(), media_type="application/x-ndjson")


def _sse(frames: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for obj in frames:
                yield b"data: " + _dumps(obj) + b"\n\n"
        except ApiError as exc:
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(exc.status, "api_error")
            err = {"error": {"message": exc.message, "type": kind, "param": None, "code": None}}
            yield b"data: " + _dumps(err) + b"\n\n"
        except Exception as exc:
            log.exception("stream failed")
            err = {"error": {"message": str(exc), "type": "api_error", "param": None, "code": None}}
            yield b"data: " + _dumps(err) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# -- generation plans --------------------------------------------------------


@dataclass
class _Plan:
    """What to generate: the prompt, an optional grammar, and whether the output is a tool call."""

    prompt: str
    grammar: str | None
    tools: list[ToolSpec] | None  # set when the output must be parsed as a tool call
    constrained: bool


def _format_schema(fmt: Any) -> tuple[bool, dict[str, Any] | None]:
    """Native ``format``: "" / None -> unconstrained, "json" -> any JSON, an object -> that schema."""
    if fmt in (None, "", "null"):
        return False, None
    if fmt == "json":
        return True, None
    if isinstance(fmt, dict):
        return True, fmt
    if isinstance(fmt, str):
        try:
            parsed = json.loads(fmt)
        except ValueError:
            raise ApiError(400, f"invalid format: {fmt!r}; use \"json\" or a JSON schema") from None
        if isinstance(parsed, dict):
            return True, parsed
    raise ApiError(400, "invalid format: use \"json\" or a JSON schema object")


def _plan_chat(
    lm: LoadedModel,
    messages: list[ChatMessage],
    tools: list[ToolSpec],
    tool_choice: Any,
    fmt: Any,
) -> _Plan:
    mode, allowed = tool_mode(tools, tool_choice, messages)
    shown = allowed if mode == "call" else []  # after a tool result, no call instructions: answer in prose
    turns = render_for_template(messages, shown, template_knows_tools=lm.template_knows_tools,
                                default_system=lm.record.system)
    prompt = lm.render_chat(turns)
    if mode == "call":
        return _Plan(prompt, schema_to_gbnf(tool_call_schema(allowed)), allowed, True)
    wants_json, schema = _format_schema(fmt)
    if wants_json:
        return _Plan(prompt, schema_to_gbnf(bounded_schema(schema) if schema else None), None, schema is not None)
    return _Plan(prompt, None, None, False)


def _budget(opts: Options, plan: _Plan) -> Options:
    if plan.constrained and 0 <= opts.num_predict < GRAMMAR_MIN_TOKENS:
        opts.num_predict = GRAMMAR_MIN_TOKENS
    return opts


def _metrics(result: GenerationResult, load_seconds: float, started: float) -> dict[str, Any]:
    out = {
        "total_duration": int((time.perf_counter() - started) * 1e9),
        "load_duration": int(load_seconds * 1e9),
        "prompt_eval_count": result.prompt_eval_count,
        "prompt_eval_duration": result.prompt_eval_duration,
        "eval_count": result.eval_count,
        "eval_duration": result.eval_duration,
    }
    return {k: v for k, v in out.items() if v}


def _think_check(body: dict[str, Any], model: str) -> None:
    think = body.get("think")
    if think not in (None, False, "none", ""):
        raise ApiError(400, f'"{model}" does not support thinking')


# -- the application ---------------------------------------------------------


def _model_name(body: dict[str, Any], *, legacy_name: bool = True) -> str:
    """The request's ``model`` (or the legacy ``name``), or Ollama's 400 when it is missing."""
    model = body.get("model") or (body.get("name") if legacy_name else None)
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required")
    return model


class _Api:
    def __init__(self, store: Store, runtime: Runtime) -> None:
        self.store = store
        self.runtime = runtime

    # helpers

    def _record(self, body: dict[str, Any], *, legacy_name: bool = True) -> tuple[str, ModelRecord]:
        model = _model_name(body, legacy_name=legacy_name)
        return model, self.store.require(model)

    async def _acquire(self, record: ModelRecord, opts: Options) -> tuple[LoadedModel, float]:
        trained = record.info.context_length
        if opts.num_ctx is not None and opts.num_ctx > trained:
            raise ApiError(
                400, f"num_ctx {opts.num_ctx} exceeds the trained context length {trained} of {record.short}"
            )
        ready = self.runtime.try_acquire(record, opts)
        if ready is not None:
            return ready, 0.0
        return await _in_thread(self.runtime.acquire, record, opts)

    async def _load_or_unload(self, record: ModelRecord, opts: Options, keep_alive: float) -> str:
        if keep_alive == 0:
            await _in_thread(self.runtime.unload, record)
            return "unload"
        lm, _ = await self._acquire(record, opts)
        self.runtime.release(lm, keep_alive)
        return "load"

    def _run(
        self,
        lm: LoadedModel,
        keep_alive: float,
        prompt_tokens: list[int],
        opts: Options,
        grammar: str | None,
        stream: bool,
    ) -> tuple[_ThreadStream | None, Callable[[], GenerationResult] | None]:
        """Start generation: a stream of text pieces then a `GenerationResult`, or a blocking call."""

        def work(emit: Callable[[Any], None], cancel: threading.Event) -> None:
            try:
                result = lm.generate(prompt_tokens, opts, grammar, emit, cancel)
            finally:
                self.runtime.release(lm, keep_alive)
            emit(result)

        if stream:
            return _ThreadStream(work), None

        def blocking() -> GenerationResult:
            try:
                return lm.generate(prompt_tokens, opts, grammar, None, None)
            finally:
                self.runtime.release(lm, keep_alive)

        return None, blocking

    # trivial routes

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        return _JSON({"version": OLLAMA_VERSION})

    # models

    def _model_entry(self, record: ModelRecord) -> dict[str, Any]:
        info = record.info
        details = record.details()
        details["context_length"] = info.context_length
        if info.embedding_length:
            details["embedding_length"] = info.embedding_length
        return {
            "name": record.short,
            "model": record.short,
            "modified_at": local_time(record.modified),
            "size": record.size,
            "digest": record.digest,
            "details": details,
            "capabilities": record.capabilities,
        }

    async def tags(self, request: Request) -> Response:
        records = await _in_thread(self.store.list)
        entries = await _in_thread(lambda: [self._model_entry(r) for r in records])
        return _JSON({"models": entries})

    async def show(self, request: Request) -> Response:
        body = await _read_json(request)
        model = _model_name(body)
        from integrations.names import parse_model_name

        record = self.store.require(model, f"model '{parse_model_name(model).short}' not found")
        info = await _in_thread(lambda: record.info)
        verbose = bool(body.get("verbose"))
        lines = [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            f"# FROM {record.short}",
            "",
            f"FROM {record.model_path}",
        ]
        if info.chat_template:
            lines.append(f'TEMPLATE """{info.chat_template}"""')
        if record.system:
            lines.append(f'SYSTEM """{record.system}"""')
        for key in sorted(record.parameters):
            value = record.parameters[key]
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"PARAMETER {key} {item}")
        out: dict[str, Any] = {
            "license": str(info.metadata.get("general.license", "")),
            "modelfile": "\n".join(lines) + "\n",
        }
        if record.parameters:
            out["parameters"] = format_parameters(record.parameters)
        out["template"] = info.chat_template or "{{ .Prompt }}"
        if record.system:
            out["system"] = record.system
        out["details"] = record.details()
        out["model_info"] = info.model_info(verbose)
        if verbose:
            out["tensors"] = [
                {"name": t["name"], "type": str(t["type"]), "shape": t["shape"]} for t in info.tensors
            ]
        out["capabilities"] = record.capabilities
        out["modified_at"] = local_time(record.modified)
        if not out["license"]:
            del out["license"]
        return _JSON(out)

    async def pull(self, request: Request) -> Response:
        body = await _read_json(request)
        model = _model_name(body)
        progress = self.store.pull(model)
        return await self._progress_response(progress, body.get("stream", True) is not False)

    async def _progress_response(self, progress: Iterator[dict[str, Any]], stream: bool) -> Response:
        if not stream:
            def drain() -> None:
                for _ in progress:
                    pass

            await _in_thread(drain)
            return _JSON({"status": "success"})

        def work(emit: Callable[[Any], None], cancel: threading.Event) -> None:
            for item in progress:
                emit(item)

        return _ndjson(_ThreadStream(work).items())

    async def create(self, request: Request) -> Response:
        body = await _read_json(request)
        model = _model_name(body)
        base = body.get("from")
        if body.get("files"):
            raise ApiError(400, "creating models from uploaded files is not supported here; use 'from'")
        if not base:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        if body.get("quantize"):
            raise ApiError(400, "quantize is not supported by the embedded server")
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            raise ApiError(400, "system must be a string")
        progress = self.store.create(model, base, body.get("parameters"), system)
        return await self._progress_response(progress, body.get("stream", True) is not False)

    async def delete(self, request: Request) -> Response:
        body = await _read_json(request)
        model = _model_name(body)
        record = self.store.require(model)
        await _in_thread(self.runtime.unload, record)
        await _in_thread(self.store.delete, model)
        return Response(status_code=200)

    async def copy(self, request: Request) -> Response:
        body = await _read_json(request)
        src, dst = body.get("source"), body.get("destination")
        from integrations.names import parse_model_name

        for label, value in (("source", src), ("destination", dst)):
            try:
                parse_model_name(str(value) if value is not None else "")
            except ConfigError:
                raise ApiError(400, f'{label} "{value}" is invalid') from None
        record = self.store.require(str(src), f'model "{src}" not found')
        target = self.store.manifest_path(parse_model_name(str(dst)))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(record.manifest_path.read_bytes())
        return Response(status_code=200)

    async def ps(self, request: Request) -> Response:
        entries = []
        for lm in self.runtime.loaded():
            record = lm.record
            entries.append({
                "name": record.short,
                "model": record.short,
                "size": lm.size,
                "digest": record.digest,
                "details": record.details(),
                "expires_at": local_time(lm.expires_at),
                "size_vram": 0,
                "context_length": lm.n_ctx,
            })
        return _JSON({"models": entries})

    # generation (native)

    async def chat(self, request: Request) -> Response:
        started = time.perf_counter()
        body = await _read_json(request)
        model = _model_name(body, legacy_name=False)
        record = self.store.require(model)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        messages = normalize_messages(body.get("messages"), openai=False)
        _think_check(body, model)
        tools = parse_tools(body.get("tools"))
        if not messages:
            reason = await self._load_or_unload(record, opts, keep_alive)
            return _JSON({"model": model, "created_at": utc_now(), "message": {"role": "assistant", "content": ""},
                          "done_reason": reason, "done": True})
        lm, load_s = await self._acquire(record, opts)
        try:
            plan = _plan_chat(lm, messages, tools, None, body.get("format"))
            tokens = lm.tokenize(plan.prompt)
        except BaseException:
            self.runtime.release(lm, keep_alive)
            raise
        opts = _budget(opts, plan)
        stream = body.get("stream", True) is not False
        streamer, blocking = self._run(lm, keep_alive, tokens, opts, plan.grammar, stream and plan.tools is None)

        def final(result: GenerationResult) -> dict[str, Any]:
            message: dict[str, Any] = {"role": "assistant", "content": "" if stream else result.text}
            if plan.tools is not None:
                name, args = parse_tool_call(result.text, plan.tools)
                message["content"] = ""
                call = {"index": 0, "name": name, "arguments": args}
                message["tool_calls"] = [{"id": new_call_id(), "function": call}]
            return {"model": model, "created_at": utc_now(), "message": message,
                    "done_reason": result.done_reason, "done": True, **_metrics(result, load_s, started)}

        if blocking is not None and not stream:
            result = await _in_thread(blocking)
            return _JSON(final(result))
        if blocking is not None:  # a streamed tool call: one chunk with the call, then the final chunk
            async def tool_lines() -> AsyncIterator[dict[str, Any]]:
                result = await _in_thread(blocking)
                done = final(result)
                yield {"model": model, "created_at": done["created_at"], "message": done["message"], "done": False}
                done["message"] = {"role": "assistant", "content": ""}
                yield done

            return _ndjson(tool_lines())
        assert streamer is not None

        async def lines() -> AsyncIterator[dict[str, Any]]:
            async for item in streamer.items():
                if isinstance(item, GenerationResult):
                    yield final(item)
                else:
                    yield {"model": model, "created_at": utc_now(),
                           "message": {"role": "assistant", "content": item}, "done": False}

        return _ndjson(lines())

    async def generate(self, request: Request) -> Response:
        started = time.perf_counter()
        body = await _read_json(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(404, f"model '{model or ''}' not found")
        record = self.store.require(model)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        _think_check(body, model)
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if body.get("suffix"):
            raise ApiError(400, _no_insert(record))
        if not prompt and not body.get("images"):
            reason = await self._load_or_unload(record, opts, keep_alive)
            return _JSON({"model": model, "created_at": utc_now(), "response": "", "done": True, "done_reason": reason})
        lm, load_s = await self._acquire(record, opts)
        try:
            system = body.get("system")
            if body.get("raw"):
                text = prompt
            else:
                turns: list[dict[str, str]] = []
                sys_text = system if isinstance(system, str) and system else record.system
                if sys_text:
                    turns.append({"role": "system", "content": sys_text})
                turns.append({"role": "user", "content": prompt})
                text = lm.render_chat(turns)
            tokens = lm.tokenize(text)
            context = body.get("context")
            if isinstance(context, list) and all(isinstance(t, int) for t in context):
                tokens = list(context) + tokens
            wants_json, schema = _format_schema(body.get("format"))
            grammar = schema_to_gbnf(bounded_schema(schema) if schema else None) if wants_json else None
            plan = _Plan(text, grammar, None, schema is not None)
        except BaseException:
            self.runtime.release(lm, keep_alive)
            raise
        opts = _budget(opts, plan)
        stream = body.get("stream", True) is not False
        streamer, blocking = self._run(lm, keep_alive, tokens, opts, plan.grammar, stream)

        def final(result: GenerationResult) -> dict[str, Any]:
            return {"model": model, "created_at": utc_now(), "response": "" if stream else result.text,
                    "done": True, "done_reason": result.done_reason, "context": result.tokens,
                    **_metrics(result, load_s, started)}

        if blocking is not None:
            return _JSON(final(await _in_thread(blocking)))
        assert streamer is not None

        async def lines() -> AsyncIterator[dict[str, Any]]:
            async for item in streamer.items():
                if isinstance(item, GenerationResult):
                    yield final(item)
                else:
                    yield {"model": model, "created_at": utc_now(), "response": item, "done": False}

        return _ndjson(lines())

    async def _embed_vectors(
        self, record: ModelRecord, body: dict[str, Any], texts: list[str]
    ) -> tuple[list[list[float]], int, float]:
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        lm, load_s = await self._acquire(record, opts)
        try:
            vectors, count = await _in_thread(lm.embed, texts, body.get("truncate", True) is not False)
        finally:
            self.runtime.release(lm, keep_alive)
        return vectors, count, load_s

    async def embed(self, request: Request) -> Response:
        started = time.perf_counter()
        body = await _read_json(request)
        model = _model_name(body, legacy_name=False)
        record = self.store.require(model, f'model "{model}" not found, try pulling it first')
        raw = body.get("input")
        texts: list[str]
        if raw is None or raw == "" or raw == []:
            texts = []
        elif isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            texts = list(raw)
        else:
            raise ApiError(400, "invalid input type")
        dims = body.get("dimensions")
        if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0):
            raise ApiError(400, "dimensions must be a positive integer")
        if not texts:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
            await self._load_or_unload(record, parse_options(record.parameters, body.get("options")), keep_alive)
            return _JSON({"model": model, "embeddings": []})
        vectors, count, load_s = await self._embed_vectors(record, body, texts)
        if dims:
            vectors = [_renormalise(v[:dims]) for v in vectors]
        out = {"model": model, "embeddings": vectors, "total_duration": int((time.perf_counter() - started) * 1e9),
               "load_duration": int(load_s * 1e9), "prompt_eval_count": count}
        return _JSON({k: v for k, v in out.items() if v or k == "embeddings"})

    async def embeddings_legacy(self, request: Request) -> Response:
        body = await _read_json(request)
        model = _model_name(body, legacy_name=False)
        record = self.store.require(model, f'model "{model}" not found, try pulling it first')
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if not prompt:
            return _JSON({"embedding": []})
        vectors, _, _ = await self._embed_vectors(record, body, [prompt])
        return _JSON({"embedding": vectors[0]})

    # OpenAI-compatible

    def _oai_options(self, record: ModelRecord, body: dict[str, Any]) -> Options:
        req: dict[str, Any] = {
            "temperature": body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0,
            "top_p": body.get("top_p", 1.0) if body.get("top_p") is not None else 1.0,
        }
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_completion_tokens")
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
                raise ApiError(400, "max_tokens must be a non-negative integer")
            req["num_predict"] = max_tokens
        for src, dst in (("seed", "seed"), ("frequency_penalty", "frequency_penalty"),
                         ("presence_penalty", "presence_penalty")):
            if body.get(src) is not None:
                req[dst] = body[src]
        stop = body.get("stop")
        if stop is not None:
            req["stop"] = [stop] if isinstance(stop, str) else stop
        return parse_options(record.parameters, req)

    def _oai_record(self, body: dict[str, Any]) -> tuple[str, ModelRecord]:
        model = _model_name(body, legacy_name=False)
        return model, self.store.require(model)

    async def oai_chat(self, request: Request) -> Response:
        body = await _read_json(request)
        model, record = self._oai_record(body)
        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list) or not raw_messages:
            raise ApiError(400, "[] is too short - 'messages'")
        messages = normalize_messages(raw_messages, openai=True)
        tools = parse_tools(body.get("tools"))
        opts = self._oai_options(record, body)
        fmt: Any = None
        rf = body.get("response_format")
        if isinstance(rf, dict):
            kind = rf.get("type")
            if kind == "json_object":
                fmt = "json"
            elif kind == "json_schema":
                js = rf.get("json_schema")
                schema = js.get("schema") if isinstance(js, dict) else None
                if not isinstance(schema, dict):
                    raise ApiError(400, "response_format.json_schema.schema must be an object")
                fmt = schema
            elif kind not in (None, "text"):
                raise ApiError(400, f"invalid response_format type {kind!r}")
        effort = body.get("reasoning_effort")
        if effort not in (None, "none"):
            raise ApiError(400, f'"{model}" does not support thinking')
        keep_alive = parse_keep_alive(None)
        lm, _ = await self._acquire(record, opts)
        try:
            plan = _plan_chat(lm, messages, tools, body.get("tool_choice"), fmt)
            tokens = lm.tokenize(plan.prompt)
        except BaseException:
            self.runtime.release(lm, keep_alive)
            raise
        opts = _budget(opts, plan)
        stream = bool(body.get("stream"))
        include_usage = _include_usage(body)
        cid = f"chatcmpl-{random.randint(0, 998)}"
        created = int(time.time())
        streamer, blocking = self._run(lm, keep_alive, tokens, opts, plan.grammar, stream and plan.tools is None)

        def usage(result: GenerationResult) -> dict[str, int]:
            return {"prompt_tokens": result.prompt_eval_count, "completion_tokens": result.eval_count,
                    "total_tokens": result.prompt_eval_count + result.eval_count}

        def tool_calls(result: GenerationResult) -> list[dict[str, Any]]:
            assert plan.tools is not None
            name, args = parse_tool_call(result.text, plan.tools)
            return [{"id": new_call_id(), "index": 0, "type": "function",
                     "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}]

        def finish(result: GenerationResult) -> str:
            if plan.tools is not None:
                return "tool_calls"
            return "length" if result.done_reason == "length" else "stop"

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": "fp_ollama",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        if not stream:
            assert blocking is not None
            result = await _in_thread(blocking)
            message: dict[str, Any] = {"role": "assistant", "content": result.text}
            if plan.tools is not None:
                message["content"] = ""
                message["tool_calls"] = tool_calls(result)
            return _JSON({"id": cid, "object": "chat.completion", "created": created, "model": model,
                          "system_fingerprint": "fp_ollama",
                          "choices": [{"index": 0, "message": message, "finish_reason": finish(result)}],
                          "usage": usage(result)})

        async def frames() -> AsyncIterator[dict[str, Any]]:
            result: GenerationResult | None = None
            first = True
            if blocking is not None:  # tool call: generated whole, sent in one delta
                result = await _in_thread(blocking)
                yield chunk({"role": "assistant", "content": "", "tool_calls": tool_calls(result)}, None)
                first = False
            else:
                assert streamer is not None
                async for item in streamer.items():
                    if isinstance(item, GenerationResult):
                        result = item
                        continue
                    delta: dict[str, Any] = {"role": "assistant", "content": item} if first else {"content": item}
                    first = False
                    yield chunk(delta, None)
            assert result is not None
            if first:
                yield chunk({"role": "assistant", "content": ""}, None)
            yield chunk({}, finish(result))
            if include_usage:
                yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "system_fingerprint": "fp_ollama", "choices": [], "usage": usage(result)}

        return _sse(frames())

    async def oai_completions(self, request: Request) -> Response:
        body = await _read_json(request)
        model, record = self._oai_record(body)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if body.get("suffix"):
            raise ApiError(400, _no_insert(record))
        opts = self._oai_options(record, body)
        keep_alive = parse_keep_alive(None)
        lm, _ = await self._acquire(record, opts)
        try:
            turns = ([{"role": "system", "content": record.system}] if record.system else [])
            turns.append({"role": "user", "content": prompt})
            tokens = lm.tokenize(lm.render_chat(turns))
        except BaseException:
            self.runtime.release(lm, keep_alive)
            raise
        stream = bool(body.get("stream"))
        include_usage = _include_usage(body)
        cid = f"cmpl-{random.randint(0, 998)}"
        created = int(time.time())
        streamer, blocking = self._run(lm, keep_alive, tokens, opts, None, stream)

        def usage(result: GenerationResult | None) -> dict[str, int]:
            if result is None:
                return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            return {"prompt_tokens": result.prompt_eval_count, "completion_tokens": result.eval_count,
                    "total_tokens": result.prompt_eval_count + result.eval_count}

        def base(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {"id": cid, "object": "text_completion", "created": created, "model": model,
                    "system_fingerprint": "fp_ollama", "choices": choices}

        if blocking is not None:
            result = await _in_thread(blocking)
            out = base([{"text": result.text, "index": 0, "logprobs": None,
                         "finish_reason": "length" if result.done_reason == "length" else "stop"}])
            out["usage"] = usage(result)
            return _JSON(out)
        assert streamer is not None

        async def frames() -> AsyncIterator[dict[str, Any]]:
            result: GenerationResult | None = None
            async for item in streamer.items():
                if isinstance(item, GenerationResult):
                    result = item
                    continue
                frame = base([{"text": item, "index": 0, "finish_reason": None}])
                if include_usage:
                    frame["usage"] = usage(None)
                yield frame
            assert result is not None
            frame = base([{"text": "", "index": 0,
                           "finish_reason": "length" if result.done_reason == "length" else "stop"}])
            if include_usage:
                frame["usage"] = usage(None)
            yield frame
            if include_usage:
                last = base([])
                last["usage"] = usage(result)
                yield last

        return _sse(frames())

    async def oai_embeddings(self, request: Request) -> Response:
        body = await _read_json(request)
        model, record = self._oai_record(body)
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
        vectors, count, _ = await self._embed_vectors(record, {}, texts)
        dims = body.get("dimensions")
        if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0:
            vectors = [_renormalise(v[:dims]) for v in vectors]
        data = []
        for i, vec in enumerate(vectors):
            emb: Any = vec
            if fmt == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
            data.append({"object": "embedding", "embedding": emb, "index": i})
        return _JSON({"object": "list", "data": data, "model": model,
                      "usage": {"prompt_tokens": count, "total_tokens": count}})

    def _oai_model(self, record: ModelRecord, shown: str) -> dict[str, Any]:
        return {"id": shown, "object": "model", "created": int(record.modified),
                "owned_by": record.name.namespace}

    async def oai_models(self, request: Request) -> Response:
        records = await _in_thread(self.store.list)
        data = [self._oai_model(r, r.short) for r in records]
        return _JSON({"object": "list", "data": data or None})

    async def oai_model(self, request: Request) -> Response:
        model = request.path_params["model"]
        return _JSON(self._oai_model(self.store.require(model), model))


def _no_insert(record: ModelRecord) -> str:
    return f"{record.name.host}/{record.name.namespace}/{record.name.model}:{record.name.tag} does not support insert"


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _renormalise(vec: list[float]) -> list[float]:
    norm = sum(x * x for x in vec) ** 0.5 or 1.0
    return [x / norm for x in vec]


async def _not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("405 method not allowed", status_code=405)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    if status == 405:
        return await _method_not_allowed(request, exc)
    return PlainTextResponse(str(getattr(exc, "detail", "")), status_code=status)


_DEFAULT_ORIGINS = (
    *(f"{scheme}://{host}{port}" for host in ("localhost", "127.0.0.1", "0.0.0.0")
      for scheme in ("http", "https") for port in ("", ":*")),
    "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
)
_CORS_HEADERS = {"authorization", "content-type", "user-agent", "accept", "x-requested-with", "openai-beta"}


def _origin_allowed(origin: str) -> bool:
    extra = [o.strip() for o in os.environ.get("OLLAMA_ORIGINS", "").split(",") if o.strip()]
    return any(fnmatch.fnmatchcase(origin, pattern) for pattern in (*_DEFAULT_ORIGINS, *extra))


def _host_allowed(host: str) -> bool:
    """Ollama's DNS-rebinding guard for loopback binds: loopback/private IPs and local names only."""
    if not host:
        return True
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    name = name.lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    if name == socket.gethostname().lower():
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified


class _Guard:
    """Browser protections as Ollama has them: the Host check (loopback binds) and the CORS Origin allow-list.

    Requests without an ``Origin`` header (SDKs, curl) are unaffected by CORS.
    """

    def __init__(self, app: Any, check_host: bool) -> None:
        self.app = app
        self.check_host = check_host

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.check_host and not _host_allowed(headers.get("host", "")):
            await self._empty(send, 403)
            return
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not _origin_allowed(origin):
            await self._empty(send, 403)
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            wanted = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
            allowed = [h for h in wanted if h in _CORS_HEADERS or h.startswith("x-stainless-")]
            cors += [
                (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
                (b"access-control-allow-headers", ", ".join(allowed).encode("latin-1")),
                (b"access-control-max-age", b"43200"),
            ]
            await self._empty(send, 204, cors)
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _empty(send: Any, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"0"), *(headers or [])]})
        await send({"type": "http.response.body", "body": b""})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_app(store: Store, runtime: Runtime, *, check_host: bool = True) -> Any:
    """The ASGI application serving ``store`` through ``runtime``.

    ``check_host`` enables Ollama's Host-header check; servers bound to loopback use it.
    """
    api = _Api(store, runtime)
    n, o = _native, _openai
    routes = [
        Route("/", api.root, methods=["GET", "HEAD"]),
        Route("/api/version", n(api.version), methods=["GET", "HEAD"]),
        Route("/api/tags", n(api.tags), methods=["GET", "HEAD"]),
        Route("/api/show", n(api.show), methods=["POST"]),
        Route("/api/pull", n(api.pull), methods=["POST"]),
        Route("/api/create", n(api.create), methods=["POST"]),
        Route("/api/delete", n(api.delete), methods=["DELETE"]),
        Route("/api/copy", n(api.copy), methods=["POST"]),
        Route("/api/ps", n(api.ps), methods=["GET"]),
        Route("/api/generate", n(api.generate), methods=["POST"]),
        Route("/api/chat", n(api.chat), methods=["POST"]),
        Route("/api/embed", n(api.embed), methods=["POST"]),
        Route("/api/embeddings", n(api.embeddings_legacy), methods=["POST"]),
        Route("/v1/chat/completions", o(api.oai_chat), methods=["POST"]),
        Route("/v1/completions", o(api.oai_completions), methods=["POST"]),
        Route("/v1/embeddings", o(api.oai_embeddings), methods=["POST"]),
        Route("/v1/models", o(api.oai_models), methods=["GET"]),
        Route("/v1/models/{model}", o(api.oai_model), methods=["GET"]),
    ]
    return _Guard(Starlette(routes=routes, exception_handlers={HTTPException: _http_error}), check_host)


# -- servers -----------------------------------------------------------------


def _check_bind(host: str, allow_remote: bool) -> None:
    if allow_remote:
        return
    if not _is_loopback(host):
        raise ConfigError(
            f"refusing to bind the embedded Ollama server to {host!r}: it has no authentication, so it only "
            "listens on loopback (127.0.0.1) by default. Bind 127.0.0.1, or pass allow_remote=True "
            "(CLI: --allow-remote) if the network is trusted."
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another port (port=0 picks a free one)."
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _ensure_models(store: Store, names: Iterable[str]) -> list[ModelRecord]:
    records = []
    for name in names:
        record = store.resolve(name)
        if record is None:
            try:
                for _ in store.pull(name):
                    pass
            except ApiError as exc:
                raise ConfigError(f"cannot provide model {name!r}: {exc.message}") from None
            record = store.resolve(name)
        assert record is not None
        records.append(record)
    return records


class EmbeddedServer:
    """An Ollama-compatible server on a background thread.

    Usage (``preload`` pulls the model when missing and keeps it loaded)::

        with EmbeddedServer(preload=["smollm2:135m"]) as server:
            ollama.Client(host=server.url).list()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        models_dir: str | Path | None = None,
        *,
        allow_remote: bool = False,
        preload: Iterable[str] = (),
    ) -> None:
        _check_bind(host, allow_remote)
        self.host = host
        self._requested_port = port
        self.store = Store(models_dir)
        self.runtime = Runtime()
        self.preload = tuple(preload)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmbeddedServer:
        """Bind, serve on a daemon thread, and return once the socket accepts connections."""
        if self._thread is not None:
            return self
        records = _ensure_models(self.store, self.preload)
        self._sock = _bind(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        app = build_app(self.store, self.runtime, check_host=_is_loopback(self.host))
        config = uvicorn.Config(app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        self._server = server
        self.runtime.start()
        sock = self._sock
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="embedded-ollama", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive():
                raise ConfigError(f"the embedded server on {self.url} failed to start; see the log for the cause")
            if time.monotonic() > deadline:
                raise ConfigError(f"the embedded server on {self.url} did not start within 30 s")
            time.sleep(0.005)
        for record in records:
            lm, _ = self.runtime.acquire(record, parse_options(record.parameters))
            self.runtime.release(lm, FOREVER)  # preloaded models stay loaded
        log.info("embedded Ollama server listening on %s (models dir %s)", self.url, self.store.root)
        return self

    def stop(self) -> None:
        """Stop serving and unload every model."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self.runtime.stop()
        self._server = None
        self._thread = None
        self._sock = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 11434,
    models_dir: str | Path | None = None,
    *,
    allow_remote: bool = False,
    models: Iterable[str] = (),
    log: logging.Logger | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C; ``models`` are pulled first if missing.

    ``log`` is the logger to report to (default ``integrations.embedded``).
    """
    logger = log or logging.getLogger("integrations.embedded")
    _check_bind(host, allow_remote)
    store = Store(models_dir)
    _ensure_models(store, models)
    runtime = Runtime()
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    names = [r.short for r in store.list()]
    logger.info("embedded Ollama server (protocol %s) listening on http://%s:%d", OLLAMA_VERSION, shown, bound)
    logger.info("models dir %s; models: %s", store.root, ", ".join(names) if names else "none (pull smollm2:135m)")
    app = build_app(store, runtime, check_host=_is_loopback(host))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    runtime.start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - uvicorn normally handles SIGINT itself
        pass
    finally:
        runtime.stop()
        sock.close()
        logger.info("embedded Ollama server on port %d stopped", bound)
