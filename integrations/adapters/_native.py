"""What clients of Ollama's native API (``/api/chat``, ``/api/embed``) must send, from one `Target`.

Native requests carry their options, so no derived model is needed: ``num_ctx``
goes with every request (Ollama's default of a few thousand tokens silently cuts
an agent's prompt from the start), ``keep_alive`` too, and the HTTP timeouts are
set on the client (the official client has none; LlamaIndex's is 30 s, less than
a cold load).
"""

from __future__ import annotations

import re
from typing import Any

from integrations._target import Target, failover_transports

__all__ = [
    "DEFAULT_NUM_CTX",
    "client_kwargs",
    "failover_kwargs",
    "keep_alive",
    "keep_alive_seconds",
    "num_ctx",
    "repairing_transports",
    "sampling",
]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

DEFAULT_NUM_CTX = 8192
"""The context sent when neither the settings nor the model say: enough for a tool-using agent's prompt."""


def num_ctx(target: Target) -> int:
    """The configured ``num_ctx``, else the model's own, else `DEFAULT_NUM_CTX` within what it was trained on."""
    if target.settings.num_ctx is not None:
        return target.settings.num_ctx
    if target.running_context is not None:
        return target.running_context
    if target.context_length is not None:
        return min(target.context_length, DEFAULT_NUM_CTX)
    return DEFAULT_NUM_CTX


def keep_alive(target: Target) -> str | int | None:
    """``keep_alive`` as Ollama reads it: a bare number is seconds, anything else a Go duration.

    >>> from integrations._target import resolve
    >>> keep_alive(resolve("m", settings=None, check=False, pull=None, overrides={"keep_alive": "-1"}))
    -1
    """
    value = target.settings.keep_alive
    if value is None:
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return text


def keep_alive_seconds(target: Target) -> int | None:
    """``keep_alive`` in whole seconds, for clients that take only a number (negative: forever).

    >>> from integrations._target import resolve
    >>> [keep_alive_seconds(resolve("m", settings=None, check=False, pull=None, overrides={"keep_alive": v}))
    ...  for v in ("1h30m", "-1", "90s")]
    [5400, -1, 90]
    """
    value = keep_alive(target)
    if value is None or isinstance(value, int):
        return value
    text = value.lstrip("-")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None  # not a duration Ollama reads either; leave Ollama's default
    seconds = int(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    return -seconds if value.startswith("-") else seconds


def sampling(target: Target) -> dict[str, Any]:
    """Native ``options``: context, sampling (the configured or model's values) and the output cap."""
    options: dict[str, Any] = {"num_ctx": num_ctx(target), "temperature": target.temperature, "top_p": target.top_p}
    if target.settings.max_tokens is not None:
        options["num_predict"] = target.settings.max_tokens
    if target.settings.seed is not None:
        options["seed"] = target.settings.seed
    return options


def client_kwargs(target: Target) -> dict[str, Any]:
    """Keyword arguments for ``ollama.Client``: short connect, long read timeout, and the Bearer key."""
    return {"timeout": target.timeout(), "headers": {"Authorization": f"Bearer {target.host_key}"}}


def repairing_transports(target: Target) -> tuple[Any, Any] | None:
    """A sync and an async transport for ``ollama`` clients: text tool calls become ``tool_calls``, and with
    several hosts a request that cannot connect goes to the next one.

    None when neither applies (``repair_tool_calls`` off, one host): the clients use their own transports.
    """
    sync, asynchronous = failover_transports(target, native=True)
    if not target.settings.repair_tool_calls:
        return None if sync is None else (sync, asynchronous)
    from integrations._transport import AsyncNativeTransport, NativeTransport

    return NativeTransport(sync), AsyncNativeTransport(asynchronous)


def failover_kwargs(target: Target) -> dict[str, Any]:
    """``sync_client_kwargs`` and ``async_client_kwargs`` giving LangChain's Ollama clients failover between hosts.

    Empty with one host. The two clients need transports of their own kind, hence two arguments.
    (Chat models get `repairing_transports` instead, which include the failover.)
    """
    sync, asynchronous = failover_transports(target, native=True)
    if sync is None:
        return {}
    return {"sync_client_kwargs": {"transport": sync}, "async_client_kwargs": {"transport": asynchronous}}
