"""A ``dspy.LM`` on Ollama's native chat route (``ollama_chat/``), with ``num_ctx`` and ``keep_alive`` set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import prepare
from integrations.adapters.smolagents import _litellm_options
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    import dspy as dspy_

__all__ = ["lm"]


def lm(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> dspy_.LM:
    """A ``dspy.LM("ollama_chat/<model>")`` that sends ``num_ctx``, ``keep_alive`` and sampling.

    The ``ollama_chat/`` route is Ollama's native chat (``ollama/`` would be the
    completion route, which ignores chat templates' tool and system handling).
    Keyword ``overrides`` that are settings fields change the settings; the rest go to ``dspy.LM``.
    """
    module = require("dspy", "dspy")
    target, theirs = prepare(
        model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides, derive=False
    )
    kwargs: dict[str, Any] = {
        "api_base": target.hosts[0].url,
        "api_key": target.host_key,
        "num_retries": target.settings.max_retries,
        **_litellm_options(target),
    }
    kwargs.update(theirs)
    built: dspy_.LM = module.LM(f"ollama_chat/{target.requested_model}", **kwargs)
    return built
