"""The announcement's NVDA/TESLA chart task with AutoGen AgentChat: a coder and a code executor take turns.

Shows the library's ``integrations.agentchat.code_team()``: a ``RoundRobinGroupChat`` of an
AgentChat ``AssistantAgent`` that writes Python (its client from ``model_client()``) and an
executor agent that runs every program first, confined to the run's work directory and
killed after ``--timeout`` seconds. The team stops when the chart is a valid PNG and the
program printed the right final changes (this task's check), or after ``--max-turns``
coder replies; otherwise the coder gets the traceback's last lines and a hint, and after
three failures its context is cleared for one fresh start. The prices are staged as
``prices.csv`` in the work directory (yfinance when possible, else the bundled SYNTHETIC
sample), described to the coder with its columns and first rows, and the chart must be
saved there as ``nvda_tsla_ytd.png``.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _chart_task
import _common
from nvda_tsla import CHART, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings
from integrations.agentchat import code_team

EXAMPLE = "nvda_tsla_agentchat"
EMBEDDED_MODEL = "qwen2.5-coder:1.5b"  # what 'ollama-integrations run nvda-tsla-agentchat --embedded' runs
__all__ = ["CHART", "DATA", "EMBEDDED_MODEL", "TASK", "Result", "main", "run"]


@dataclass
class Result:
    """What the team did, for printing and for tests."""

    work_dir: Path
    data_source: str
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (source, message type, text)
    code_runs: int = 0  # programs the executor ran
    exit_codes: list[int] = field(default_factory=list)
    turns: int = 0  # coder replies
    openings: int = 0  # chats opened: 2 after a fresh start
    verdict: _chart_task.Verdict | None = None
    termination: str = "max-turns"  # "chart-written" or "max-turns"
    fresh_starts: int = 0  # fresh starts after `integrations.coding.FRESH_AFTER` failed replies
    stop_reason: str = ""
    files: list[Path] = field(default_factory=list)
    chart: Path | None = None

    @property
    def ok(self) -> bool:
        """The success criterion: a valid PNG chart of the change since the first close."""
        return self.verdict is not None and self.verdict.met


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
    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _chart_task.stage_data(work_dir, live=live_data)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)
    verdicts: list[_chart_task.Verdict] = []
    team = code_team(
        task,
        settings=settings,
        work_dir=work_dir,
        done=_chart_task.check(prices, verdicts),
        max_replies=max_turns,
        timeout=timeout,
        system_message=_chart_task.brief(prices, work_dir),
        client=client,
    )
    try:
        outcome = await team.run(task=task)
    finally:
        await team.code_client.close()
    loop = team.code_loop
    result.messages = [(m.source, type(m).__name__, m.to_text()) for m in outcome.messages]
    result.stop_reason = outcome.stop_reason or ""
    result.turns, result.fresh_starts, result.openings = loop.replies, loop.fresh_starts, 1 + loop.fresh_starts
    result.code_runs = len(loop.runs)
    result.exit_codes = [r.exit_code for r in loop.runs]
    result.verdict = verdicts[-1] if verdicts else None
    result.termination = "chart-written" if loop.finished else "max-turns"
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
