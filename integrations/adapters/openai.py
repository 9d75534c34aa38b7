"""OpenAI SDK clients pointed at Ollama's ``/v1`` API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._target import Target, http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    import openai

__all__ = ["async_openai_client", "openai_client"]


def openai_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for the first configured Ollama host.

    Requests it sends always carry ``temperature`` and ``top_p`` (the configured or the
    model's own values), ``max_tokens`` when a cap is configured, and usage on streams.
    ``model`` names the model that is checked (and pulled when ``pull``); requests that
    use that name are sent to the derived model when ``num_ctx`` asks for one.
    Keyword ``overrides`` that are settings fields change the settings; the rest go to
    ``openai.OpenAI``.
    """
    import openai as sdk

    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    sync_http, _ = http_clients(target)
    client: openai.OpenAI = sdk.OpenAI(**_client_kwargs(target, sync_http, theirs))
    return client


def async_openai_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> openai.AsyncOpenAI:
    """The ``openai.AsyncOpenAI`` twin of `openai_client`."""
    import openai as sdk

    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    _, async_http = http_clients(target)
    client: openai.AsyncOpenAI = sdk.AsyncOpenAI(**_client_kwargs(target, async_http, theirs))
    return client


def _client_kwargs(target: Target, http_client: Any, extra: dict[str, Any]) -> dict[str, Any]:
    # base_url and api_key are always explicit, so OPENAI_BASE_URL and OPENAI_API_KEY are never read.
    return {
        "base_url": target.base_url,
        "api_key": target.api_key,
        "timeout": target.timeout(),
        "max_retries": target.settings.max_retries,
        "http_client": http_client,
        **extra,
    }
