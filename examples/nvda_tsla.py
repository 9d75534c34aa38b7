"""Ollama's announcement example: AG2/Autogen agents plot NVDA and TESLA stock price change YTD.

Shows an ``AssistantAgent`` and a ``UserProxyAgent`` (AG2/Autogen classic, as in
Ollama's OpenAI-compatibility announcement) configured by ``integrations.llm_config()``,
in one of two modes:

* ``code``: the announcement's flow, on the library's code agents
  (``integrations.autogen.code_agents``). The model writes Python; the user proxy runs
  every reply's program first, confined to the run's work directory with a timeout
  (``integrations.sandbox``). The model is told what ``prices.csv`` holds (path, columns,
  first rows) and what "change YTD" means; the chat ends when the chart is a valid PNG and
  the program printed the right final changes (the task's own check), or after
  ``--max-turns`` replies; a failed run goes back with the traceback's last lines and a
  hint, and after three failures the chat starts over once from a clean history.
* ``tools``: the model calls registered Python functions (``plot_price_change``,
  ``load_prices``); one call to ``plot_price_change`` draws the chart.
* ``auto`` (default): ``code`` for code models (``qwen2.5-coder``, ``codellama``, ...);
  ``tools`` for other tiny models (``smollm*``, ``tinyllama``, a size tag under 1B such
  as ``:135m``); otherwise ``tools`` when the server says the model has the ``tools``
  capability and the task does not ask for code/a script, ``code`` when not.

Prices come from yfinance when it is installed and the network answers, else from the
bundled SYNTHETIC sample ``examples/data/nvda_tsla_sample.csv`` (the chart title then
says "sample data"). The chart is saved as ``nvda_tsla_ytd.png`` in the work directory.

Needs: ``pip install 'ollama-integrations[autogen,examples]'`` and a model: the
announcement's ``codellama`` by default (``ollama pull codellama``), any other with ``--model``.

Run:
    python examples/nvda_tsla.py [--mode code|tools|auto] [--model qwen2.5-coder] [--task "..."]
    ollama-integrations run nvda-tsla --embedded     # offline: qwen2.5-coder:1.5b on the embedded server
    ollama-integrations run nvda-tsla --embedded --model smollm2:135m   # the fast path: tools mode
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import _chart_task
import _common
import _market

from integrations import OllamaError, OllamaSettings, llm_config, model_info
from integrations.autogen import code_agents
from integrations.coding import CodeLoop

EXAMPLE = "nvda_tsla"
DEFAULT_MODEL = "codellama"  # the announcement's model
EMBEDDED_MODEL = "qwen2.5-coder:1.5b"  # the main job: the code flow, on the catalogue model that writes it best
TASK = _chart_task.TASK
CHART = _chart_task.CHART
DATA = _chart_task.DATA
Mode = Literal["code", "tools", "auto"]
Ticker = Literal["NVDA", "TSLA"]

TOOLS_SYSTEM = f"""You are a helpful assistant with functions for stock prices.
To chart price changes, call plot_price_change with the tickers and the file name "{CHART}".
After a function result, answer in one short sentence."""


@dataclass
class Result:
    """What a run did, for printing and for tests."""

    mode: str
    work_dir: Path
    executor: str  # "local" (confined, see integrations.sandbox) or "none" (tools mode)
    data_source: str  # "yfinance" or "sample"
    messages: list[dict[str, Any]] = field(default_factory=list)
    code_blocks: list[str] = field(default_factory=list)  # code the user proxy executed
    exit_codes: list[int] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)  # function names, in call order
    files: list[Path] = field(default_factory=list)  # files the run created in work_dir
    chart: Path | None = None
    turns: int = 0  # model replies
    openings: int = 0  # chats opened: 2 after a fresh start
    verdict: _chart_task.Verdict | None = None
    termination: str = "max-turns"  # "chart-written", "text-reply" or "max-turns"
    fresh_starts: int = 0  # chats started over after `integrations.coding.FRESH_AFTER` failed replies

    @property
    def ok(self) -> bool:
        """The success criterion: a valid PNG chart of the change since the first close."""
        if self.mode == "tools":  # the tool plots the change since the first close itself
            return _common.is_png(self.chart)
        return self.verdict is not None and self.verdict.met


# ---------------------------------------------------------------- mode choice

_TINY_FAMILIES = ("smollm", "tinyllama", "tinydolphin")


def is_tiny(model: str) -> bool:
    """Models too small to write working plotting code; they do better with a constrained tool call.

    >>> is_tiny("smollm2:135m"), is_tiny("qwen2.5:0.5b"), is_tiny("qwen2.5-coder:7b"), is_tiny("codellama")
    (True, True, False, False)
    """
    name, _, tag = model.lower().partition(":")
    if name.rsplit("/", 1)[-1].startswith(_TINY_FAMILIES):
        return True
    size = re.match(r"(\d+(?:\.\d+)?)([mb])\b", tag)
    return bool(size) and (size.group(2) == "m" or float(size.group(1)) < 1)  # type: ignore[union-attr]


def writes_code(model: str) -> bool:
    """Models trained for code (``qwen2.5-coder``, ``codellama``, ``deepseek-coder``, ...): code mode suits them.

    >>> writes_code("qwen2.5-coder:0.5b"), writes_code("codellama"), writes_code("smollm2:135m")
    (True, True, False)
    """
    name = model.lower().partition(":")[0].rsplit("/", 1)[-1]
    return "code" in name or name.startswith(("starcoder", "codestral"))


def choose_mode(requested: Mode, settings: OllamaSettings, task: str = TASK) -> Literal["code", "tools"]:
    """Resolve ``auto`` (see the module docstring for the rule); ``code``/``tools`` pass through."""
    if requested != "auto":
        return requested
    if writes_code(settings.model):
        return "code"
    if is_tiny(settings.model):
        return "tools"
    if re.search(r"\b(code|script|program)\b", task, re.IGNORECASE):
        return "code"
    try:
        has_tools = model_info(settings.model, settings=settings).supports("tools")
    except OllamaError:
        has_tools = False  # the real check comes when the agents are built, with a clear message
    return "tools" if has_tools else "code"


# ---------------------------------------------------------------- code mode


def record(result: Result, loop: CodeLoop, verdicts: list[_chart_task.Verdict]) -> None:
    """Copy what the library's code loop did into ``result``."""
    result.turns = loop.replies
    result.fresh_starts = loop.fresh_starts
    result.openings = 1 + loop.fresh_starts
    result.code_blocks = [run.code for run in loop.runs]
    result.exit_codes = [run.exit_code for run in loop.runs]
    result.verdict = verdicts[-1] if verdicts else None
    result.termination = "chart-written" if loop.finished else "max-turns"
    result.messages = [
        {"name": "user_proxy" if who == "user" else "assistant", "content": text} for who, text in loop.transcript
    ]


