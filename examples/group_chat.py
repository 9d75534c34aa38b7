"""An AG2/Autogen group chat plots NVDA and TESLA: a planner, a coder, an executor and a critic.

Shows a ``GroupChat`` under a ``GroupChatManager``, every LLM agent configured by
``integrations.llm_config()``: the planner splits the task into steps, the coder writes
Python, the executor (a ``UserProxyAgent``) runs it with ``LocalCommandLineCodeExecutor``
in the run's work directory with a timeout, and the critic checks the result and says
TERMINATE when the chart exists. ``max_round`` (``--max-turns``, the task message included) bounds the chat.
Speakers take turns in that fixed order by default (``--speakers round_robin``): small
models cannot pick the next speaker reliably; ``--speakers auto`` lets the manager's
model choose, as AG2 does by default.

Data: ``prices.csv`` in the work directory (yfinance when possible, else the bundled
SYNTHETIC sample); the chart must be saved there as ``nvda_tsla_ytd.png``.

Needs: ``pip install 'ollama-integrations[autogen,examples]'`` and a model that writes
code (``codellama`` by default; ``qwen2.5-coder`` works better).

Run:
    python examples/group_chat.py [--model qwen2.5-coder] [--max-turns 8] [--speakers auto]
    ollama-integrations run group-chat --embedded
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import _common
import _market
import nvda_tsla
from nvda_tsla import CHART, CODE_SYSTEM_NOTE, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings, llm_config

EXAMPLE = "group_chat"
ROLES = {
    "planner": "You are the planner. Break the task into at most three short numbered steps for the coder. No code.",
    "coder": (
        "You are the coder. Write one complete Python program in a ```python block that does the plan; "
        "the executor runs it. Fix it when the executor reports an error." + CODE_SYSTEM_NOTE
    ),
    "critic": (
        f"You are the critic. Check the executor's output. If the chart {CHART} was saved without errors, "
        "reply with TERMINATE. Otherwise say in one sentence what the coder must fix."
    ),
}


@dataclass
class Result:
    """What the group did, for printing and for tests."""

    work_dir: Path
    data_source: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    code_blocks: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    chart: Path | None = None
    termination: str = "max-rounds"  # or "TERMINATE"

    @property
    def ok(self) -> bool:
        return _common.is_png(self.chart)


def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    task: str = TASK,
    max_turns: int = 8,
    timeout: int = 60,
    speakers: Literal["round_robin", "auto"] = "round_robin",
    live_data: bool = True,
) -> Result:
    """Run the group chat for at most ``max_turns`` rounds in ``work_dir``."""
    from autogen import AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent

    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _market.load_prices(live=live_data)
    prices.write_csv(work_dir / DATA)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)

    config = llm_config(settings=settings)
    planner, coder, critic = (
        AssistantAgent(name, llm_config=config, system_message=system) for name, system in ROLES.items()
    )
    # The executor records what it ran; nvda_tsla.Result is the container its recorder fills.
    record = nvda_tsla.Result(mode="code", work_dir=work_dir, executor="local", data_source=prices.source)
    executor = UserProxyAgent(
        "executor",
        human_input_mode="NEVER",
        code_execution_config={
            "executor": nvda_tsla.RecordingExecutor(nvda_tsla.code_executor(work_dir, timeout=timeout), record)
        },
        default_auto_reply="No code block to run.",
        description="Runs the coder's Python code and reports the output.",
    )

    def finished(message: dict[str, Any]) -> bool:
        content = message.get("content")
        if isinstance(content, str) and "TERMINATE" in content:
            result.termination = "TERMINATE"
            return True
        return False

    chat = GroupChat(
        agents=[planner, coder, executor, critic],
        messages=[],
        max_round=max_turns,
        speaker_selection_method=speakers,
    )
    manager = GroupChatManager(groupchat=chat, llm_config=config, is_termination_msg=finished)
    # The task comes from a user outside the group, so round robin starts with the planner.
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=0)
    user.initiate_chat(manager, message=task)

    result.messages = list(chat.messages)
    result.speakers = [str(m.get("name", "")) for m in chat.messages]
    result.code_blocks, result.exit_codes = record.code_blocks, record.exit_codes
    result.files = _common.new_files(work_dir, before)
    if (work_dir / CHART).is_file():
        result.chart = work_dir / CHART
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=8)
    p.add_argument("--task", default=TASK, help=f"the task (default: {TASK!r})")
    p.add_argument(
        "--speakers",
        choices=["round_robin", "auto"],
        default="round_robin",
        help="how the next speaker is chosen (default: round_robin)",
    )
    p.add_argument("--timeout", type=int, default=60, help="seconds before generated code is killed (default: 60)")
    p.add_argument("--offline", action="store_true", help="use the bundled sample data without trying yfinance")
    args = p.parse_args(argv)
    try:
        settings = _common.settings_from(args, default_model=DEFAULT_MODEL)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[group_chat] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        print(f"[group_chat] generated code runs in a local subprocess in {work_dir}, killed after {args.timeout}s")
        result = run(
            settings,
            work_dir=work_dir,
            task=args.task,
            max_turns=args.max_turns,
            timeout=args.timeout,
            speakers=args.speakers,
            live_data=not args.offline,
        )
    except (OllamaError, RuntimeError) as exc:
        print(f"[group_chat] error: {exc}", file=sys.stderr)
        return 2
    print(f"\n[group_chat] speakers: {' -> '.join(result.speakers)}; ended by {result.termination}")
    print(f"[group_chat] executed {len(result.code_blocks)} code block(s), exit codes {result.exit_codes}")
    for path in result.files:
        print(f"[group_chat] wrote {path}")
    if result.ok:
        print(f"[group_chat] chart: {result.chart}")
        return 0
    print(f"[group_chat] no chart was saved (expected {work_dir / CHART})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
