"""AG2 / Autogen (classic ``from autogen import AssistantAgent``) configuration for Ollama.

The results are plain dicts, exactly what Ollama's announcement writes by hand,
with the traps removed: ``price: [0, 0]`` (no cost warnings for unknown models),
explicit ``temperature``/``top_p`` (``/v1`` forces 1.0 otherwise), the output cap
as ``max_tokens``, and one entry per configured host so Autogen fails over in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from integrations._target import Target, http_clients, prepare
from integrations.settings import OllamaSettings

__all__ = ["config_list", "llm_config", "native_config_list", "write_oai_config_list"]


def config_list(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> list[dict[str, Any]]:
    """One OpenAI-compatible config entry per configured host, in failover order.

    Keyword ``overrides`` that are settings fields change the settings; the rest are
    copied into every entry (e.g. ``tags=["local"]``).
    """
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    return _entries(target, theirs)


def _entries(target: Target, extra: dict[str, Any]) -> list[dict[str, Any]]:
    from integrations._transport import reasoning_effort

    sampling = target.request_defaults()
    sampling.pop("seed", None)  # AG2 takes the seed at the top level of llm_config
    effort = reasoning_effort(target.settings.think)
    if effort is not None:
        sampling["reasoning_effort"] = effort  # Ollama's /v1 ignores a top-level think
    return [
        {
            "model": target.model,
            "base_url": host.base_url,
            "api_key": target.api_key,
            "price": [0, 0],
            **sampling,
            **extra,
        }
        for host in target.hosts
    ]


def llm_config(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """The whole ``llm_config`` dict for an AG2 agent: config_list, temperature, timeout, cache_seed.

    Each entry carries an ``http_client`` whose transport does for AG2 what it does for
    the other factories: tool calls written as JSON text become tool calls, image URLs
    are inlined, ``tool_choice`` is applied, and `ContextTruncated` warns. (`config_list`
    stays plain JSON-able data, without it.)
    Keyword ``overrides`` that are settings fields change the settings; the rest are
    added to the top level of the dict (e.g. ``tools=[...]``).
    """
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    sync_http, _ = http_clients(target)
    config: dict[str, Any] = {
        "config_list": _entries(target, {"http_client": sync_http}),
        "temperature": target.temperature,
        "timeout": max(1, round(target.settings.timeout)),
        "cache_seed": target.settings.cache_seed,
    }
    if target.settings.seed is not None:
        config["seed"] = target.settings.seed
    config.update(theirs)
    return config


def native_config_list(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Entries for AG2's native Ollama client (``api_type: "ollama"``), one per host.

    AG2 Classic's native client otherwise sends ``num_ctx: 2048``; these entries carry the
    configured or real context length. AG2 builds its own ``ollama.Client``, with no hook for
    a transport, so the text tool-call repair cannot reach it: with ``repair_tool_calls`` on
    (the default) the entries use AG2's own remedy, manual tool calling
    (``native_tool_calls: False``: the tools are described in the prompt and AG2 reads the
    JSON calls from the text); with it off, native tool calls when the model reports the
    ``tools`` capability.
    """
    target, theirs = prepare(model, settings=settings, check=check, pull=pull, requires=requires, overrides=overrides)
    settings_ = target.settings
    num_ctx = settings_.num_ctx or target.context_length
    entries = []
    for host in target.hosts:
        entry: dict[str, Any] = {
            "api_type": "ollama",
            "model": target.requested_model,
            "client_host": host.url,
            "price": [0, 0],
            "native_tool_calls": "tools" in target.capabilities and not settings_.repair_tool_calls,
            "temperature": target.temperature,
            "top_p": target.top_p,
        }
        if num_ctx is not None:
            entry["num_ctx"] = num_ctx
        if settings_.max_tokens is not None:
            entry["num_predict"] = settings_.max_tokens
        if settings_.seed is not None:
            entry["seed"] = settings_.seed
        entry.update(theirs)
        entries.append(entry)
    return entries


def write_oai_config_list(
    path: str | Path,
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    **overrides: Any,
) -> Path:
    """Write `config_list` as JSON that ``autogen.config_list_from_json`` reads back; returns the path.

    The file holds the API key: it is created readable by its owner only (never through a symlink).
    """
    from integrations.config_render import write_private

    entries = config_list(model, settings=settings, check=check, pull=pull, **overrides)
    return write_private(path, json.dumps(entries, indent=2) + "\n")
