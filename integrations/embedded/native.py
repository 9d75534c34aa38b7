"""Ollama's native API (``/api/*``): model management and generation, encoded as JSON or NDJSON."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from integrations.embedded.bridge import ThreadStream, in_thread
from integrations.embedded.core import Calls, Core, Done, Job, Text, collect
from integrations.embedded.gguf import read_gguf
from integrations.embedded.planning import chat_plan, prompt_plan
from integrations.embedded.prompting import check_images, normalize_messages, parse_tools
from integrations.embedded.protocol import (
    ApiError,
    format_parameters,
    local_time,
    parse_keep_alive,
    parse_options,
    utc_now,
)
from integrations.embedded.store import ModelRecord
from integrations.embedded.toolcalls import ToolCall
from integrations.embedded.wire import JSONResponse, native_errors, ndjson, read_json
from integrations.errors import ConfigError
from integrations.names import parse_model_name

__all__ = ["OLLAMA_VERSION", "logprobs_request", "model_name", "native_routes", "renormalise", "think_check"]

OLLAMA_VERSION = "0.32.15"
"""What ``/api/version`` reports: the Ollama release whose wire protocol this server mirrors."""


def model_name(body: dict[str, Any], *, legacy_name: bool = True) -> str:
    """The request's ``model`` (or the legacy ``name``), or Ollama's 400 when it is missing."""
    model = body.get("model") or (body.get("name") if legacy_name else None)
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required")
    return model


def think_check(think: Any, model: str) -> None:
    """No model served here thinks: asking for it is Ollama's 400."""
    if think not in (None, False, "none", ""):
        raise ApiError(400, f'"{model}" does not support thinking')


def stream_flag(body: dict[str, Any], default: bool) -> bool:
    value = body.get("stream")
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"stream must be true or false, not {value!r}")
    return value


MAX_TOP_LOGPROBS = 20
BLOB_BUFFER = 1 << 20  # upload chunks are hashed and written off the event loop, a megabyte at a time


def logprobs_request(body: dict[str, Any]) -> int | None:
    """``logprobs`` / ``top_logprobs`` as one value: None (off) or the alternatives per token."""
    wanted = body.get("logprobs")
    top = body.get("top_logprobs")
    if wanted in (None, False) and top in (None, 0):
        return None
    if wanted not in (None, True, False):
        raise ApiError(400, f"logprobs must be true or false, not {wanted!r}")
    if top is None:
        return 0
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
        raise ApiError(400, f"top_logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}, not {top!r}")
    return top


def renormalise(vec: list[float]) -> list[float]:
    norm = sum(x * x for x in vec) ** 0.5 or 1.0
    return [x / norm for x in vec]


