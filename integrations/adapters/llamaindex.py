"""LlamaIndex's native Ollama LLM and embedding model (``llama-index-llms-ollama``, ``-embeddings-ollama``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import prepare
from integrations.adapters import _native
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from llama_index.embeddings.ollama import OllamaEmbedding
    from llama_index.llms.ollama import Ollama

__all__ = ["embed_model", "llm"]


def llm(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> Ollama:
    """A LlamaIndex ``Ollama`` LLM with a cold-load timeout, ``num_ctx`` and ``keep_alive`` set.

    Its own request timeout is 30 s, which a cold model load exceeds; its context
    window otherwise comes from a lookup at the first request. Its ``ollama`` clients are
    built here, with transports that turn a tool call the model wrote as JSON text into
    ``tool_calls`` (unless ``repair_tool_calls`` is off). Keyword ``overrides`` that are
    settings fields change the settings; the rest go to ``Ollama``.
    """
    module = require("llama_index.llms.ollama", "llamaindex")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    options = _native.sampling(target)
    extra = {key: options[key] for key in ("top_p", "num_predict", "seed") if key in options}
    kwargs: dict[str, Any] = {
        "model": target.requested_model,
        "base_url": target.hosts[0].url,
        "temperature": target.temperature,
        "context_window": options["num_ctx"],
        "request_timeout": target.settings.timeout,
        "keep_alive": _native.keep_alive(target),
        "additional_kwargs": extra,
        "headers": _native.client_kwargs(target)["headers"],
    }
    transports = _native.repairing_transports(target)
    if transports is not None:
        import ollama

        client_kwargs = _native.client_kwargs(target)
        kwargs["client"] = ollama.Client(host=target.hosts[0].url, transport=transports[0], **client_kwargs)
        kwargs["async_client"] = ollama.AsyncClient(host=target.hosts[0].url, transport=transports[1], **client_kwargs)
    if target.settings.think is not None:
        kwargs["thinking"] = target.settings.think
    kwargs.update(theirs)
    built: Ollama = module.Ollama(**kwargs)
    return built


def embed_model(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OllamaEmbedding:
    """A LlamaIndex ``OllamaEmbedding`` with ``num_ctx``, ``keep_alive`` and the timeouts set."""
    module = require("llama_index.embeddings.ollama", "llamaindex")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    kwargs: dict[str, Any] = {
        "model_name": target.requested_model,
        "base_url": target.hosts[0].url,
        "ollama_additional_kwargs": {"num_ctx": _native.num_ctx(target)},
        "client_kwargs": _native.client_kwargs(target),
        "keep_alive": _native.keep_alive(target),
    }
    kwargs.update(theirs)
    built: OllamaEmbedding = module.OllamaEmbedding(**kwargs)
    return built
