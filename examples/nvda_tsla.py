"""Ollama's announcement example: AG2/Autogen agents plot NVDA and TESLA stock price change YTD.

Shows an ``AssistantAgent`` and a ``UserProxyAgent`` (AG2/Autogen classic, as in
Ollama's OpenAI-compatibility announcement) configured by ``integrations.llm_config()``,
in one of two modes:

* ``code``: the announcement's flow. The model writes Python; the user proxy runs it
  with Autogen's ``LocalCommandLineCodeExecutor`` inside the run's work directory with a
  timeout (``--docker``: ``DockerCommandLineCodeExecutor`` instead, when Docker works).
* ``tools``: the model calls registered Python functions (``plot_price_change``,
  ``load_prices``); one call to ``plot_price_change`` draws the chart.
* ``auto`` (default): ``tools`` when the model is tiny (``smollm*``, ``tinyllama``, or a
  size tag under 1B such as ``:135m`` or ``:0.5b``), or when the server says it has the
  ``tools`` capability and the task does not ask for code/a script; ``code`` otherwise
  (``codellama``, the announcement's model, has no tools, so it writes code).

Prices come from yfinance when it is installed and the network answers, else from the
bundled SYNTHETIC sample ``examples/data/nvda_tsla_sample.csv`` (the chart title then
says "sample data"). The chart is saved as ``nvda_tsla_ytd.png`` in the work directory.

Needs: ``pip install 'ollama-integrations[autogen,examples]'`` and a model: the
announcement's ``codellama`` by default (``ollama pull codellama``), any other with ``--model``.

Run:
    python examples/nvda_tsla.py [--mode code|tools|auto] [--model qwen2.5-coder] [--task "..."]
    ollama-integrations run nvda-tsla --embedded     # offline, smollm2:135m on the embedded server
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import _common
import _market

from integrations import OllamaError, OllamaSettings, llm_config, model_info

EXAMPLE = "nvda_tsla"
DEFAULT_MODEL = "codellama"  # the announcement's model
TASK = "Plot a chart of NVDA and TESLA stock price change YTD."
CHART = "nvda_tsla_ytd.png"
DATA = "prices.csv"
Mode = Literal["code", "tools", "auto"]
Ticker = Literal["NVDA", "TSLA"]

CODE_SYSTEM_NOTE = f"""
Offline data: the file {DATA} in your working directory holds daily closing prices, columns
date,NVDA,TSLA,note (date is YYYY-MM-DD). There is no internet: do not download data and do
not use yfinance or pandas; read the file with the csv module. Use matplotlib with the Agg
backend (import matplotlib; matplotlib.use("Agg")) and save the chart as {CHART} in the
current directory with plt.savefig("{CHART}"). Put the whole program in one ```python block.
If the note column says the data is a sample, put "sample data" in the chart title.
"""

TOOLS_SYSTEM = f"""You are a helpful assistant with functions for stock prices.
To chart price changes, call plot_price_change with the tickers and the file name "{CHART}".
After a function result, answer in one short sentence and end with TERMINATE."""


@dataclass
class Result:
    """What a run did, for printing and for tests."""

    mode: str
    work_dir: Path
    executor: str  # "local", "docker" or "none" (tools mode)
    data_source: str  # "yfinance" or "sample"
    messages: list[dict[str, Any]] = field(default_factory=list)
    code_blocks: list[str] = field(default_factory=list)  # code the user proxy executed
    exit_codes: list[int] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)  # function names, in call order
    files: list[Path] = field(default_factory=list)  # files the run created in work_dir
    chart: Path | None = None
    termination: str = "max-turns"  # "text-reply", "TERMINATE" or "max-turns"

    @property
    def ok(self) -> bool:
        """The workflow did what it promises: a PNG chart exists."""
        return _common.is_png(self.chart)


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


def choose_mode(requested: Mode, settings: OllamaSettings, task: str = TASK) -> Literal["code", "tools"]:
    """Resolve ``auto`` (see the module docstring for the rule); ``code``/``tools`` pass through."""
    if requested != "auto":
        return requested
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


class RecordingExecutor:
    """Wraps an Autogen code executor to remember which code blocks ran and how they ended."""

    def __init__(self, inner: Any, result: Result) -> None:
        self.inner = inner
        self.result = result

    @property
    def code_extractor(self) -> Any:
        return self.inner.code_extractor

    def execute_code_blocks(self, code_blocks: list[Any]) -> Any:
        outcome = self.inner.execute_code_blocks(code_blocks)
        self.result.code_blocks.extend(block.code for block in code_blocks)
        self.result.exit_codes.append(outcome.exit_code)
        return outcome

    def restart(self) -> None:
        self.inner.restart()


def docker_problem() -> str | None:
    """Why Docker cannot run the code, or None when it can."""
    try:
        import docker  # noqa: F401  (Autogen's Docker executor needs the Python client)
    except ImportError:
        return "the 'docker' Python package is not installed (pip install docker)"
    if shutil.which("docker") is None:
        return "the docker command is not on PATH"
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'docker info' failed: {exc}"
    return None if probe.returncode == 0 else "the Docker daemon does not answer ('docker info' failed)"


def code_executor(work_dir: Path, *, timeout: int, docker: bool = False, image: str = "python:3-slim") -> Any:
    """Autogen's executor for model-written code: confined to ``work_dir``, killed after ``timeout`` s."""
    if docker:
        problem = docker_problem()
        if problem:
            raise RuntimeError(f"--docker was asked for, but {problem}")
        from autogen.coding import DockerCommandLineCodeExecutor

        return DockerCommandLineCodeExecutor(image=image, work_dir=work_dir, timeout=timeout)
    from autogen.coding import LocalCommandLineCodeExecutor

    # Autogen runs "python" from PATH; put this interpreter's bin directory first so
    # the generated code sees the same packages (matplotlib) even without an activated venv.
    venv = SimpleNamespace(bin_path=str(Path(sys.executable).parent), env_exe=sys.executable)
    return LocalCommandLineCodeExecutor(work_dir=work_dir, timeout=timeout, virtual_env_context=venv)


def code_user_proxy(
    work_dir: Path,
    result: Result,
    *,
    timeout: int,
    docker: bool = False,
    max_turns: int = 6,
    is_termination_msg: Callable[[dict[str, Any]], bool] | None = None,
) -> Any:
    """The user proxy of code mode: runs the code blocks it receives in ``work_dir``, recording them in ``result``."""
    from autogen import UserProxyAgent

    executor = code_executor(work_dir, timeout=timeout, docker=docker)
    result.executor = "docker" if docker else "local"
    return UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=max_turns,
        code_execution_config={"executor": RecordingExecutor(executor, result)},
        is_termination_msg=is_termination_msg,
        default_auto_reply=f"No code block found. Reply with one ```python block that saves {CHART}, or TERMINATE.",
    )


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
    docker: bool = False,
    live_data: bool = True,
) -> Result:
    """Run the two-agent chat in ``work_dir`` and report what happened.

    Raises `integrations.OllamaError` when the server or model is not usable, and
    `RuntimeError` when ``docker`` is asked for but Docker does not work.
    """
    from autogen import AssistantAgent, UserProxyAgent, register_function

    chosen = choose_mode(mode, settings, task)
    work_dir.mkdir(parents=True, exist_ok=True)
    result = Result(mode=chosen, work_dir=work_dir, executor="none", data_source="sample")
    before = _common.snapshot(work_dir)

    def finished(message: dict[str, Any]) -> bool:
        # Called on every message the user proxy receives: record why the chat stops.
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        if "TERMINATE" in text:
            result.termination = "TERMINATE"
            return True
        if chosen == "tools" and result.tool_calls and text.strip() and not message.get("tool_calls"):
            result.termination = "text-reply"
            return True
        return False

    if chosen == "code":
        prices = _market.load_prices(live=live_data)
        prices.write_csv(work_dir / DATA)
        result.data_source = prices.source
        config = llm_config(settings=settings)
        system = AssistantAgent.DEFAULT_SYSTEM_MESSAGE + CODE_SYSTEM_NOTE
        user_proxy = code_user_proxy(
            work_dir, result, timeout=timeout, docker=docker, max_turns=max_turns, is_termination_msg=finished
        )
    else:
        config = llm_config(settings=settings, requires=("tools",))
        system = TOOLS_SYSTEM
        user_proxy = UserProxyAgent(
            "user_proxy",
            human_input_mode="NEVER",
            max_consecutive_auto_reply=max_turns,
            code_execution_config=False,
            is_termination_msg=finished,
            default_auto_reply="Call plot_price_change to save the chart.",
        )

    assistant = AssistantAgent("assistant", llm_config=config, system_message=system)
    if chosen == "tools":
        for function, description in price_tools(work_dir, result, live_data):
            register_function(
                _common.resolved_annotations(function), caller=assistant, executor=user_proxy, description=description
            )

    chat = user_proxy.initiate_chat(assistant, message=task, max_turns=max_turns)
    result.messages = list(chat.chat_history)
    result.files = _common.new_files(work_dir, before)
    if chosen == "code" and (work_dir / CHART).is_file():
        result.chart = work_dir / CHART
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=DEFAULT_MODEL, max_turns=6)
    p.add_argument("--mode", choices=["code", "tools", "auto"], default="auto", help="see above (default: auto)")
    p.add_argument("--task", default=TASK, help=f"the first message (default: {TASK!r})")
    p.add_argument("--timeout", type=int, default=60, help="seconds before generated code is killed (default: 60)")
    p.add_argument("--docker", action="store_true", help="run generated code in Docker instead of locally")
    p.add_argument("--offline", action="store_true", help="use the bundled sample data without trying yfinance")
    args = p.parse_args(argv)

    try:
        settings = _common.settings_from(args, default_model=DEFAULT_MODEL)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[nvda_tsla] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        mode = choose_mode(args.mode, settings, args.task)
        if mode == "code":
            where = "a Docker container" if args.docker else "a local subprocess"
            print(f"[nvda_tsla] mode code: generated code runs in {where}, in {work_dir}, killed after {args.timeout}s")
        else:
            print("[nvda_tsla] mode tools: the model calls plot_price_change / load_prices")
        result = run(
            settings,
            work_dir=work_dir,
            mode=mode,
            task=args.task,
            max_turns=args.max_turns,
            timeout=args.timeout,
            docker=args.docker,
            live_data=not args.offline,
        )
    except (OllamaError, RuntimeError) as exc:
        print(f"[nvda_tsla] error: {exc}", file=sys.stderr)
        return 2

    print(f"[nvda_tsla] {len(result.messages)} messages, ended by {result.termination}; data: {result.data_source}")
    if result.code_blocks:
        print(f"[nvda_tsla] executed {len(result.code_blocks)} code block(s), exit codes {result.exit_codes}")
    if result.tool_calls:
        print(f"[nvda_tsla] function calls: {', '.join(result.tool_calls)}")
    for path in result.files:
        print(f"[nvda_tsla] wrote {path}")
    if result.ok:
        print(f"[nvda_tsla] chart: {result.chart}")
        return 0
    print(f"[nvda_tsla] no chart was saved (expected {work_dir / CHART})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
