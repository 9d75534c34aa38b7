"""Microsoft Agent Framework's Ollama chat client (``agent-framework-ollama``), native API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import prepare
from integrations.adapters import _native
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from agent_framework_ollama import OllamaChatClient

__all__ = ["chat_client"]


def chat_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OllamaChatClient:
    """An ``OllamaChatClient`` whose every request carries ``num_ctx``, ``keep_alive`` and sampling.

    Agent Framework sets options per call or per agent; the client underneath (an
    ``ollama.AsyncClient`` with timeouts and the Bearer key) fills in the ones a call
    left out. Keyword ``overrides`` that are settings fields change the settings; the
    rest go to ``OllamaChatClient``.
    """
    module = require("agent_framework_ollama", "agent-framework")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    client_kwargs = _native.client_kwargs(target)
    transports = _native.repairing_transports(target)
    if transports is not None:
        client_kwargs["transport"] = transports[1]  # text tool calls become tool_calls
    client = _defaulting_client(
        target.hosts[0].url, _native.sampling(target), _native.keep_alive(target), target.settings.think, client_kwargs
    )
    built: OllamaChatClient = module.OllamaChatClient(client=client, model_id=target.requested_model, **theirs)
    return built


def _defaulting_client(
    host: str, options: dict[str, Any], keep_alive: str | int | None, think: Any, kwargs: dict[str, Any]
) -> Any:
    """An ``ollama.AsyncClient`` whose ``chat`` fills absent options, ``keep_alive`` and ``think``."""
    import ollama

    class DefaultingAsyncClient(ollama.AsyncClient):
        async def chat(self, *args: Any, **call: Any) -> Any:
            given = call.get("options")
            given = dict(given) if isinstance(given, dict) else dict(given or {})
            call["options"] = {**options, **{k: v for k, v in given.items() if v is not None}}
            if call.get("keep_alive") is None and keep_alive is not None:
                call["keep_alive"] = keep_alive
            if call.get("think") is None and think is not None:
                call["think"] = think
            return await super().chat(*args, **call)

    return DefaultingAsyncClient(host=host, **kwargs)
