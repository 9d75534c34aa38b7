"""A Pydantic AI model on its Ollama provider, over the OpenAI-compatible API and our transport."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from pydantic_ai.models.openai import OpenAIChatModel

__all__ = ["model"]


def model(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OpenAIChatModel:
    """An ``OllamaModel`` whose ``OllamaProvider`` talks through our transport.

    The transport fills sampling defaults and the output cap, asks for usage on streams,
    repairs tool calls written as text, and sends the derived model when ``num_ctx`` asks for one.
    Keyword ``overrides`` that are settings fields change the settings; the rest go to ``OllamaModel``.
    """
    require("openai", "pydantic-ai")
    models = require("pydantic_ai.models.ollama", "pydantic-ai")
    providers = require("pydantic_ai.providers.ollama", "pydantic-ai")
    import openai as sdk

    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    _, async_http = http_clients(target)
    client = sdk.AsyncOpenAI(
        base_url=target.base_url,
        api_key=target.api_key,
        timeout=target.timeout(),
        max_retries=target.settings.max_retries,
        http_client=async_http,
    )
    provider = providers.OllamaProvider(openai_client=client)
    built: OpenAIChatModel = models.OllamaModel(target.model, provider=provider, **theirs)
    return built
