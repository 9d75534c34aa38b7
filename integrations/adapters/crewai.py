"""CrewAI: an ``LLM`` on its native OpenAI-compatible Ollama route, and the embedder its memory needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from crewai.llms.base_llm import BaseLLM

__all__ = ["embedder", "llm"]


def llm(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> BaseLLM:
    """What ``crewai.LLM`` builds for CrewAI's own Ollama provider (no LiteLLM), its OpenAI clients on our transport.

    ``provider="ollama"`` with an explicit ``base_url`` and ``api_key``, so neither
    ``OLLAMA_HOST`` nor ``OPENAI_API_KEY`` is read behind the settings' back.
    Keyword ``overrides`` that are settings fields change the settings; the rest go to ``LLM``.
    """
    module = require("crewai", "crewai")
    import openai as sdk

    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    kwargs: dict[str, Any] = {
        "model": target.model,
        "provider": "ollama",
        "base_url": target.base_url,
        "api_key": target.api_key,
        "timeout": target.settings.timeout,
        "max_retries": target.settings.max_retries,
        "temperature": target.temperature,
        "top_p": target.top_p,
        "max_tokens": target.settings.max_tokens,
        "seed": target.settings.seed,
    }
    kwargs.update(theirs)
    built: BaseLLM = module.LLM(**{k: v for k, v in kwargs.items() if v is not None})
    # CrewAI builds plain OpenAI clients; ours carry the transport (defaults, derived model, tool-call repair).
    sync_http, async_http = http_clients(target)
    common = {"base_url": target.base_url, "api_key": target.api_key, "timeout": target.timeout(),
              "max_retries": target.settings.max_retries}
    built._client = sdk.OpenAI(**common, http_client=sync_http)
    built._async_client = sdk.AsyncOpenAI(**common, http_client=async_http)
    return built


def embedder(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """The ``embedder`` for ``Crew(embedder=...)``: Ollama's embeddings on the same server.

    Without it, a crew with ``memory=True`` embeds through OpenAI, whatever its LLM.
    Keyword ``overrides`` that are settings fields change the settings; the rest join ``config``.
    """
    require("crewai", "crewai")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires,
        overrides=overrides, derive=False,
    )
    config = {"model_name": target.requested_model, "url": f"{target.hosts[0].url}/api/embeddings", **theirs}
    return {"provider": "ollama", "config": config}
