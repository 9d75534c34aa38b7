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
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import Target, http_clients, prepare
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from integrations.coding import CodeLoop, Done
    from integrations.sandbox import Limits

__all__ = ["code_agents", "code_user_proxy", "config_list", "llm_config", "native_config_list", "write_oai_config_list"]


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
        for host in target.openai_hosts
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


def code_agents(
    task: str | None = None,
    *,
    model: str | None = None,
    settings: OllamaSettings | None = None,
    work_dir: str | Path | None = None,
    done: Done | None = None,
    max_replies: int = 6,
    timeout: int = 60,
    system_message: str | None = None,
    network: bool = False,
    limits: Limits | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    **overrides: Any,
) -> tuple[Any, Any]:
    """An ``(assistant, user_proxy)`` pair that writes and runs code until a check of the result holds.

    Start it as AG2's docs do: ``user_proxy.initiate_chat(assistant, message=task)``. The user
    proxy runs every reply's Python (confined to ``work_dir``, default ``./coding``, killed after
    ``timeout`` s) before anything can end the chat, answers with the traceback's tail and a hint,
    calls out a resent program, starts over once from a clean history after
    `integrations.coding.FRESH_AFTER` failures, and ends the chat when ``done`` holds (see
    `integrations.coding.CodeLoop`) or after ``max_replies`` model replies. The assistant's system
    message is written for small models (`integrations.coding.system_message`: one whole program
    per reply, the files in ``work_dir`` described; stage inputs before calling this).
    ``user_proxy.code_loop`` is the `CodeLoop`: ``.finished``, ``.ending``, ``.runs``, ``.replies``.
    Replies are capped at `integrations.coding.MAX_TOKENS` tokens unless the settings set a cap.
    ``network`` and ``limits`` go to the sandbox (`integrations.sandbox.Limits`; no network by default).
    """
    require("autogen", "autogen")
    from autogen import AssistantAgent

    from integrations.coding import CodeLoop, reply_capped
    from integrations.coding import system_message as coder_message

    config = llm_config(model, settings=settings, check=check, pull=pull, **reply_capped(settings, overrides))
    loop = CodeLoop(
        Path("coding") if work_dir is None else work_dir,
        task=task,
        done=done,
        max_replies=max_replies,
        timeout=timeout,
        network=network,
        limits=limits,
    )
    never = lambda message: False  # noqa: E731  (only the loop ends the chat, never a word)
    assistant = AssistantAgent(
        "assistant",
        llm_config=config,
        system_message=system_message or coder_message(loop.work_dir),
        is_termination_msg=never,
    )
    return assistant, code_user_proxy(loop)


def code_user_proxy(loop: CodeLoop, *, name: str = "user_proxy", report: bool = False) -> Any:
    """A ``UserProxyAgent`` whose only reply is `CodeLoop.step`: it runs each program, then answers.

    What `code_agents` pairs with its assistant; use it alone to put the loop in a ``GroupChat``
    (a fresh start then clears every member's history with the manager).
    ``report``: when the loop stops, say so in a last message instead of ending the chat (in a
    group chat, the speaker selection decides who goes on). ``proxy.code_loop`` is ``loop``.
    """
    require("autogen", "autogen")
    from autogen import Agent, UserProxyAgent

    never = lambda message: False  # noqa: E731
    user_proxy = UserProxyAgent(
        name,
        human_input_mode="NEVER",
        code_execution_config=False,  # the loop runs the code, before any termination check
        is_termination_msg=never,
        max_consecutive_auto_reply=loop.max_replies + 1,
        description="Runs the coder's Python program and reports the result.",
    )

    def reply(recipient: Any, messages: list[dict[str, Any]] | None, sender: Any, config: Any) -> tuple[bool, Any]:
        history = messages or [{}]
        if loop.task is None:
            loop.begin(_text(history[0]))  # the chat's opening message is the task
        step = loop.step(_text(history[-1]))
        if step.action == "fresh-start":
            _forget(recipient, sender)
        if step.action == "stop" and report:
            return True, loop.report()
        return True, step.message  # None ends the chat

    user_proxy.register_reply([Agent, None], reply, position=0)
    user_proxy.code_loop = loop  # type: ignore[attr-defined]
    return user_proxy


def _forget(proxy: Any, sender: Any) -> None:
    """A fresh start: both sides of the chat forget the failed attempts; in a group chat, every member's history
    with the manager (what each one's model reads) is cleared, and the group's record is kept."""
    members = getattr(getattr(sender, "groupchat", None), "agents", None)
    for member in members if isinstance(members, list) else [proxy]:
        member.clear_history(sender)
        sender.clear_history(member)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # multimodal parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""
