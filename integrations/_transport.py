"""HTTP transports that make OpenAI-SDK requests say what Ollama needs to hear, and answers say what it meant.

Ollama's ``/v1`` endpoint silently mishandles a few request shapes the SDKs produce:

* absent ``temperature`` and ``top_p`` are forced to 1.0, overriding the model's defaults;
* ``max_completion_tokens`` (what LangChain and newer SDK code send) is ignored: only ``max_tokens`` counts;
* without ``stream_options.include_usage`` a stream reports no token counts;
* a top-level ``think`` is ignored (``reasoning_effort`` is what it reads);
* ``tool_choice`` is ignored: ``"none"`` still offers the tools, a named function is not enforced;
* ``http(s)`` image URLs are refused (only base64 data URIs are accepted).

And a few answers need a second look:

* small models often write their tool call as bare or fenced JSON, which Ollama returns as
  ``content`` (see `integrations._toolcalls`);
* when a conversation outgrows the context the model runs with, Ollama drops its start
  without a word; usage shows it, and `ContextTruncated` says so.

The transports rewrite only ``chat/completions`` and ``completions`` POSTs, filling what
the caller left out; values the caller did set are never changed. Answers to requests that
offered tools on ``/v1/responses`` get the same text tool-call repair (`repaired`), and
`NativeTransport` brings it to the ``ollama`` client's ``/api/chat``. Everything else passes
through untouched.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from integrations._images import (
    IMAGE_TIMEOUT,
    ImageRefused,
    fetch_image,
    fetch_image_async,
    image_parts,
    is_remote,
    part_url,
    set_part_url,
)
from integrations._toolcalls import Tools, offered_tools
from integrations._toolwire import (
    EventStream,
    MessagesStreamRepair,
    NativeStreamRepair,
    ResponsesStreamRepair,
    StreamRepair,
    repair_completion,
    repair_message,
    repair_native,
    repair_response,
)
from integrations.errors import CapabilityMissing, ContextTruncated
from integrations.settings import env_name

__all__ = [
    "AsyncNativeTransport",
    "AsyncOllamaClient",
    "AsyncOllamaTransport",
    "NativeTransport",
    "OllamaClient",
    "OllamaTransport",
    "RepairPlan",
    "TransportOptions",
    "patch_body",
    "reasoning_effort",
    "repair_plan",
    "repaired",
    "repaired_async",
]

_PATCHED_SUFFIXES = ("/chat/completions", "/completions")
_CHAT_SUFFIX = "/chat/completions"
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_EVENT_END = re.compile(rb"\r?\n\r?\n")
_CHARS_PER_TOKEN_AT_MOST = 8
"""Text averages about four characters per token; a prompt with more than eight per reported
token has lost text, since no tokenizer packs ordinary text that densely."""

_SMALLEST_DEFAULT_CONTEXT = 2048
"""The smallest context Ollama has loaded a model with by default; shorter exchanges cannot have filled one."""

Think = bool | str | None


@dataclass(frozen=True)
class TransportOptions:
    """What the transports know about the model beyond the request defaults."""

    model: str = ""
    """The model name the caller uses, for messages."""
    repair_tool_calls: bool = True
    think: Think = None
    context: int | None = None
    """The context the model runs with, when the checks know it; otherwise asked of ``/api/ps``."""
    vision: bool | None = None
    """Whether the model has vision; None when unknown (unchecked)."""


def reasoning_effort(think: Think) -> str | None:
    """``think`` as ``/v1``'s ``reasoning_effort``: ``"none"`` for false, ``"medium"`` for true.

    >>> reasoning_effort(False), reasoning_effort(True), reasoning_effort("high"), reasoning_effort(None)
    ('none', 'medium', 'high', None)
    """
    if think is None:
        return None
    if isinstance(think, bool):
        return "medium" if think else "none"
    return think


def patch_body(
    body: dict[str, Any],
    defaults: Mapping[str, Any],
    aliases: Mapping[str, str] | None = None,
    *,
    think: Think = None,
) -> dict[str, Any]:
    """Return ``body`` with Ollama's traps neutralised; ``defaults`` fill absent fields.

    ``aliases`` maps a model name the caller uses to the one to send (the derived
    model that carries ``num_ctx``). In chat requests ``think`` becomes
    ``reasoning_effort`` unless the caller set one, and ``tool_choice`` is applied
    to the tools sent: ``"none"`` sends none, a named function only that one.

    >>> patch_body({"model": "m", "max_completion_tokens": 5}, {"temperature": 0.2, "top_p": 0.9})
    {'model': 'm', 'max_tokens': 5, 'temperature': 0.2, 'top_p': 0.9}
    >>> patch_body({"stream": True, "temperature": 0}, {"temperature": 0.7})["stream_options"]
    {'include_usage': True}
    >>> patch_body({"messages": [], "tools": [{"type": "function"}], "tool_choice": "none"}, {})
    {'messages': [], 'tool_choice': 'none'}
    """
    patched = dict(body)
    if aliases and isinstance(patched.get("model"), str):
        patched["model"] = aliases.get(patched["model"], patched["model"])
    if "max_tokens" not in patched and patched.get("max_completion_tokens") is not None:
        patched["max_tokens"] = patched.pop("max_completion_tokens")
    for key, value in defaults.items():
        if patched.get(key) is None:
            patched[key] = value
    if patched.get("stream"):
        options = dict(patched.get("stream_options") or {})
        options.setdefault("include_usage", True)
        patched["stream_options"] = options
    if "messages" in patched:
        effort = reasoning_effort(think)
        if effort is not None and patched.get("reasoning_effort") is None and "reasoning" not in patched:
            patched["reasoning_effort"] = effort
        _apply_tool_choice(patched)
    return patched


def _apply_tool_choice(body: dict[str, Any]) -> None:
    """Ollama ignores ``tool_choice``; what the tools sent can enforce, they do."""
    choice = body.get("tool_choice")
    if choice == "none":
        body.pop("tools", None)
        body.pop("parallel_tool_calls", None)
        return
    if not isinstance(choice, dict) or not isinstance(body.get("tools"), list):
        return
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        return
    chosen = [
        tool for tool in body["tools"] if isinstance(tool, dict) and (tool.get("function") or {}).get("name") == name
    ]
    if chosen:
        body["tools"] = chosen


def _refusal(request: httpx.Request, message: str, kind: str = "invalid_request_error") -> httpx.Response:
    """An OpenAI-shaped 400 answered without asking the server: the SDKs raise it with our message."""
    error = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return httpx.Response(400, json=error, request=request)


def _text_length(messages: Any) -> int:
    """Characters of text in chat messages (string contents and text parts)."""
    total = 0
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"])
    return total


@dataclass
class _Exchange:
    """One chat or completion request on its way, and what its answer is checked against."""

    request: httpx.Request
    body: dict[str, Any]
    chat: bool
    model: str
    offered: Tools
    messages: int
    chars: int
    remote_images: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False

    def outgoing(self) -> httpx.Request:
        if not self.changed:
            return self.request
        request = self.request
        content = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = httpx.Headers(request.headers)
        headers["content-length"] = str(len(content))
        return httpx.Request(
            request.method, request.url, headers=headers, content=content, extensions=request.extensions
        )


class _Core:
    """What the sync and async transports share: rewriting requests, reading answers."""

    def __init__(
        self, defaults: Mapping[str, Any], aliases: Mapping[str, str] | None, options: TransportOptions | None
    ) -> None:
        self.defaults = dict(defaults)
        self.aliases = dict(aliases or {})
        self.options = options or TransportOptions()
        self._warned: set[tuple[str, int]] = set()
        self._loaded: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def begin(self, request: httpx.Request) -> _Exchange | None:
        if request.method != "POST" or not request.url.path.endswith(_PATCHED_SUFFIXES):
            return None
        try:
            body = json.loads(request.content)
        except ValueError:
            return None  # not JSON: let the server say what is wrong with it
        if not isinstance(body, dict):
            return None
        patched = patch_body(body, self.defaults, self.aliases, think=self.options.think)
        chat = request.url.path.endswith(_CHAT_SUFFIX)
        messages = patched.get("messages")
        exchange = _Exchange(
            request=request,
            body=patched,
            chat=chat,
            model=str(patched.get("model") or ""),
            offered=offered_tools(patched) if chat and self.options.repair_tool_calls else {},
            messages=len(messages) if isinstance(messages, list) else 0,
            chars=_text_length(messages) if chat else len(str(patched.get("prompt") or "")),
            changed=patched != body,
        )
        if chat:
            exchange.remote_images = [p for p in image_parts(messages) if is_remote(part_url(p) or "")]
        return exchange

    # answers

    def read_json(
        self, exchange: _Exchange, response: httpx.Response, content: bytes
    ) -> tuple[bytes, dict[str, Any] | None]:
        """The (possibly repaired) body of a non-streamed answer, and its usage."""
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            return content, None
        if not isinstance(data, dict):
            return content, None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        changed = _name_reasoning(data, "message")
        if exchange.offered and repair_completion(data, exchange.offered):
            changed = True
        if changed:
            content = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return content, usage

    def needs_loaded_context(self, exchange: _Exchange, usage: Mapping[str, Any] | None) -> bool:
        """Whether to ask ``/api/ps``: the context is unknown and this exchange was long enough to have filled one."""
        if self.options.context is not None or not usage:
            return False
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens") or 0
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return False
        return max(prompt + completion, exchange.chars // _CHARS_PER_TOKEN_AT_MOST) >= _SMALLEST_DEFAULT_CONTEXT

    def warn_if_truncated(self, exchange: _Exchange, usage: Mapping[str, Any] | None, loaded: int | None) -> None:
        """Warn (once per model and conversation length) when usage shows the context was full."""
        context = self.options.context or loaded
        if not usage or not context:
            return
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens") or 0
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return
        at_least = exchange.chars // _CHARS_PER_TOKEN_AT_MOST
        if prompt + completion < context and not (at_least > context and prompt < at_least):
            return
        key = (exchange.model, exchange.messages)
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        name = self.options.model or exchange.model
        warnings.warn(
            ContextTruncated(
                f"model {name!r} runs with a context of {context} tokens and this conversation "
                f"({exchange.messages} messages, prompt {prompt} + reply {completion} tokens) filled it: Ollama "
                "silently dropped the start of the prompt, instructions first. Raise num_ctx "
                f"({env_name('num_ctx')} or num_ctx=...; at most the model's maximum) or shorten the conversation."
            ),
            stacklevel=2,
        )

    def loaded_context_from(self, exchange: _Exchange, payload: bytes) -> int | None:
        from integrations.names import parse_model_name

        try:
            rows = json.loads(payload).get("models") or []
            wanted = parse_model_name(exchange.model).key
            for row in rows:
                if parse_model_name(str(row.get("model") or row.get("name"))).key == wanted:
                    value = row.get("context_length")
                    return value if isinstance(value, int) and value > 0 else None
        except (ValueError, AttributeError, TypeError):
            return None
        return None

    def ps_request(self, exchange: _Exchange) -> httpx.Request:
        url = exchange.request.url
        path = url.path
        base = path[: path.rfind("/v1/")] if "/v1/" in path else ""
        headers = {k: v for k, v in exchange.request.headers.items() if k.lower() in ("authorization", "host")}
        return httpx.Request("GET", url.copy_with(path=base + "/api/ps", query=None), headers=headers)

    def vision_refusal(self, exchange: _Exchange) -> str | None:
        if self.options.vision is False and any(True for _ in image_parts(exchange.body.get("messages"))):
            return str(CapabilityMissing(self.options.model or exchange.model, "vision"))
        return None


def _name_reasoning(data: dict[str, Any], part: str) -> bool:
    """Copy Ollama's ``reasoning`` to ``reasoning_content``, the name AgentChat and others read."""
    changed = False
    for choice in data.get("choices") or ():
        message = choice.get(part) if isinstance(choice, dict) else None
        if (
            isinstance(message, dict)
            and isinstance(message.get("reasoning"), str)
            and "reasoning_content" not in message
        ):
            message["reasoning_content"] = message["reasoning"]
            changed = True
    return changed


