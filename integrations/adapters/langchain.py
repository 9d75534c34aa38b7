"""LangChain chat and embedding models for Ollama through ``langchain-openai``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

__all__ = ["chat_openai", "openai_embeddings"]


def chat_openai(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> ChatOpenAI:
    """A ``ChatOpenAI`` for Ollama.

    The output cap reaches Ollama as ``max_tokens`` (ChatOpenAI sends
    ``max_completion_tokens``, which Ollama ignores) and streams report usage.
    Keyword ``overrides`` that are settings fields change the settings; the rest go to ``ChatOpenAI``.
    """
    module = require("langchain_openai", "langchain")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    sync_http, async_http = http_clients(target)
    kwargs: dict[str, Any] = {
        "model": target.model,
        "base_url": target.base_url,
        "api_key": target.api_key,
        "temperature": target.temperature,
        "top_p": target.top_p,
        "timeout": target.timeout(),
        "max_retries": target.settings.max_retries,
        "stream_usage": True,
        "http_client": sync_http,
        "http_async_client": async_http,
    }
    if target.settings.max_tokens is not None:
        kwargs["max_tokens"] = target.settings.max_tokens
    if target.settings.seed is not None:
        kwargs["seed"] = target.settings.seed
    kwargs.update(theirs)
    chat: ChatOpenAI = module.ChatOpenAI(**kwargs)
    return chat


def openai_embeddings(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OpenAIEmbeddings:
    """An ``OpenAIEmbeddings`` that works against Ollama.

    Ollama's ``/v1/embeddings`` takes strings, not the token-id arrays that
    ``OpenAIEmbeddings`` sends by default, so token splitting is off.
    """
    module = require("langchain_openai", "langchain")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    sync_http, async_http = http_clients(target)
    kwargs: dict[str, Any] = {
        "model": target.model,
        "base_url": target.base_url,
        "api_key": target.api_key,
        "timeout": target.timeout(),
        "max_retries": target.settings.max_retries,
        "tiktoken_enabled": False,
        "check_embedding_ctx_length": False,
        "http_client": sync_http,
        "http_async_client": async_http,
    }
    kwargs.update(theirs)
    embeddings: OpenAIEmbeddings = module.OpenAIEmbeddings(**kwargs)
    return embeddings
