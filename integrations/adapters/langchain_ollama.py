"""LangChain's native Ollama models (``langchain-ollama``): ``ChatOllama`` and ``OllamaEmbeddings``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import prepare
from integrations.adapters import _native
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from langchain_ollama import ChatOllama, OllamaEmbeddings

__all__ = ["chat_ollama", "ollama_embeddings"]


def chat_ollama(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> ChatOllama:
    """A ``ChatOllama`` that sends ``num_ctx``, ``keep_alive`` and sampling with every request.

    ``ChatOllama`` otherwise leaves ``num_ctx`` to Ollama's small default and its client
    has no timeout at all. Its clients' transports turn a tool call the model wrote as
    JSON text into ``tool_calls`` (unless ``repair_tool_calls`` is off). Keyword
    ``overrides`` that are settings fields change the settings; the rest go to ``ChatOllama``.
    """
    module = require("langchain_ollama", "langchain-ollama")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    options = _native.sampling(target)
    kwargs: dict[str, Any] = {
        "model": target.requested_model,
        "base_url": target.hosts[0].url,
        "num_ctx": options["num_ctx"],
        "temperature": options["temperature"],
        "top_p": options["top_p"],
        "num_predict": options.get("num_predict"),
        "seed": options.get("seed"),
        "keep_alive": _native.keep_alive(target),
        "client_kwargs": _native.client_kwargs(target),
        **_native.failover_kwargs(target),
    }
    transports = _native.repairing_transports(target)
    if transports is not None:
        kwargs["sync_client_kwargs"] = {"transport": transports[0]}
        kwargs["async_client_kwargs"] = {"transport": transports[1]}
    if target.settings.think is not None:
        kwargs["reasoning"] = target.settings.think
    kwargs.update(theirs)
    chat: ChatOllama = module.ChatOllama(**kwargs)
    return chat


def ollama_embeddings(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OllamaEmbeddings:
    """An ``OllamaEmbeddings`` on the native ``/api/embed``, with ``num_ctx`` and timeouts set."""
    module = require("langchain_ollama", "langchain-ollama")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    kwargs: dict[str, Any] = {
        "model": target.requested_model,
        "base_url": target.hosts[0].url,
        "num_ctx": _native.num_ctx(target),
        "client_kwargs": _native.client_kwargs(target),
        **_native.failover_kwargs(target),
    }
    alive = _native.keep_alive_seconds(target)  # OllamaEmbeddings takes seconds only
    if alive is not None:
        kwargs["keep_alive"] = alive
    kwargs.update(theirs)
    embeddings: OllamaEmbeddings = module.OllamaEmbeddings(**kwargs)
    return embeddings