def _headers_for_rewritten(response: httpx.Response, length: int | None) -> httpx.Headers:
    headers = httpx.Headers(response.headers)
    headers.pop("content-encoding", None)
    headers.pop("content-length", None)
    if length is not None:
        headers["content-length"] = str(length)
    return headers


class _SSEWatch:
    """Reads a chat stream event by event: repairs text tool calls and notes the usage."""

    def __init__(self, offered: Tools) -> None:
        self.repair = StreamRepair(offered) if offered else None
        self.usage: dict[str, Any] | None = None
        self._buffer = b""
        self._raw: dict[int, tuple[dict[str, Any], bytes]] = {}  # the chunk is kept so its id stays its own

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out: list[bytes] = []
        while True:
            match = _EVENT_END.search(self._buffer)
            if match is None:
                break
            event, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
            out.extend(self._event(event))
        return b"".join(out)

    def close(self) -> bytes:
        out = [self._encode(chunk) for chunk in (self.repair.close() if self.repair else ())]
        out.append(self._buffer)
        self._buffer = b""
        self._raw.clear()
        return b"".join(out)

    def _event(self, raw: bytes) -> Iterator[bytes]:
        lines = raw.decode("utf-8", errors="replace").splitlines()
        data = "\n".join(line[5:].lstrip(" ") for line in lines if line.startswith("data:"))
        if not data:
            yield raw
            return
        if data.strip() == "[DONE]":
            if self.repair:
                yield from (self._encode(chunk) for chunk in self.repair.close())
            yield raw
            return
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            chunk = None
        if not isinstance(chunk, dict):
            if self.repair:
                yield from (self._encode(c) for c in self.repair.close())
            yield raw
            return
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        renamed = _name_reasoning(chunk, "delta")
        if self.repair is None:
            yield self._encode(chunk) if renamed else raw
            return
        if not renamed:
            self._raw[id(chunk)] = (chunk, raw)
        for sent in self.repair.feed(chunk):
            yield self._encode(sent)

    def _encode(self, chunk: dict[str, Any]) -> bytes:
        kept = self._raw.pop(id(chunk), None)
        if kept is not None and kept[0] is chunk:
            return kept[1]
        return b"data: " + json.dumps(chunk, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _is_event_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/event-stream")


class _WatchedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, watch: _SSEWatch, done: Callable[[], None]) -> None:
        self.inner = inner
        self.watch = watch
        self.done = done

    def __iter__(self) -> Iterator[bytes]:
        for data in self.inner:
            out = self.watch.feed(data)
            if out:
                yield out
        tail = self.watch.close()
        if tail:
            yield tail
        self.done()

    def close(self) -> None:
        self.inner.close()


