"""The wire: JSON bodies in, JSON / NDJSON / SSE out, and the two error shapes (native and OpenAI).

Route handlers raise `ApiError`; the wrappers here turn it into the body each API
family expects, so no handler writes an error shape by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from integrations.embedded.protocol import ApiError, replace_lone_surrogates

__all__ = [
    "MAX_BODY",
    "JSONResponse",
    "guarded",
    "native_errors",
    "ndjson",
    "oai_error_body",
    "openai_errors",
    "read_json",
    "sse",
]

log = logging.getLogger("integrations.embedded")

MAX_BODY = 32 * 1024 * 1024
"""Request bodies above this size get a 413 before they are buffered."""

Handler = Callable[[Request], Awaitable[Response]]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JSONResponse(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content)


CLIENT_CLOSED = 499  # nginx's "client closed request": recorded, never sent (nobody is there to read it)


def oai_error_body(status: int, message: str) -> dict[str, Any]:
    """OpenAI's error object, as Ollama's ``/v1`` writes it."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def guarded(fn: Handler, shape: Callable[[int, str], Any]) -> Handler:
    """``fn`` with its errors written in ``shape`` (status, message -> body); nothing escapes as a crash."""
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return JSONResponse(shape(exc.status, exc.message), status_code=exc.status)
        except ClientDisconnect:  # the client left, or was closed for a stalled body: nobody to answer
            log.debug("client gone before its request body arrived: %s", request.url.path)
            return Response(status_code=CLIENT_CLOSED)
        except Exception as exc:  # never let a bad request take the server down
            log.exception("unexpected error in %s", request.url.path)
            return JSONResponse(shape(500, str(exc) or type(exc).__name__), status_code=500)

    return wrapped


def native_errors(fn: Handler) -> Handler:
    """Errors as Ollama's native API writes them: ``{"error": "..."}``."""
    return guarded(fn, lambda status, message: {"error": message})


def openai_errors(fn: Handler) -> Handler:
    """Errors as OpenAI's (and Ollama's ``/v1``) error object."""
    return guarded(fn, oai_error_body)


async def read_json(request: Request) -> dict[str, Any]:
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
    except RecursionError:
        raise ApiError(400, "invalid JSON in request body: nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"json: cannot unmarshal {type(body).__name__} into a request object")
    if b"\\ud" in raw or b"\\uD" in raw:  # an escaped surrogate: Go's decoder turns lone ones into U+FFFD
        cleaned: dict[str, Any] = replace_lone_surrogates(body)
        return cleaned
    return body


def _stream_failure(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.message
    log.exception("stream failed")
    return 500, str(exc) or type(exc).__name__


def ndjson(lines: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    """Native streaming: one JSON object per line; a failure mid-stream becomes an ``error`` line."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for obj in lines:
                yield dumps(obj) + b"\n"
        except Exception as exc:
            _, message = _stream_failure(exc)
            yield dumps({"error": message}) + b"\n"

    return StreamingResponse(body(), media_type="application/x-ndjson")


def sse(frames: AsyncIterator[dict[str, Any]], *, done_marker: bool = True) -> StreamingResponse:
    """OpenAI streaming: ``data:`` frames, then ``data: [DONE]`` (Chat Completions and Completions)."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for obj in frames:
                yield b"data: " + dumps(obj) + b"\n\n"
        except Exception as exc:
            status, message = _stream_failure(exc)
            yield b"data: " + dumps(oai_error_body(status, message)) + b"\n\n"
        if done_marker:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def sse_events(events: AsyncIterator[tuple[str, dict[str, Any]]],
               error: Callable[[int, str], tuple[str, dict[str, Any]]]) -> StreamingResponse:
    """Named SSE events (``event:`` + ``data:``), as the Responses and Anthropic Messages APIs stream."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for name, obj in events:
                yield b"event: " + name.encode() + b"\ndata: " + dumps(obj) + b"\n\n"
        except Exception as exc:
            name, obj = error(*_stream_failure(exc))
            yield b"event: " + name.encode() + b"\ndata: " + dumps(obj) + b"\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
