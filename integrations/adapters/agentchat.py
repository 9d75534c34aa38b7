"""AutoGen AgentChat (``autogen_agentchat`` / ``pyautogen`` >= 0.10) model clients for Ollama."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import Target, http_clients, prepare
from integrations.families import traits_for
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

__all__ = ["client_config", "model_client", "model_info_for"]


def model_info_for(target: Target) -> dict[str, Any]:
    """AgentChat's ``model_info`` for the target.

    Capabilities come from the server when the model was checked, else from the
    table in `integrations.families`, else the conservative completion-only set.
    JSON mode and JSON-schema output are Ollama features, not model features
    (since Ollama 0.5.0), so both are on.
    """
    return {
        "vision": "vision" in target.capabilities,
        "function_calling": "tools" in target.capabilities,
        "json_output": True,
        "structured_output": True,
        "family": traits_for(target.requested_model).agentchat_family,
        "multiple_system_messages": True,
    }


def client_config(target: Target) -> dict[str, Any]:
    """``OpenAIChatCompletionClient``'s keyword arguments for ``target``, as plain values.

    Also the ``config`` of the component that ``ollama-integrations config --format agentchat`` prints.
    """
    config: dict[str, Any] = {
        "model": target.model,
        "base_url": target.base_url,
        "api_key": target.api_key,
        "model_info": model_info_for(target),
        "temperature": target.temperature,
        "top_p": target.top_p,
        "timeout": target.settings.timeout,
        "max_retries": target.settings.max_retries,
    }
    if target.settings.max_tokens is not None:
        config["max_tokens"] = target.settings.max_tokens
    if target.settings.seed is not None:
        config["seed"] = target.settings.seed
    return config


def model_client(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> OpenAIChatCompletionClient:
    """An ``OpenAIChatCompletionClient`` for Ollama with a correct ``model_info``.

    Keyword ``overrides`` that are settings fields change the settings; the rest go to
    ``OpenAIChatCompletionClient`` (``model_info=`` among them, to replace ours).
    """
    module = require("autogen_ext.models.openai", "agentchat")
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    _, async_http = http_clients(target)
    kwargs = {**client_config(target), "http_client": async_http, **theirs}
    client: OpenAIChatCompletionClient = module.OpenAIChatCompletionClient(**kwargs)
    return client