def _native_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "function": {"index": i, "name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(calls)]


def no_insert(record: ModelRecord) -> str:
    return f"{record.name.host}/{record.name.namespace}/{record.name.model}:{record.name.tag} does not support insert"


class NativeApi:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store
        self.runtime = core.runtime

    # -- trivial -------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    # -- models --------------------------------------------------------------

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
        records = await in_thread(self.store.list)
        entries = await in_thread(lambda: [self._model_entry(r) for r in records])
        return JSONResponse({"models": entries})

    async def show(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body)
        try:
            short = parse_model_name(model).short
        except ConfigError:
            raise ApiError(400, f"invalid model name {model!r}") from None
        record = self.store.require(model, f"model '{short}' not found")
        verbose = bool(body.get("verbose"))
        info = await in_thread(lambda: read_gguf(record.model_path, full=True) if verbose else record.info)
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
        return JSONResponse(out)

    async def pull(self, request: Request) -> Response:
        body = await read_json(request)
        progress = self.store.pull(model_name(body))
        return await self._progress(progress, stream_flag(body, True))

    async def _progress(self, progress: Iterator[dict[str, Any]], stream: bool) -> Response:
        if not stream:
            def drain() -> None:
                for _ in progress:
                    pass

            await in_thread(drain)
            return JSONResponse({"status": "success"})

        def work(emit: Callable[[Any], None], cancel: threading.Event) -> None:
            for item in progress:
                emit(item)

        return ndjson(ThreadStream(work).items())

    async def create(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body)
        base = body.get("from")
        files = body.get("files")
        if not base and not files:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        if body.get("quantize"):
            raise ApiError(400, "quantize is not supported by the embedded server")
        for field in ("adapters", "template"):  # refused rather than silently dropped from the new model
            if body.get(field):
                raise ApiError(400, f"{field} is not supported by the embedded server: the model keeps its own "
                                    f"{'weights' if field == 'adapters' else 'chat template'}; remove '{field}'")
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            raise ApiError(400, "system must be a string")
        progress = self.store.create(model, base, body.get("parameters"), system, files=files)
        return await self._progress(progress, stream_flag(body, True))

    async def blob(self, request: Request) -> Response:
        """HEAD: 200 or 404. POST: the body streams to a temporary file, hashed as it goes; only a match is kept."""
        digest = request.path_params["digest"]
        if request.method == "HEAD":
            return Response(status_code=200 if self.store.has_blob(digest) else 404)
        upload = self.store.begin_upload(digest)
        try:
            buffer = bytearray()
            async for chunk in request.stream():
                buffer += chunk
                if len(buffer) >= BLOB_BUFFER:
                    await in_thread(upload.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await in_thread(upload.write, bytes(buffer))
            created = await in_thread(upload.commit)
        except BaseException:
            upload.abort()
            raise
        return Response(status_code=201 if created else 200)

    async def delete(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body)
        record = self.store.resolve(model)  # None for a malformed manifest, which delete still removes
        if record is not None:
            await in_thread(self.runtime.unload, record)
        if not await in_thread(self.store.delete, model):
            raise ApiError(404, f"model '{model}' not found")
        return Response(status_code=200)

    async def copy(self, request: Request) -> Response:
        body = await read_json(request)
        src, dst = body.get("source"), body.get("destination")
        for label, value in (("source", src), ("destination", dst)):
            try:
                parse_model_name(str(value) if value is not None else "")
            except ConfigError:
                raise ApiError(400, f'{label} "{value}" is invalid') from None
        await in_thread(self.store.copy, str(src), str(dst))
        return Response(status_code=200)

    async def ps(self, request: Request) -> Response:
        entries = []
        for lm in self.runtime.loaded():
            record = lm.record
            entries.append({
                "name": record.short,
                "model": record.short,
                "size": lm.size + lm.cache.size,
                "digest": record.digest,
                "details": record.details(),
                "expires_at": local_time(lm.expires_at),
                "size_vram": 0,
                "context_length": lm.n_ctx,
                "prompt_cache": {"conversations": len(lm.cache), "size": lm.cache.size,
                                 "budget": lm.cache.budget},
            })
        return JSONResponse({"models": entries})

    # -- generation ----------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body, legacy_name=False)
        record = self.store.require(model)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        messages = normalize_messages(body.get("messages"), openai=False)
        think_check(body.get("think"), model)
        tools = parse_tools(body.get("tools"))
        stream = stream_flag(body, True)
        if not messages:
            reason = await self.core.load_or_unload(record, opts, keep_alive)
            return JSONResponse({"model": model, "created_at": utc_now(),
                                 "message": {"role": "assistant", "content": ""}, "done_reason": reason, "done": True})
        logprobs = logprobs_request(body)
        generation = await self.core.start(Job(record, opts, keep_alive,
                                               chat_plan(messages, tools, None, body.get("format"),
                                                         truncate=body.get("truncate", True) is not False),
                                               logprobs))

        def final(done: Done, message: dict[str, Any]) -> dict[str, Any]:
            return {"model": model, "created_at": utc_now(), "message": message,
                    "done_reason": done.result.done_reason, "done": True, **done.metrics()}

        if not stream:
            out = await collect(generation, request)
            message: dict[str, Any] = {"role": "assistant", "content": out.text}
            if out.calls:
                message["tool_calls"] = _native_calls(out.calls)
            answer = final(out.done, message)
            if logprobs is not None:
                answer["logprobs"] = out.logprobs
            return JSONResponse(answer)

        async def lines() -> AsyncIterator[dict[str, Any]]:
            index = 0
            async for event in generation.events():
                if isinstance(event, Text):
                    line: dict[str, Any] = {"model": model, "created_at": utc_now(),
                                            "message": {"role": "assistant", "content": event.text}, "done": False}
                    if logprobs is not None:
                        line["logprobs"] = event.logprobs
                    yield line
                elif isinstance(event, Calls):
                    calls = _native_calls(event.calls)
                    for call in calls:
                        call["function"]["index"] = index
                        index += 1
                    yield {"model": model, "created_at": utc_now(),
                           "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": False}
                else:
                    yield final(event, {"role": "assistant", "content": ""})

        return ndjson(lines())

    async def generate(self, request: Request) -> Response:
        body = await read_json(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(404, f"model '{model or ''}' not found")
        record = self.store.require(model)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        think_check(body.get("think"), model)
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if body.get("suffix"):
            raise ApiError(400, no_insert(record))
        stream = stream_flag(body, True)
        check_images(body.get("images"), "images")
        if not prompt and not body.get("images"):
            reason = await self.core.load_or_unload(record, opts, keep_alive)
            return JSONResponse({"model": model, "created_at": utc_now(), "response": "", "done": True,
                                 "done_reason": reason})
        system = body.get("system")
        context = body.get("context")
        if context is not None and not (
            isinstance(context, list)
            and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in context)
        ):
            raise ApiError(400, "context must be an array of token ids")
        plan = prompt_plan(prompt, system=system if isinstance(system, str) and system else None,
                           raw=bool(body.get("raw")), context=context, fmt=body.get("format"))
        logprobs = logprobs_request(body)
        generation = await self.core.start(Job(record, opts, keep_alive, plan, logprobs))

        def final(done: Done, text: str) -> dict[str, Any]:
            return {"model": model, "created_at": utc_now(), "response": text, "done": True,
                    "done_reason": done.result.done_reason, "context": done.result.tokens, **done.metrics()}

        if not stream:
            out = await collect(generation, request)
            answer = final(out.done, out.text)
            if logprobs is not None:
                answer["logprobs"] = out.logprobs
            return JSONResponse(answer)

        async def lines() -> AsyncIterator[dict[str, Any]]:
            async for event in generation.events():
                if isinstance(event, Text):
                    line: dict[str, Any] = {"model": model, "created_at": utc_now(), "response": event.text,
                                            "done": False}
                    if logprobs is not None:
                        line["logprobs"] = event.logprobs
                    yield line
                elif isinstance(event, Done):
                    yield final(event, "")

        return ndjson(lines())

    async def embed_vectors(self, record: ModelRecord, body: dict[str, Any],
                            texts: list[str]) -> tuple[list[list[float]], int]:
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = parse_options(record.parameters, body.get("options"))
        async with self.core.lease(record, opts, keep_alive) as lm:
            return await in_thread(lm.embed, texts, body.get("truncate", True) is not False)

    async def embed(self, request: Request) -> Response:
        started = time.perf_counter()
        body = await read_json(request)
        model = model_name(body, legacy_name=False)
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
        empty = [i for i, text in enumerate(texts) if not text]
        if empty:
            raise ApiError(400, f"invalid input: input[{empty[0]}] is an empty string, which has no embedding")
        dims = body.get("dimensions")
        if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0):
            raise ApiError(400, "dimensions must be a positive integer")
        if not texts:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
            await self.core.load_or_unload(record, parse_options(record.parameters, body.get("options")), keep_alive)
            return JSONResponse({"model": model, "embeddings": []})
        vectors, count = await self.embed_vectors(record, body, texts)
        if dims:
            vectors = [renormalise(v[:dims]) for v in vectors]
        out = {"model": model, "embeddings": vectors, "total_duration": int((time.perf_counter() - started) * 1e9),
               "prompt_eval_count": count}
        return JSONResponse({k: v for k, v in out.items() if v or k == "embeddings"})

    async def embeddings_legacy(self, request: Request) -> Response:
        body = await read_json(request)
        model = model_name(body, legacy_name=False)
        record = self.store.require(model, f'model "{model}" not found, try pulling it first')
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        if not prompt:
            return JSONResponse({"embedding": []})
        vectors, _ = await self.embed_vectors(record, body, [prompt])
        return JSONResponse({"embedding": vectors[0]})


def native_routes(api: NativeApi) -> list[Route]:
    n = native_errors
    return [
        Route("/", api.root, methods=["GET", "HEAD"]),
        Route("/api/version", n(api.version), methods=["GET", "HEAD"]),
        Route("/api/tags", n(api.tags), methods=["GET", "HEAD"]),
        Route("/api/show", n(api.show), methods=["POST"]),
        Route("/api/pull", n(api.pull), methods=["POST"]),
        Route("/api/create", n(api.create), methods=["POST"]),
        Route("/api/delete", n(api.delete), methods=["DELETE"]),
        Route("/api/copy", n(api.copy), methods=["POST"]),
        Route("/api/blobs/{digest}", n(api.blob), methods=["HEAD", "POST"]),
        Route("/api/ps", n(api.ps), methods=["GET"]),
        Route("/api/generate", n(api.generate), methods=["POST"]),
        Route("/api/chat", n(api.chat), methods=["POST"]),
        Route("/api/embed", n(api.embed), methods=["POST"]),
        Route("/api/embeddings", n(api.embeddings_legacy), methods=["POST"]),
    ]
