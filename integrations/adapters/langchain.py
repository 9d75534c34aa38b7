"""LangChain chat and embedding models for Ollama through ``langchain-openai``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import Target, http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

__all__ = ["chat_kwargs", "chat_openai", "openai_embeddings"]


def chat_kwargs(target: Target) -> dict[str, Any]:
    """``ChatOpenAI``'s keyword arguments for ``target``, as plain values.

    Also what ``ollama-integrations config --format langchain`` prints.
    """
    kwargs: dict[str, Any] = {
        "model": target.model,
        "base_url": target.base_url,
        "api_key": target.api_key,
        "temperature": target.temperature,
        "top_p": target.top_p,
        "timeout": target.settings.timeout,
        "max_retries": target.settings.max_retries,
        "stream_usage": True,
    }
    if target.settings.max_tokens is not None:
        kwargs["max_tokens"] = target.settings.max_tokens
    if target.settings.seed is not None:
        kwargs["seed"] = target.settings.seed
    return kwargs


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
    A thinking model's reasoning, which ``ChatOpenAI`` drops, is kept in the
    message's ``additional_kwargs["reasoning_content"]``.
    Keyword ``overrides`` that are settings fields change the settings; the rest go to ``ChatOpenAI``.
    """
    module = require("langchain_openai", "langchain")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    sync_http, async_http = http_clients(target)
    kwargs = {
        **chat_kwargs(target),
        "timeout": target.timeout(),  # short connect, long read
        "http_client": sync_http,
        "http_async_client": async_http,
        **theirs,
    }
    chat: ChatOpenAI = _reasoning_chat_class(module.ChatOpenAI)(**kwargs)
    return chat


_CLASSES: dict[type[Any], type[Any]] = {}


def _reasoning_chat_class(base: type[ChatOpenAI]) -> type[ChatOpenAI]:
    """``ChatOpenAI`` plus the reasoning text Ollama sends (``reasoning``), built on first use."""
    found = _CLASSES.get(base)
    if found is not None:
        return found

    class OllamaChatOpenAI(base):  # type: ignore[valid-type,misc]  # a subclass of a class imported at run time
        """``ChatOpenAI`` that keeps Ollama's reasoning text in ``additional_kwargs["reasoning_content"]``."""

        def _create_chat_result(self, response: Any, generation_info: dict[str, Any] | None = None) -> Any:
            result = super()._create_chat_result(response, generation_info)
            data = response if isinstance(response, dict) else response.model_dump()
            for generation, choice in zip(result.generations, data.get("choices") or (), strict=False):
                _keep_reasoning(generation.message, choice.get("message"))
            return result

        def _convert_chunk_to_generation_chunk(
            self, chunk: dict[str, Any], default_chunk_class: type, base_generation_info: dict[str, Any] | None
        ) -> Any:
            generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
            choices = chunk.get("choices") or ()
            if generation is not None and choices:
                _keep_reasoning(generation.message, choices[0].get("delta"))
            return generation

    _CLASSES[base] = OllamaChatOpenAI
    return OllamaChatOpenAI


def _keep_reasoning(message: Any, raw: Any) -> None:
    if not isinstance(raw, dict):
        return
    reasoning = raw.get("reasoning_content") or raw.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        message.additional_kwargs["reasoning_content"] = reasoning


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
