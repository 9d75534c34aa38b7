"""The announcement's NVDA/TESLA chart task with AutoGen AgentChat: a coder and a code executor take turns.

Shows ``integrations.model_client()`` driving an AgentChat ``AssistantAgent`` that writes
Python, and an executor agent that runs it with ``LocalCommandLineCodeExecutor`` inside
the run's work directory, killed after ``--timeout`` seconds. They take turns in a
``RoundRobinGroupChat``. The executor runs every program first, then judges the run: the
team stops when the chart is a valid PNG and the program printed the right final
changes, or after ``--max-turns`` coder replies; otherwise the coder gets the traceback's
last lines and a hint. A first reply without code is asked again once, in a fresh run.
The prices are staged as ``prices.csv`` in the work directory (yfinance when possible,
else the bundled SYNTHETIC sample), described to the coder with its columns and first
rows, and the chart must be saved there as ``nvda_tsla_ytd.png``.

Needs: ``pip install 'ollama-integrations[agentchat,examples]'`` and a model that writes
code: ``codellama`` (the announcement's) by default, ``qwen2.5-coder`` works better.
The embedded ``smollm2:135m`` exercises the plumbing but cannot write working code.

Run:
    python examples/nvda_tsla_agentchat.py [--model qwen2.5-coder] [--max-turns 6] [--timeout 60]
    ollama-integrations run nvda-tsla-agentchat --embedded
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _chart_task
import _common
import _market
from nvda_tsla import CHART, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings, model_client

EXAMPLE = "nvda_tsla_agentchat"
EMBEDDED_MODEL = "qwen2.5-coder:1.5b"  # what 'ollama-integrations run nvda-tsla-agentchat --embedded' runs
__all__ = ["CHART", "DATA", "EMBEDDED_MODEL", "TASK", "Result", "executor_agent", "main", "run"]


@dataclass
class Result:
    """What the team did, for printing and for tests."""

    work_dir: Path
    data_source: str
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (source, message type, text)
    code_runs: int = 0  # programs the executor ran
    exit_codes: list[int] = field(default_factory=list)
    turns: int = 0  # coder replies
    openings: int = 0  # chats opened: 2 when the first reply had no code, or after a fresh start; at most 3
    verdict: _chart_task.Verdict | None = None
    termination: str = "max-turns"  # "chart-written", "no-code", "fresh-start" or "max-turns"
    fresh_starts: int = 0  # chats started over after `_chart_task.FRESH_AFTER` failed replies
    stop_reason: str = ""
    files: list[Path] = field(default_factory=list)
    chart: Path | None = None

    @property
    def ok(self) -> bool:
        """The success criterion: a valid PNG chart of the change since the first close."""
        return self.verdict is not None and self.verdict.met


def executor_agent(
    work_dir: Path,
    *,
    timeout: int,
    result: Result | None = None,
    prices: _market.Prices | None = None,
    max_turns: int = 6,
) -> tuple[Any, Any, Any]:
    """The code executor (not started), the agent that runs the coder's programs with it, and the stop signal.

    The agent runs every program before anything else happens, judges the run by the success
    criterion, and answers with the traceback's last lines and a hint; it sets the returned
    ``ExternalTermination`` when the task is done, when the turn bound is reached, or when the
    opening reply had no code (`run` then asks the opening again).
    """
    from autogen_agentchat.agents import BaseChatAgent
    from autogen_agentchat.base import Response
    from autogen_agentchat.conditions import ExternalTermination
    from autogen_agentchat.messages import BaseChatMessage, TextMessage
    from autogen_core import CancellationToken
    from autogen_core.code_executor import CodeBlock

    # The code files stay in work_dir: the user can read exactly what ran.
    executor = _common.agentchat_code_executor(work_dir, timeout=timeout)
    record = result or Result(work_dir=work_dir, data_source="sample")
    data = prices or _market.load_sample()
    stop = ExternalTermination()

    class ChartExecutor(BaseChatAgent):
        def __init__(self) -> None:
            super().__init__("executor", description="Runs the coder's Python program and reports the result.")
            self.replies_this_chat = 0
            self.attempts = _chart_task.Attempts()

        @property
        def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
            return (TextMessage,)

        async def on_messages(
            self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
        ) -> Response:
            text = messages[-1].to_text() if messages else ""
            record.turns += 1
            self.replies_this_chat += 1
            blocks = _chart_task.python_blocks(text)
            out_of_turns = record.turns >= max_turns
            if not blocks:
                if self.replies_this_chat == 1 and record.openings < 2 and result is not None:
                    record.termination = "no-code"
                    stop.set()
                elif out_of_turns:
                    stop.set()
                return Response(chat_message=TextMessage(content=_chart_task.NO_CODE, source=self.name))
            code = "\n\n".join(blocks)
            repeated = self.attempts.repeated(code)
            outcome = await executor.execute_code_blocks([CodeBlock(code=code, language="python")], cancellation_token)
            record.code_runs += 1
            record.exit_codes.append(outcome.exit_code)
            verdict = _chart_task.judge(work_dir, outcome.output, data)
            record.verdict = verdict
            if verdict.met:
                record.termination = "chart-written"
                stop.set()
                reply = f"Done: {_chart_task.describe(verdict, work_dir)}"
            else:
                if out_of_turns:
                    record.termination = "max-turns"
                    stop.set()
                elif self.replies_this_chat >= _chart_task.FRESH_AFTER and not record.fresh_starts:
                    record.termination = "fresh-start"  # run() opens a clean chat
                    stop.set()
                reply = _chart_task.feedback(outcome.output, outcome.exit_code, verdict, timeout, repeated=repeated)
            return Response(chat_message=TextMessage(content=reply, source=self.name))

        async def on_reset(self, cancellation_token: CancellationToken) -> None:
            self.replies_this_chat = 0
            self.attempts = _chart_task.Attempts()  # a clean history: nothing was sent "before"

    return executor, ChartExecutor(), stop


async def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    task: str = TASK,
    max_turns: int = 6,
    timeout: int = 60,
    live_data: bool = True,
    client: Any = None,
) -> Result:
    """Let the coder and the executor take turns until the chart is done or the coder has replied ``max_turns`` times.

    ``client`` is a ready AgentChat model client to use instead of one built from ``settings``.
    """
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat

    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _chart_task.stage_data(work_dir, live=live_data)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)

    client = client or model_client(settings=_chart_task.bounded(settings))
    executor, runner, stop = executor_agent(
        work_dir, timeout=timeout, result=result, prices=prices, max_turns=max_turns
    )
    await executor.start()
    coder = AssistantAgent("coder", model_client=client, system_message=_chart_task.brief(prices, work_dir))
    # The message bound is only a safety net: the executor stops the team first.
    team = RoundRobinGroupChat([coder, runner], termination_condition=stop | MaxMessageTermination(2 * max_turns + 2))
    try:
        opening = task
        while True:
            result.openings += 1
            result.termination = "max-turns"
            await team.reset()
            outcome = await team.run(task=opening)
            for message in outcome.messages:
                result.messages.append((message.source, type(message).__name__, message.to_text()))
            result.stop_reason = outcome.stop_reason or ""
            following = (
                None if result.turns >= max_turns else _chart_task.next_opening(result.termination, result.openings)
            )
            if following is None:
                break
            if result.termination == "fresh-start":
                result.fresh_starts += 1
            opening = following
    finally:
        await executor.stop()
        await client.close()
    result.files = _common.new_files(work_dir, before)
    if _common.is_png(work_dir / CHART):
        result.chart = work_dir / CHART
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=6)
    p.add_argument("--task", default=TASK, help=f"the task (default: {TASK!r})")
    p.add_argument("--timeout", type=int, default=60, help="seconds before generated code is killed (default: 60)")
    p.add_argument("--offline", action="store_true", help="use the bundled sample data without trying yfinance")
    args = p.parse_args(argv)
    try:
        settings = _common.settings_from(args, default_model=DEFAULT_MODEL)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[agentchat] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        if not _common.confirm_code_execution(work_dir, args.timeout, yes=args.yes, label="agentchat"):
            return 2
        result = asyncio.run(
            run(
                settings,
                work_dir=work_dir,
                task=args.task,
                max_turns=args.max_turns,
                timeout=args.timeout,
                live_data=not args.offline,
            )
        )
    except OllamaError as exc:
        print(f"[agentchat] error: {exc}", file=sys.stderr)
        return 2
    for source, kind, text in result.messages:
        print(f"--- {source} ({kind})\n{text}")
    print(
        f"\n[agentchat] {result.turns} coder repl(ies), ended by {result.termination}; "
        f"{result.code_runs} program(s) run, exit codes {result.exit_codes}; data: {result.data_source}"
    )
    for path in result.files:
        print(f"[agentchat] wrote {path}")
    print(f"[agentchat] {_chart_task.describe(result.verdict, work_dir)}", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
