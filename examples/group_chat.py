"""An AG2/Autogen group chat plots NVDA and TESLA: a coder, an executor and an analyst, each with a checked job.

Shows a ``GroupChat`` under a ``GroupChatManager``, every LLM agent configured by
``integrations.llm_config()``. The coder writes Python; the executor
(``integrations.autogen.code_user_proxy``) runs every program first, confined to the run's
work directory with a timeout, and judges it by the task's check (a valid PNG chart and the
right printed changes since the first close), answering with the traceback's tail and a hint
when it fails; after three failed programs every member's history is cleared once and the
coder starts over. Once the chart is checked, the analyst writes the one-sentence caption,
``caption.txt``, which must name both tickers with the changes the program printed (checked;
asked again once when wrong, from a clean slate with the printed lines). Every role's
output is checked by code: on small models a planner and a critic whose words nothing
checks misled the coder (0 of 2 runs before), so they are gone. Speakers follow that fixed
order by default (``--speakers round_robin``): small models cannot pick the next speaker
reliably; ``--speakers auto`` lets the manager's model choose, as AG2 does.

Data: ``prices.csv`` in the work directory (yfinance when possible, else the bundled
SYNTHETIC sample); the chart must be saved there as ``nvda_tsla_ytd.png``.

Needs: ``pip install 'ollama-integrations[autogen,examples]'`` and a model that writes
code (``codellama`` by default; ``qwen2.5-coder`` works better).

Run:
    python examples/group_chat.py [--model qwen2.5-coder] [--max-turns 6] [--speakers auto]
    ollama-integrations run group-chat --embedded
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import _chart_task
import _common
from nvda_tsla import CHART, DATA, DEFAULT_MODEL, TASK

from integrations import OllamaError, OllamaSettings, llm_config
from integrations.autogen import code_user_proxy
from integrations.coding import MAX_TOKENS, CodeLoop

EXAMPLE = "group_chat"
EMBEDDED_MODEL = "qwen2.5-coder:1.5b"  # what 'ollama-integrations run group-chat --embedded' runs
__all__ = ["CAPTION", "CHART", "DATA", "EMBEDDED_MODEL", "TASK", "Result", "caption_problem", "main", "run"]
CAPTION = "caption.txt"
ANALYST = (
    "You are the analyst. The chart is saved and checked. Write its caption: one sentence that gives the last "
    "change of NVDA and of TSLA exactly as the program printed them, like: NVDA rose 12.34% and TSLA fell 5.67% "
    "since the first close. No code."
)
ANALYST_TRIES = 2


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
    caption: str = ""  # the analyst's last caption
    caption_ok: bool = False  # it names both tickers with their printed changes

    @property
    def ok(self) -> bool:
        """The success criterion: a valid PNG chart of the change since the first close, and its checked caption."""
        return self.verdict is not None and self.verdict.met and self.caption_ok


def caption_problem(text: str, verdict: _chart_task.Verdict | None) -> str | None:
    """What is wrong with the analyst's caption, or None: it must name both tickers and their printed changes.

    >>> v = _chart_task.Verdict(chart=True, printed={"NVDA": 75.22, "TSLA": -33.07}, expected={})
    >>> caption_problem("NVDA rose 75.22% while TSLA fell 33.07%.", v) is None
    True
    >>> caption_problem("NVDA rose 75% while TSLA fell.", v)
    'the caption must give TSLA -33.07'
    >>> caption_problem("NVDA's price rose 75.2234% and TESLA's changed by -33.0742%.", v) is None
    True
    """
    if verdict is None or not verdict.printed:
        return "there are no checked changes to caption yet"
    if "```" in text:
        return "the caption is one sentence, without code"
    numbers = [abs(float(n)) for n in re.findall(r"\d+(?:\.\d+)?", text)]
    missing = [
        f"{ticker} {value:g}"
        for ticker, value in verdict.printed.items()
        if not _names(ticker, text) or not any(abs(n - abs(value)) <= 0.5 for n in numbers)
    ]
    return f"the caption must give {' and '.join(missing)}" if missing else None


def _names(ticker: str, text: str) -> bool:
    names = {ticker.upper(), "TESLA"} if ticker.upper() == "TSLA" else {ticker.upper()}
    return any(re.search(rf"\b{name}\b", text.upper()) for name in names)


def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    task: str = TASK,
    max_turns: int = 6,
    timeout: int = 60,
    speakers: Literal["round_robin", "auto"] = "round_robin",
    live_data: bool = True,
) -> Result:
    """Run the group chat in ``work_dir`` until the chart and its caption are checked, or the turns run out."""
    from autogen import AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent

    work_dir.mkdir(parents=True, exist_ok=True)
    prices = _chart_task.stage_data(work_dir, live=live_data)
    result = Result(work_dir=work_dir, data_source=prices.source)
    before = _common.snapshot(work_dir)

    config = llm_config(settings=settings.merged(max_tokens=settings.max_tokens or MAX_TOKENS))
    never = lambda message: False  # noqa: E731  (only the checks end the chat)
    coder = AssistantAgent(
        "coder", llm_config=config, system_message=_chart_task.brief(prices, work_dir), is_termination_msg=never
    )
    analyst = AssistantAgent("analyst", llm_config=config, system_message=ANALYST, is_termination_msg=never)
    verdicts: list[_chart_task.Verdict] = []
    loop = CodeLoop(
        work_dir, task=task, done=_chart_task.check(prices, verdicts), max_replies=max_turns, timeout=timeout
    )
    executor = code_user_proxy(loop, name="executor", report=True)
    captions: list[str] = []

    def next_speaker(last: Any, chat: Any) -> Any:
        if last is coder:
            return executor
        if last is executor:
            return analyst if loop.finished else (None if loop.ending else coder)
        if last is analyst:
            text = str(chat.messages[-1].get("content") or "")
            captions.append(text)
            problem = caption_problem(text, verdicts[-1] if verdicts else None)
            if problem is None or len(captions) >= ANALYST_TRIES:
                return None
            printed = "\n".join(f"{t}: {v:g}" for t, v in verdicts[-1].printed.items()) if verdicts else ""
            retry = (
                f"Not yet: {problem}. The program printed:\n{printed}\n"
                "Write the caption: one sentence that gives both changes."
            )
            # A clean slate: small models repeat their own last answer when it is in front of them.
            analyst.clear_history(manager)
            manager.send(retry, analyst, request_reply=False, silent=True)  # what the analyst reads next
            chat.messages.append({"role": "user", "name": "chat_manager", "content": retry})
            return analyst
        return coder

    chat = GroupChat(
        agents=[coder, executor, analyst],
        messages=[],
        max_round=2 * max_turns + 2 * ANALYST_TRIES + 2,  # a safety net: next_speaker ends the chat first
        speaker_selection_method=next_speaker if speakers == "round_robin" else "auto",
    )
    manager = GroupChatManager(groupchat=chat, llm_config=config, is_termination_msg=never)
    # The task comes from a user outside the group, so the chat starts with the coder.
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=0)
    user.initiate_chat(manager, message=task)

    result.messages = list(chat.messages)
    result.speakers = [str(m.get("name", "")) for m in chat.messages]
    result.code_blocks = [r.code for r in loop.runs]
    result.exit_codes = [r.exit_code for r in loop.runs]
    result.turns, result.openings = loop.replies, 1
    result.verdict = verdicts[-1] if verdicts else None
    result.caption = captions[-1].strip() if captions else ""
    result.caption_ok = bool(captions) and caption_problem(result.caption, result.verdict) is None
    if result.caption_ok:
        (work_dir / CAPTION).write_text(result.caption + "\n", encoding="utf-8")
    result.termination = "chart-written" if loop.finished else "max-turns"
    result.files = _common.new_files(work_dir, before)
    if _common.is_png(work_dir / CHART):
        result.chart = work_dir / CHART
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=6)
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
    print(f"[group_chat] {_chart_task.describe(result.verdict, work_dir)}")
    caption = f"caption ({'checked' if result.caption_ok else 'not checked'}): {result.caption or '(none)'}"
    print(f"[group_chat] {caption}", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