# ---------------------------------------------------------------- tools mode


def price_tools(work_dir: Path, result: Result, live: bool) -> list[tuple[Callable[..., str], str]]:
    """The functions the model may call, bound to this run's work directory."""

    def plot_price_change(
        tickers: Annotated[list[Ticker], "stock tickers to plot, e.g. ['NVDA', 'TSLA']"],
        filename: Annotated[str, f"PNG file name for the chart, e.g. '{CHART}'"] = CHART,
    ) -> str:
        result.tool_calls.append("plot_price_change")
        # The model chooses the name: keep only a bare *.png name so nothing lands outside work_dir.
        name = Path(str(filename)).name or CHART
        path = work_dir / (name if name.lower().endswith(".png") else f"{Path(name).stem or 'chart'}.png")
        prices = _market.load_prices(tickers, live=live)
        result.data_source = prices.source
        _market.plot_change(prices, path)
        result.chart = path
        changes = ", ".join(f"{t} {v:+.1f}%" for t, v in prices.change_pct().items())
        label = " (SYNTHETIC sample data)" if prices.is_sample else ""
        return f"Saved the chart to {path.name}. Change since {prices.dates[0]}: {changes}{label}."

    def load_prices(
        tickers: Annotated[list[Ticker], "stock tickers, e.g. ['NVDA', 'TSLA']"],
        start: Annotated[str, "first date, YYYY-MM-DD; empty for January 1st of this year"] = "",
    ) -> str:
        result.tool_calls.append("load_prices")
        try:
            first = dt.date.fromisoformat(start) if start else None
        except ValueError:
            return f"start must be a date like 2025-01-02, not {start!r}"
        prices = _market.load_prices(tickers, first, live=live)
        result.data_source = prices.source
        changes = ", ".join(f"{t} {v:+.1f}%" for t, v in prices.change_pct().items())
        span = f"{len(prices.dates)} daily closes from {prices.dates[0]} to {prices.dates[-1]}"
        return f"{span} ({prices.note}): {changes}"

    return [
        (plot_price_change, "Plot the percent price change year-to-date of the tickers and save it as a PNG file."),
        (load_prices, "Load daily closing prices and report each ticker's percent change since start."),
    ]


# ---------------------------------------------------------------- the workflow


