"""HTTP transports that make OpenAI-SDK requests say what Ollama needs to hear.

Ollama's ``/v1`` endpoint silently mishandles a few request shapes the SDKs produce:

* absent ``temperature`` and ``top_p`` are forced to 1.0, overriding the model's defaults;
* ``max_completion_tokens`` (what LangChain and newer SDK code send) is ignored: only ``max_tokens`` counts;
* without ``stream_options.include_usage`` a stream reports no token counts.

The transports below rewrite only the JSON body of ``chat/completions`` and
``completions`` POSTs, filling what the caller left out; values the caller did
set are never changed. Everything else passes through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["AsyncOllamaTransport", "OllamaTransport", "patch_body"]

_PATCHED_SUFFIXES = ("/chat/completions", "/completions")
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


def patch_body(
    body: dict[str, Any], defaults: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return ``body`` with Ollama's traps neutralised; ``defaults`` fill absent fields.

    ``aliases`` maps a model name the caller uses to the one to send (the derived
    model that carries ``num_ctx``).

    >>> patch_body({"model": "m", "max_completion_tokens": 5}, {"temperature": 0.2, "top_p": 0.9})
    {'model': 'm', 'max_tokens': 5, 'temperature': 0.2, 'top_p': 0.9}
    >>> patch_body({"stream": True, "temperature": 0}, {"temperature": 0.7})["stream_options"]
    {'include_usage': True}
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
    return patched


def _rewrite(request: httpx.Request, defaults: Mapping[str, Any], aliases: Mapping[str, str]) -> httpx.Request:
    if request.method != "POST" or not request.url.path.endswith(_PATCHED_SUFFIXES):
        return request
    try:
        body = json.loads(request.content)
    except ValueError:
        return request  # not JSON: let the server say what is wrong with it
    if not isinstance(body, dict):
        return request
    patched = patch_body(body, defaults, aliases)
    if patched == body:
        return request
    content = json.dumps(patched, separators=(",", ":")).encode()
    headers = httpx.Headers(request.headers)
    headers["content-length"] = str(len(content))
    return httpx.Request(request.method, request.url, headers=headers, content=content, extensions=request.extensions)


class OllamaTransport(httpx.BaseTransport):
    """A synchronous transport that patches request bodies, then sends them through ``inner``."""

    def __init__(
        self,
        defaults: Mapping[str, Any],
        aliases: Mapping[str, str] | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.defaults = dict(defaults)
        self.aliases = dict(aliases or {})
        self.inner = inner or httpx.HTTPTransport(limits=_LIMITS)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(_rewrite(request, self.defaults, self.aliases))

    def close(self) -> None:
        self.inner.close()


class AsyncOllamaTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of `OllamaTransport`."""

    def __init__(
        self,
        defaults: Mapping[str, Any],
        aliases: Mapping[str, str] | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.defaults = dict(defaults)
        self.aliases = dict(aliases or {})
        self.inner = inner or httpx.AsyncHTTPTransport(limits=_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(_rewrite(request, self.defaults, self.aliases))

    async def aclose(self) -> None:
        await self.inner.aclose()
