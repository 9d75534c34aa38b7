"""A smolagents model on Ollama's native chat API (through LiteLLM), with ``num_ctx`` set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import prepare
from integrations.adapters import _native
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from smolagents import LiteLLMModel

__all__ = ["model"]


def model(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> LiteLLMModel:
    """A ``LiteLLMModel`` on ``ollama_chat/<model>`` with ``num_ctx``, ``keep_alive`` and timeouts set.

    smolagents' system prompt alone is a few thousand tokens: with Ollama's default
    context, its own guide says, it "will fail horribly". Keyword ``overrides`` that
    are settings fields change the settings; the rest go to ``LiteLLMModel``.
    """
    module = require("smolagents", "smolagents")
    require("litellm", "smolagents")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    kwargs: dict[str, Any] = {
        "model_id": f"ollama_chat/{target.requested_model}",
        "api_base": target.hosts[0].url,
        "api_key": target.host_key,
        **_litellm_options(target),
    }
    kwargs.update(theirs)
    built: LiteLLMModel = module.LiteLLMModel(**kwargs)
    return built


def _litellm_options(target: Any) -> dict[str, Any]:
    """LiteLLM's ``ollama_chat`` fields: options it moves into Ollama's ``options``, and ``keep_alive``."""
    options = _native.sampling(target)
    out: dict[str, Any] = {"num_ctx": options["num_ctx"], "temperature": options["temperature"],
                           "top_p": options["top_p"], "timeout": target.settings.timeout}
    if "num_predict" in options:
        out["max_tokens"] = options["num_predict"]
    if "seed" in options:
        out["seed"] = options["seed"]
    alive = _native.keep_alive(target)
    if alive is not None:
        out["keep_alive"] = alive
    return out