class _AsyncWatchedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, watch: _SSEWatch, done: Callable[[], Any]) -> None:
        self.inner = inner
        self.watch = watch
        self.done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self.inner:
            out = self.watch.feed(data)
            if out:
                yield out
        tail = self.watch.close()
        if tail:
            yield tail
        await self.done()

    async def aclose(self) -> None:
        await self.inner.aclose()


# Text tool calls in the other wire formats: /api/chat (native clients), /v1/responses, /v1/messages.
# The functions take the HTTP module (httpx, or httpx2 for the Anthropic SDK): the two share their API.

_REPAIRED_PATHS = {"/api/chat": "native", "/responses": "responses", "/messages": "messages"}


@dataclass(frozen=True)
class RepairPlan:
    """A request whose answer may hold a text tool call: its wire format and the tools it offered."""

    kind: str
    tools: Tools


def repair_plan(request: Any) -> RepairPlan | None:
    """The plan for a request to ``/api/chat``, ``/v1/responses`` or ``/v1/messages`` that offers tools."""
    if request.method != "POST":
        return None
    path = request.url.path.rstrip("/")
    kind = next((k for suffix, k in _REPAIRED_PATHS.items() if path.endswith(suffix)), None)
    if kind is None:
        return None
    try:
        content = request.content
    except Exception:  # a streamed body, not read: nothing to learn the tools from
        return None
    if b'"tools"' not in content:
        return None
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None
    tools = offered_tools(body) if isinstance(body, dict) else {}
    return RepairPlan(kind, tools) if tools else None


