"""Anthropic SDK clients pointed at Ollama's Anthropic-compatible ``/v1/messages``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import Target, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    import anthropic

__all__ = ["anthropic_client", "async_anthropic_client"]


def anthropic_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` for the first configured Ollama host (``/v1/messages``, Ollama 0.14+).

    ``base_url`` and ``api_key`` are explicit, so ``ANTHROPIC_BASE_URL`` and
    ``ANTHROPIC_API_KEY`` are never read. A tool call the model wrote as JSON text
    becomes a ``tool_use`` block (unless ``repair_tool_calls`` is off). ``/v1/messages`` cannot set ``num_ctx``:
    when it is configured, requests naming ``model`` go to the derived model that
    carries it. Keyword ``overrides`` that are settings fields change the settings;
    the rest go to ``anthropic.Anthropic``.
    """
    sdk = require("anthropic", "anthropic")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    client: anthropic.Anthropic = sdk.Anthropic(**_client_kwargs(target, asynchronous=False, extra=theirs))
    return client


def async_anthropic_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> anthropic.AsyncAnthropic:
    """The ``anthropic.AsyncAnthropic`` twin of `anthropic_client`."""
    sdk = require("anthropic", "anthropic")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    client: anthropic.AsyncAnthropic = sdk.AsyncAnthropic(**_client_kwargs(target, asynchronous=True, extra=theirs))
    return client


def _client_kwargs(target: Target, *, asynchronous: bool, extra: dict[str, Any]) -> dict[str, Any]:
    # The Anthropic SDK runs on httpx2 (httpx's successor), so its HTTP client is built from that package.
    http = require("httpx2", "anthropic")
    timeout = http.Timeout(target.settings.timeout, connect=target.settings.connect_timeout)
    transport = _alias_transport(
        http, target.aliases(), asynchronous=asynchronous, repair=target.settings.repair_tool_calls
    )
    client_class = http.AsyncClient if asynchronous else http.Client
    return {
        "base_url": target.hosts[0].url,
        "api_key": target.host_key,
        "timeout": timeout,
        "max_retries": target.settings.max_retries,
        "http_client": client_class(transport=transport, timeout=timeout, follow_redirects=True),
        **extra,
    }


def aliased_body(content: bytes, aliases: Mapping[str, str]) -> bytes | None:
    """A JSON body with ``model`` replaced by its alias; None when there is nothing to replace.

    >>> aliased_body(b'{"model": "m", "max_tokens": 5}', {"m": "m:latest-ctx8192"})
    b'{"model": "m:latest-ctx8192", "max_tokens": 5}'
    >>> aliased_body(b'{"model": "other"}', {"m": "m:latest-ctx8192"}) is None
    True
    """
    if not aliases:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("model") not in aliases:
        return None
    body["model"] = aliases[body["model"]]
    return json.dumps(body).encode()


def _alias_transport(http: Any, aliases: Mapping[str, str], *, asynchronous: bool, repair: bool = True) -> Any:
    """A transport that sends requests for the caller's model name to the derived model carrying ``num_ctx``,
    and (``repair``) turns a tool call the model wrote as JSON text into ``tool_use`` blocks."""
    from integrations._transport import repair_plan, repaired, repaired_async

    table = dict(aliases)

    def rewrite(request: Any) -> Any:
        if request.method != "POST":
            return request
        content = aliased_body(request.content, table)
        if content is None:
            return request
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
        return http.Request(
            request.method, request.url, headers=headers, content=content, extensions=request.extensions
        )

    if asynchronous:

        class AsyncAliasTransport(http.AsyncHTTPTransport):  # type: ignore[misc]  # a base class known only at run time (httpx2)
            async def handle_async_request(self, request: Any) -> Any:
                plan = repair_plan(request) if repair else None
                response = await super().handle_async_request(rewrite(request))
                return await repaired_async(http, plan, response) if plan else response

        return AsyncAliasTransport()

    class AliasTransport(http.HTTPTransport):  # type: ignore[misc]  # a base class known only at run time (httpx2)
        def handle_request(self, request: Any) -> Any:
            plan = repair_plan(request) if repair else None
            response = super().handle_request(rewrite(request))
            return repaired(http, plan, response) if plan else response

    return AliasTransport()
