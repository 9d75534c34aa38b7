"""An AG2/Autogen group chat plots NVDA and TESLA: a planner, a coder, an executor and a critic.

Shows a ``GroupChat`` under a ``GroupChatManager``, every LLM agent configured by
``integrations.llm_config()``: the planner splits the task into steps, the coder writes
Python, the executor (a ``UserProxyAgent``) runs it with ``LocalCommandLineCodeExecutor``
in the run's work directory with a timeout and judges the run, and after a failed run the
critic says what to change. The chat ends when the chart is a valid PNG and the program
printed the right final changes, or after ``--max-turns`` coder replies. Speakers follow
that fixed order by default (``--speakers round_robin``): small models cannot pick the
next speaker reliably; ``--speakers auto`` lets the manager's model choose, as AG2 does.

Data: ``prices.csv`` in the work directory (yfinance when possible, else the bundled
SYNTHETIC sample); the chart must be saved there as ``nvda_tsla_ytd.png``.

Needs: ``pip install 'ollama-integrations[autogen,examples]'`` and a model that writes
code (``codellama`` by default; ``qwen2.5-coder`` works better).

Run:
    python examples/group_chat.py [--model qwen2.5-coder] [--max-turns 4] [--speakers auto]
    ollama-integrations run group-chat --embedded
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import _chart_task
import _common
import nvda_tsla
from nvda_tsla import CHART, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings, llm_config

EXAMPLE = "group_chat"
EMBEDDED_MODEL = "qwen2.5-coder:1.5b"  # what 'ollama-integrations run group-chat --embedded' runs
__all__ = ["CHART", "DATA", "EMBEDDED_MODEL", "TASK", "Result", "main", "run"]
ROLES = {
    "planner": "You are the planner. Break the task into at most three short numbered steps for the coder. No code.",
    "critic": (
        "You are the critic. Read the executor's report on the coder's program and say, in one or two "
        "sentences, exactly what the coder must change. No code."
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
    turns: int = 0  # coder replies
    openings: int = 0
    verdict: _chart_task.Verdict | None = None
    termination: str = "max-turns"  # "chart-written" or "max-turns"

    @property
    def ok(self) -> bool:
        """The success criterion: a valid PNG chart of the change since the first close."""
        return self.verdict is not None and self.verdict.met


def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    task: str = TASK,
    max_turns: int = 4,
    timeout: int = 60,
    speakers: Literal["round_robin", "auto"] = "round_robin",
    live_data: bool = True,
) -> Result:
    """Run the group chat in ``work_dir`` until the chart is done or the coder has replied ``max_turns`` times."""
    from autogen import Agent, AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent

    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _chart_task.stage_data(work_dir, live=live_data)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)

    config = llm_config(settings=_chart_task.bounded(settings))
    planner, critic = (AssistantAgent(name, llm_config=config, system_message=text) for name, text in ROLES.items())
    coder = AssistantAgent(
        "coder",
        llm_config=config,
        system_message=_chart_task.brief(prices, work_dir)
        + "\nFollow the planner's steps; the executor runs your program.",
    )
    # The executor runs what the coder wrote before anything else, and judges it; nvda_tsla.Result records it.
    record = nvda_tsla.Result(mode="code", work_dir=work_dir, executor="local", data_source=prices.source, openings=1)
    executor = UserProxyAgent(
        "executor",
        human_input_mode="NEVER",
        code_execution_config=False,
        is_termination_msg=lambda message: False,
        description="Runs the coder's Python program and reports the result.",
    )
    turns = nvda_tsla.CodeTurns(
        nvda_tsla.RecordingExecutor(nvda_tsla.code_executor(work_dir, timeout=timeout), record),
        record,
        prices,
        timeout=timeout,
        max_turns=max_turns,
        restart_on_no_code=False,
    )
    executor.register_reply([Agent, None], turns.reply, position=0)

    def next_speaker(last: Any, chat: Any) -> Any:
        # Fixed order, as small models cannot choose: planner, coder, executor; after a failed run the
        # critic says what to change (after a reply without code, the coder is asked again at once).
        if record.termination != "max-turns" or (record.turns >= max_turns and last is executor):
            return None
        if last is coder:
            return executor
        if last is executor:
            return critic if turns.last_ran else coder
        if last is critic or last is planner:
            return coder
        return planner

    chat = GroupChat(
        agents=[planner, coder, executor, critic],
        messages=[],
        max_round=2 + 3 * max_turns,  # a safety net: next_speaker ends the chat first
        speaker_selection_method=next_speaker if speakers == "round_robin" else "auto",
    )
    manager = GroupChatManager(
        groupchat=chat, llm_config=config, is_termination_msg=lambda message: record.termination == "chart-written"
    )
    # The task comes from a user outside the group, so the chat starts with the planner.
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=0)
    user.initiate_chat(manager, message=task)

    result.messages = list(chat.messages)
    result.speakers = [str(m.get("name", "")) for m in chat.messages]
    result.code_blocks, result.exit_codes = record.code_blocks, record.exit_codes
    result.turns, result.openings, result.verdict = record.turns, record.openings, record.verdict
    result.termination = "chart-written" if record.termination == "chart-written" else "max-turns"
    result.files = _common.new_files(work_dir, before)
    if _common.is_png(work_dir / CHART):
        result.chart = work_dir / CHART
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=4)
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
        if not _common.confirm_code_execution(work_dir, args.timeout, yes=args.yes, label="group_chat"):
            return 2
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
    print(f"[group_chat] executed {len(result.code_blocks)} program(s), exit codes {result.exit_codes}")
    for path in result.files:
        print(f"[group_chat] wrote {path}")
    print(
        f"[group_chat] {_chart_task.describe(result.verdict, work_dir)}", file=sys.stdout if result.ok else sys.stderr
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