def _repair_whole(plan: RepairPlan, content: bytes) -> bytes | None:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    repair = {"native": repair_native, "responses": repair_response, "messages": repair_message}[plan.kind]
    if not repair(data, plan.tools):
        return None
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _event_stream(plan: RepairPlan) -> EventStream:
    if plan.kind == "native":
        return EventStream(NativeStreamRepair(plan.tools), ndjson=True)
    if plan.kind == "responses":
        return EventStream(ResponsesStreamRepair(plan.tools), ndjson=False, named=True)
    return EventStream(MessagesStreamRepair(plan.tools), ndjson=False, named=True)


def _streamed(response: Any) -> bool:
    kind = str(response.headers.get("content-type", ""))
    return kind.startswith(("text/event-stream", "application/x-ndjson"))


@functools.cache
def _stream_classes(http: Any) -> tuple[Any, Any]:
    """Byte streams of ``http``'s own classes that pass a body through an `EventStream`."""

    class Filtered(http.SyncByteStream):  # type: ignore[misc]  # a base class of the module given
        def __init__(self, inner: Any, events: EventStream) -> None:
            self.inner = inner
            self.events = events

        def __iter__(self) -> Iterator[bytes]:
            for data in self.inner:
                out = self.events.feed(data)
                if out:
                    yield out
            tail = self.events.close()
            if tail:
                yield tail

        def close(self) -> None:
            self.inner.close()

    class AsyncFiltered(http.AsyncByteStream):  # type: ignore[misc]  # a base class of the module given
        def __init__(self, inner: Any, events: EventStream) -> None:
            self.inner = inner
            self.events = events

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for data in self.inner:
                out = self.events.feed(data)
                if out:
                    yield out
            tail = self.events.close()
            if tail:
                yield tail

        async def aclose(self) -> None:
            await self.inner.aclose()

    return Filtered, AsyncFiltered


