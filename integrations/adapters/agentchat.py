"""AutoGen AgentChat (``autogen_agentchat`` / ``pyautogen`` >= 0.10) model clients for Ollama."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations._target import Target, http_clients, prepare
from integrations.families import traits_for
from integrations.settings import OllamaSettings

if TYPE_CHECKING:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from integrations.coding import Done
    from integrations.sandbox import Limits

__all__ = ["client_config", "code_team", "model_client", "model_info_for"]


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


def code_team(
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
    client: Any = None,
    check: bool | None = None,
    pull: bool | None = None,
    **overrides: Any,
) -> Any:
    """A ``RoundRobinGroupChat`` of a coder and an executor that finishes on small models.

    Run it as AgentChat's docs do: ``await team.run(task=...)`` (or ``Console(team.run_stream(...))``).
    The executor runs every program of the coder (confined to ``work_dir``, default ``./coding``,
    killed after ``timeout`` s) before anything can stop the team, answers with the traceback's tail
    and a hint, calls out a resent program, clears the coder's context once for a fresh start after
    `integrations.coding.FRESH_AFTER` failures, and stops the team when ``done`` holds (see
    `integrations.coding.CodeLoop`) or after ``max_replies`` coder replies. ``team.code_loop`` is the
    `CodeLoop`. ``network`` and ``limits`` go to the sandbox (no network by default).
    ``client``: a ready AgentChat model client to use instead of `model_client`'s.
    ``team.code_client`` is the client: ``await team.code_client.close()`` when done.
    """
    require("autogen_agentchat", "agentchat")
    from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
    from autogen_agentchat.base import Response
    from autogen_agentchat.conditions import ExternalTermination, MaxMessageTermination
    from autogen_agentchat.messages import BaseChatMessage, TextMessage
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core import CancellationToken

    from integrations.coding import CodeLoop, reply_capped
    from integrations.coding import system_message as coder_message

    if client is None:
        client = model_client(model, settings=settings, check=check, pull=pull, **reply_capped(settings, overrides))
    loop = CodeLoop(
        Path("coding") if work_dir is None else work_dir,
        task=task,
        done=done,
        max_replies=max_replies,
        timeout=timeout,
        network=network,
        limits=limits,
    )
    coder = AssistantAgent("coder", model_client=client, system_message=system_message or coder_message(loop.work_dir))
    stop = ExternalTermination()

    class Executor(BaseChatAgent):
        """Runs the coder's program, judges the result, and answers (or stops the team)."""

        @property
        def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
            return (TextMessage,)

        async def on_messages(
            self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
        ) -> Response:
            if loop.task is None and messages:
                loop.begin(messages[0].to_text())  # the team's task is the first message
            step = await loop.step_async(messages[-1].to_text() if messages else "")
            if step.action == "fresh-start":
                await coder.model_context.clear()  # the coder forgets its failed attempts
            if step.action == "stop":
                stop.set()
                return Response(chat_message=TextMessage(content=loop.report(), source=self.name))
            return Response(chat_message=TextMessage(content=step.message or "", source=self.name))

        async def on_reset(self, cancellation_token: CancellationToken) -> None:
            loop.reset()

    executor = Executor("executor", description="Runs the coder's Python program and reports the result.")
    team = RoundRobinGroupChat(
        [coder, executor], termination_condition=stop | MaxMessageTermination(2 * max_replies + 3)
    )
    team.code_loop = loop  # type: ignore[attr-defined]
    team.code_client = client  # type: ignore[attr-defined]
    return team