def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    mode: Mode = "auto",
    task: str = TASK,
    max_turns: int = 6,
    timeout: int = 60,
    live_data: bool = True,
) -> Result:
    """Run the two-agent chat in ``work_dir`` and report what happened.

    Raises `integrations.OllamaError` when the server or model is not usable.
    """
    from autogen import AssistantAgent, UserProxyAgent, register_function

    chosen = choose_mode(mode, settings, task)
    work_dir.mkdir(parents=True, exist_ok=True)
    result = Result(mode=chosen, work_dir=work_dir, executor="none", data_source="sample")
    before = _common.snapshot(work_dir)
    if chosen == "code":
        _run_code(settings, result, task=task, max_turns=max_turns, timeout=timeout, live=live_data)
    else:

        def finished(message: dict[str, Any]) -> bool:
            # Checked on every message the user proxy receives: done once the chart exists and the model has answered.
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if _common.is_png(result.chart) and text.strip() and not message.get("tool_calls"):
                result.termination = "text-reply"
                return True
            return False

        user_proxy = UserProxyAgent(
            "user_proxy",
            human_input_mode="NEVER",
            max_consecutive_auto_reply=max_turns,
            code_execution_config=False,
            is_termination_msg=finished,
            default_auto_reply="Call plot_price_change to save the chart.",
        )
        assistant = AssistantAgent(
            "assistant", llm_config=llm_config(settings=settings, requires=("tools",)), system_message=TOOLS_SYSTEM
        )
        for function, description in price_tools(work_dir, result, live_data):
            register_function(
                _common.resolved_annotations(function), caller=assistant, executor=user_proxy, description=description
            )
        chat = user_proxy.initiate_chat(assistant, message=task, max_turns=max_turns)
        result.messages = list(chat.chat_history)
        result.openings = 1
        result.turns = sum(1 for m in result.messages if m.get("name") == "assistant")
        if result.ok and result.termination == "max-turns":
            result.termination = "chart-written"  # the turn bound came right after the model's last reply
    result.files = _common.new_files(work_dir, before)
    return result


def code_pair(
    settings: OllamaSettings, prices: _market.Prices, work_dir: Path, *, task: str, max_turns: int, timeout: int
) -> tuple[Any, Any, list[_chart_task.Verdict]]:
    """The library's code agents for this task, told what the data holds, judged by the chart check.

    Returns the assistant, the user proxy (``.code_loop`` is the loop) and the list the check
    appends each verdict to.
    """
    verdicts: list[_chart_task.Verdict] = []
    assistant, user_proxy = code_agents(
        task,
        settings=settings,
        work_dir=work_dir,
        done=_chart_task.check(prices, verdicts),
        max_replies=max_turns,
        timeout=timeout,
        system_message=_chart_task.brief(prices, work_dir),
    )
    return assistant, user_proxy, verdicts


def _run_code(settings: OllamaSettings, result: Result, *, task: str, max_turns: int, timeout: int, live: bool) -> None:
    prices = _chart_task.stage_data(result.work_dir, live=live)
    result.data_source = prices.source
    result.executor = "local"
    assistant, user_proxy, verdicts = code_pair(
        settings, prices, result.work_dir, task=task, max_turns=max_turns, timeout=timeout
    )
    user_proxy.initiate_chat(assistant, message=task)
    record(result, user_proxy.code_loop, verdicts)
    if _common.is_png(result.work_dir / CHART):
        result.chart = result.work_dir / CHART


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=6)
    p.add_argument("--mode", choices=["code", "tools", "auto"], default="auto", help="see above (default: auto)")
    p.add_argument("--task", default=TASK, help=f"the first message (default: {TASK!r})")
    p.add_argument("--timeout", type=int, default=60, help="seconds before generated code is killed (default: 60)")
    p.add_argument("--offline", action="store_true", help="use the bundled sample data without trying yfinance")
    args = p.parse_args(argv)

    try:
        settings = _common.settings_from(args, default_model=DEFAULT_MODEL)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[nvda_tsla] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        mode = choose_mode(args.mode, settings, args.task)
        if mode == "code":
            if not _common.confirm_code_execution(work_dir, args.timeout, yes=args.yes, label="nvda_tsla"):
                return 2
        else:
            print("[nvda_tsla] mode tools: the model calls plot_price_change / load_prices")
        result = run(
            settings,
            work_dir=work_dir,
            mode=mode,
            task=args.task,
            max_turns=args.max_turns,
            timeout=args.timeout,
            live_data=not args.offline,
        )
    except OllamaError as exc:
        print(f"[nvda_tsla] error: {exc}", file=sys.stderr)
        return 2

    print(
        f"[nvda_tsla] {result.turns} model repl(ies), {len(result.messages)} messages, ended by {result.termination}; "
        f"data: {result.data_source}"
    )
    if result.code_blocks:
        print(f"[nvda_tsla] executed {len(result.code_blocks)} program(s), exit codes {result.exit_codes}")
    if result.tool_calls:
        print(f"[nvda_tsla] function calls: {', '.join(result.tool_calls)}")
    for path in result.files:
        print(f"[nvda_tsla] wrote {path}")
    if result.mode == "tools":
        line = f"chart: {result.chart}" if result.ok else f"no chart was saved (expected {work_dir / CHART})"
    else:
        line = _chart_task.describe(result.verdict, work_dir)
    print(f"[nvda_tsla] {line}", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