def _rewritten(http: Any, response: Any, content: bytes) -> Any:
    headers = http.Headers(response.headers)
    headers.pop("content-encoding", None)
    headers["content-length"] = str(len(content))
    return http.Response(response.status_code, headers=headers, content=content, extensions=response.extensions)


def repaired(http: Any, plan: RepairPlan, response: Any) -> Any:
    """``response`` with a text tool call in it turned into the wire format's own call (sync)."""
    if response.status_code != 200:
        return response
    if _streamed(response):
        if "content-encoding" in response.headers:
            return response
        filtered, _ = _stream_classes(http)
        headers = http.Headers(response.headers)
        headers.pop("content-length", None)
        return http.Response(
            200, headers=headers, stream=filtered(response.stream, _event_stream(plan)), extensions=response.extensions
        )
    try:
        raw = response.read()
    finally:
        response.close()
    content = _repair_whole(plan, raw)
    return _rewritten(http, response, raw if content is None else content)


async def repaired_async(http: Any, plan: RepairPlan, response: Any) -> Any:
    """The asynchronous twin of `repaired`."""
    if response.status_code != 200:
        return response
    if _streamed(response):
        if "content-encoding" in response.headers:
            return response
        _, filtered = _stream_classes(http)
        headers = http.Headers(response.headers)
        headers.pop("content-length", None)
        return http.Response(
            200, headers=headers, stream=filtered(response.stream, _event_stream(plan)), extensions=response.extensions
        )
    try:
        raw = await response.aread()
    finally:
        await response.aclose()
    content = _repair_whole(plan, raw)
    return _rewritten(http, response, raw if content is None else content)


