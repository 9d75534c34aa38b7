"""The announcement's NVDA/TESLA chart task with AutoGen AgentChat: a coder and a code executor take turns.

Shows ``integrations.model_client()`` driving an AgentChat ``AssistantAgent`` that writes
Python, and a ``CodeExecutorAgent`` that runs it with ``LocalCommandLineCodeExecutor``
inside the run's work directory, killed after ``--timeout`` seconds. They take turns in
a ``RoundRobinGroupChat`` that stops at ``MaxMessageTermination(--max-turns)`` or when a
message says ``TERMINATE``. The prices are staged as ``prices.csv`` in the work
directory (yfinance when possible, else the bundled SYNTHETIC sample), and the chart
must be saved there as ``nvda_tsla_ytd.png``.

Needs: ``pip install 'ollama-integrations[agentchat,examples]'`` and a model that writes
code: ``codellama`` (the announcement's) by default, ``qwen2.5-coder`` works better.
The embedded ``smollm2:135m`` exercises the plumbing but rarely writes working code.

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

import _common
import _market
from nvda_tsla import CHART, CODE_SYSTEM_NOTE, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings, model_client

EXAMPLE = "nvda_tsla_agentchat"
CODER_SYSTEM = (
    "You are a Python programmer. Solve the task by writing one complete Python program in a ```python block; "
    "the user runs it and shows you the output. Fix errors when there are any. When the chart is saved, "
    "reply with TERMINATE." + CODE_SYSTEM_NOTE
)


@dataclass
class Result:
    """What the team did, for printing and for tests."""

    work_dir: Path
    data_source: str
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (source, message type, text)
    code_runs: int = 0  # executor replies that report a code run (output or error)
    stop_reason: str = ""
    files: list[Path] = field(default_factory=list)
    chart: Path | None = None

    @property
    def ok(self) -> bool:
        return _common.is_png(self.chart)


def executor_agent(work_dir: Path, *, timeout: int) -> tuple[Any, Any]:
    """The executor (not started) and the ``CodeExecutorAgent`` that runs code blocks with it in ``work_dir``."""
    from autogen_agentchat.agents import CodeExecutorAgent
    from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor

    # Keep the code files: the user can read exactly what ran, in the directory we told them about.
    executor = LocalCommandLineCodeExecutor(work_dir=work_dir, timeout=timeout, cleanup_temp_files=False)
    return executor, CodeExecutorAgent("executor", code_executor=executor)


async def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    task: str = TASK,
    max_turns: int = 6,
    timeout: int = 60,
    live_data: bool = True,
) -> Result:
    """Let the coder and the executor take turns until TERMINATE or ``max_turns`` messages."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
    from autogen_agentchat.teams import RoundRobinGroupChat

    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _market.load_prices(live=live_data)
    prices.write_csv(work_dir / DATA)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)

    client = model_client(settings=settings)
    executor, runner = executor_agent(work_dir, timeout=timeout)
    await executor.start()
    coder = AssistantAgent("coder", model_client=client, system_message=CODER_SYSTEM)
    team = RoundRobinGroupChat(
        [coder, runner],
        termination_condition=MaxMessageTermination(max_turns) | TextMentionTermination("TERMINATE"),
    )
    try:
        outcome = await team.run(task=task)
    finally:
        await executor.stop()
        await client.close()
    for message in outcome.messages:
        result.messages.append((message.source, type(message).__name__, message.to_text()))
        # Without a model client the executor agent answers with the code's output, or with
        # its fixed "no code blocks found" message when there was nothing to run.
        ran = message.source == "executor" and not message.to_text().startswith("No code blocks found")
        result.code_runs += ran
    result.stop_reason = outcome.stop_reason or ""
    result.files = _common.new_files(work_dir, before)
    if (work_dir / CHART).is_file():
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
        print(f"[agentchat] generated code runs in a local subprocess in {work_dir}, killed after {args.timeout}s")
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
    print(f"\n[agentchat] stopped: {result.stop_reason}; {result.code_runs} code run(s); data: {result.data_source}")
    for path in result.files:
        print(f"[agentchat] wrote {path}")
    if result.ok:
        print(f"[agentchat] chart: {result.chart}")
        return 0
    print(f"[agentchat] no chart was saved (expected {work_dir / CHART})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