class NativeTransport(httpx.BaseTransport):
    """A transport for the ``ollama`` client (native ``/api/chat``): text tool calls become ``tool_calls``."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport(limits=_LIMITS)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        plan = repair_plan(request)
        response = self.inner.handle_request(request)
        return cast(httpx.Response, repaired(httpx, plan, response)) if plan else response

    def close(self) -> None:
        self.inner.close()


class AsyncNativeTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of `NativeTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport(limits=_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        plan = repair_plan(request)
        response = await self.inner.handle_async_request(request)
        return cast(httpx.Response, await repaired_async(httpx, plan, response)) if plan else response

    async def aclose(self) -> None:
        await self.inner.aclose()


class OllamaTransport(httpx.BaseTransport):
    """A synchronous transport that patches request bodies, sends them through ``inner``, and reads the answers."""

    def __init__(
        self,
        defaults: Mapping[str, Any],
        aliases: Mapping[str, str] | None = None,
        inner: httpx.BaseTransport | None = None,
        *,
        options: TransportOptions | None = None,
    ) -> None:
        self.core = _Core(defaults, aliases, options)
        self.inner = inner or httpx.HTTPTransport(limits=_LIMITS)
        self._images: httpx.Client | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        return self.core.defaults

    @property
    def aliases(self) -> dict[str, str]:
        return self.core.aliases

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self.core.begin(request)
        if exchange is None:
            plan = repair_plan(request) if self.core.options.repair_tool_calls else None
            response = self.inner.handle_request(request)
            return repaired(httpx, plan, response) if plan else response
        refused = self.core.vision_refusal(exchange)
        if refused:
            return _refusal(request, refused, "capability_missing")
        try:
            for part in exchange.remote_images:
                set_part_url(part, fetch_image(part_url(part) or "", self._image_client()))
                exchange.changed = True
        except ImageRefused as exc:
            return _refusal(request, str(exc))
        response = self.inner.handle_request(exchange.outgoing())
        if response.status_code != 200 or not exchange.chat:
            return response
        if _is_event_stream(response):
            if "content-encoding" in response.headers:
                return response
            watch = _SSEWatch(exchange.offered)
            stream = _WatchedStream(
                cast(httpx.SyncByteStream, response.stream), watch, lambda: self._check(exchange, watch.usage)
            )
            return httpx.Response(
                200, headers=_headers_for_rewritten(response, None), stream=stream, extensions=response.extensions
            )
        try:
            raw = response.read()
        finally:
            response.close()
        content, usage = self.core.read_json(exchange, response, raw)
        self._check(exchange, usage)
        return httpx.Response(
            response.status_code,
            headers=_headers_for_rewritten(response, len(content)),
            content=content,
            extensions=response.extensions,
        )

    def _check(self, exchange: _Exchange, usage: dict[str, Any] | None) -> None:
        loaded = None
        if self.core.needs_loaded_context(exchange, usage):
            loaded = self._loaded_context(exchange)
        self.core.warn_if_truncated(exchange, usage, loaded)

    def _loaded_context(self, exchange: _Exchange) -> int | None:
        if exchange.model in self.core._loaded:
            return self.core._loaded[exchange.model]
        value = None
        with contextlib.suppress(httpx.HTTPError):
            response = self.inner.handle_request(self.core.ps_request(exchange))
            try:
                payload = response.read()
            finally:
                response.close()
            if response.status_code == 200:
                value = self.core.loaded_context_from(exchange, payload)
        self.core._loaded[exchange.model] = value
        return value

    def _image_client(self) -> httpx.Client:
        if self._images is None:
            self._images = httpx.Client(timeout=IMAGE_TIMEOUT, follow_redirects=True)
        return self._images

    def close(self) -> None:
        if self._images is not None:
            self._images.close()
        self.inner.close()


class AsyncOllamaTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of `OllamaTransport`."""

    def __init__(
        self,
        defaults: Mapping[str, Any],
        aliases: Mapping[str, str] | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        options: TransportOptions | None = None,
    ) -> None:
        self.core = _Core(defaults, aliases, options)
        self.inner = inner or httpx.AsyncHTTPTransport(limits=_LIMITS)
        self._images: httpx.AsyncClient | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        return self.core.defaults

    @property
    def aliases(self) -> dict[str, str]:
        return self.core.aliases

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self.core.begin(request)
        if exchange is None:
            plan = repair_plan(request) if self.core.options.repair_tool_calls else None
            response = await self.inner.handle_async_request(request)
            return await repaired_async(httpx, plan, response) if plan else response
        refused = self.core.vision_refusal(exchange)
        if refused:
            return _refusal(request, refused, "capability_missing")
        try:
            for part in exchange.remote_images:
                set_part_url(part, await fetch_image_async(part_url(part) or "", self._image_client()))
                exchange.changed = True
        except ImageRefused as exc:
            return _refusal(request, str(exc))
        response = await self.inner.handle_async_request(exchange.outgoing())
        if response.status_code != 200 or not exchange.chat:
            return response
        if _is_event_stream(response):
            if "content-encoding" in response.headers:
                return response
            watch = _SSEWatch(exchange.offered)

            async def done() -> None:
                await self._check(exchange, watch.usage)

            stream = _AsyncWatchedStream(cast(httpx.AsyncByteStream, response.stream), watch, done)
            return httpx.Response(
                200, headers=_headers_for_rewritten(response, None), stream=stream, extensions=response.extensions
            )
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        content, usage = self.core.read_json(exchange, response, raw)
        await self._check(exchange, usage)
        return httpx.Response(
            response.status_code,
            headers=_headers_for_rewritten(response, len(content)),
            content=content,
            extensions=response.extensions,
        )

    async def _check(self, exchange: _Exchange, usage: dict[str, Any] | None) -> None:
        loaded = None
        if self.core.needs_loaded_context(exchange, usage):
            loaded = await self._loaded_context(exchange)
        self.core.warn_if_truncated(exchange, usage, loaded)

    async def _loaded_context(self, exchange: _Exchange) -> int | None:
        if exchange.model in self.core._loaded:
            return self.core._loaded[exchange.model]
        value = None
        with contextlib.suppress(httpx.HTTPError):
            response = await self.inner.handle_async_request(self.core.ps_request(exchange))
            try:
                payload = await response.aread()
            finally:
                await response.aclose()
            if response.status_code == 200:
                value = self.core.loaded_context_from(exchange, payload)
        self.core._loaded[exchange.model] = value
        return value

    def _image_client(self) -> httpx.AsyncClient:
        if self._images is None:
            self._images = httpx.AsyncClient(timeout=IMAGE_TIMEOUT, follow_redirects=True)
        return self._images

    async def aclose(self) -> None:
        if self._images is not None:
            await self._images.aclose()
        await self.inner.aclose()


def _vision_check(client: httpx.Client | httpx.AsyncClient, request: httpx.Request) -> None:
    transport = getattr(client, "_transport", None)
    core: _Core | None = getattr(transport, "core", None)
    if core is None or core.options.vision is not False:
        return
    if request.method != "POST" or not request.url.path.endswith(_CHAT_SUFFIX) or b'"image_url"' not in request.content:
        return
    with contextlib.suppress(ValueError):
        body = json.loads(request.content)
        if isinstance(body, dict) and any(True for _ in image_parts(body.get("messages"))):
            raise CapabilityMissing(core.options.model or str(body.get("model")), "vision")


class OllamaClient(httpx.Client):
    """An ``httpx.Client`` that refuses, before sending, what the checked model cannot do.

    The OpenAI SDK turns any exception raised while sending into ``APIConnectionError``
    (and retries); raised while the request is built, `CapabilityMissing` reaches the caller as itself.
    """

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        request = super().build_request(*args, **kwargs)
        _vision_check(self, request)
        return request

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self  # one connection pool, shared: AG2 deep-copies llm_config, which holds this client


class AsyncOllamaClient(httpx.AsyncClient):
    """The asynchronous twin of `OllamaClient`."""

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        request = super().build_request(*args, **kwargs)
        _vision_check(self, request)
        return request

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self  # one connection pool, shared: AG2 deep-copies llm_config, which holds this client
