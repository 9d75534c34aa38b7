"""The NVDA/TSLA chart task shared by the code-writing examples: the brief, the feedback, the success check.

Not an example itself (the leading underscore keeps it out of ``ollama-integrations run --list``).
Framework-free, so AG2 and AgentChat examples drive the same task the same way:

* the model is told exactly what the data file holds (path, columns, first rows) and what
  "price change YTD" means, because small models otherwise guess column names and plot
  day-over-day changes;
* every reply that carries Python is run before anything decides whether the chat is over;
* the chat is over when the success criterion holds (`Verdict.met`: the chart is a valid PNG
  and the final changes the program printed are the changes since the first row), never
  because the model said a word;
* a failed run goes back to the model as the traceback's last lines plus one short hint;
* after `FRESH_AFTER` failed replies the chat starts over once, from a clean history.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import _common
import _market

from integrations import OllamaSettings

TASK = "Plot a chart of NVDA and TESLA stock price change YTD."
CHART = "nvda_tsla_ytd.png"
DATA = "prices.csv"
TOLERANCE = 0.5  # percentage points between a printed final change and the true one
PREVIEW_ROWS = 3
TAIL_LINES = 6  # traceback lines sent back to the model
FRESH_AFTER = 3  # failed replies in one chat before it starts over, once, from a clean history
MAX_TOKENS = 1024  # a whole plotting program fits; a model that loops stops here instead of at the context end

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"", "python", "py", "python3", "ipython"}
_TICKER = re.compile(r"\b(NVDA|TSLA|TESLA)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.-])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w-])")


def bounded(settings: OllamaSettings) -> OllamaSettings:
    """``settings`` with a reply-length cap when none is set, so every turn ends in bounded time."""
    return settings if settings.max_tokens else settings.merged(max_tokens=MAX_TOKENS)


def stage_data(work_dir: Path, *, live: bool) -> _market.Prices:
    """Write the prices the model's program must read as ``DATA`` in ``work_dir``."""
    prices = _market.load_prices(live=live)
    prices.write_csv(work_dir / DATA)
    return prices


def installed_libraries() -> str:
    found = [name for name in ("matplotlib", "pandas", "numpy") if importlib.util.find_spec(name) is not None]
    return ", ".join(found) or "the standard library only"


def _imports() -> str:
    """The import lines to start with: small models often use ``plt`` or ``pd`` without importing them."""
    lines = [
        line
        for name, line in (("pandas", "import pandas as pd"), ("matplotlib", "import matplotlib.pyplot as plt"))
        if importlib.util.find_spec(name) is not None
    ]
    return f" Start the program with: {'; '.join(lines)}." if lines else ""


def brief(prices: _market.Prices, work_dir: Path) -> str:
    """What the coding model must know: the file, its exact columns and first rows, the quantity, the output."""
    path = work_dir / DATA
    lines = path.read_text(encoding="utf-8").splitlines()
    columns = lines[0].split(",")
    preview = "\n".join(lines[: PREVIEW_ROWS + 1])
    tickers = [c for c in columns if c != "date"]
    sample = f' Note: {prices.note}; put "sample data" in the chart title.' if prices.is_sample else ""
    return f"""You are a Python programmer. Answer with one complete Python program in one ```python block.
The user runs it in a fresh process in the current directory and shows you its output.

Data: the CSV file {DATA} in the current directory ({path}). It has a header row and
{len(lines) - 1} data rows, from {prices.dates[0]} to {prices.dates[-1]}, one per trading day. The columns are
exactly: {", ".join(columns)}. date is YYYY-MM-DD; {" and ".join(tickers)} are daily closing prices in US dollars
(TESLA's ticker is TSLA). The first lines of the file:
{preview}
There is no internet: read this file, do not download anything.{sample}

"Price change YTD" means, for each ticker, the percent change of every close since the first row:
change = (close / first close - 1) * 100. It is not the day-over-day change (not pct_change()).
With pandas, per ticker: change = (df[ticker] / df[ticker].iloc[0] - 1) * 100, one line per ticker on the chart.

Installed: {installed_libraries()}.{_imports()}
Plotting is headless: save the figure with plt.savefig("{CHART}") and do not call plt.show().
After saving, print the last change of each ticker, one per line, like:
NVDA 12.34
TSLA -5.67"""


def opening_retry() -> str:
    """The opening message again, firmer, for a model that refused or wrote no code."""
    return (
        f"Write the Python program now, as one complete ```python block and nothing else: read {DATA}, "
        f"compute each ticker's percent change since the first row, plot both lines, save the chart "
        f'with plt.savefig("{CHART}"), and print the last change of each ticker.'
    )


def fresh_opening() -> str:
    """The opening of the one fresh chat after `FRESH_AFTER` failed replies: a clean history, a new first attempt.

    Small models do worse the longer their history of failed programs grows; a first attempt
    from a clean history succeeds far more often than a fourth repair.
    """
    return (
        f"Start from scratch with a new program, in one complete ```python block: read {DATA} with pandas, "
        "compute for NVDA and TSLA the percent change since the first row, plot both lines against the date, "
        f'save the chart with plt.savefig("{CHART}"), and print the last change of each ticker.'
    )


def next_opening(termination: str, openings: int) -> str | None:
    """The opening of the next chat after one ended with ``termination``, or None when the run is over.

    A first chat whose opening reply had no code is asked again, firmer (`opening_retry`); a chat
    that ended for a fresh start opens with `fresh_opening`. The caller checks the reply bound.

    >>> next_opening("no-code", 1) == opening_retry(), next_opening("fresh-start", 2) == fresh_opening()
    (True, True)
    >>> next_opening("no-code", 2), next_opening("chart-written", 1)
    (None, None)
    """
    if termination == "no-code" and openings == 1:
        return opening_retry()
    if termination == "fresh-start":
        return fresh_opening()
    return None


def python_blocks(text: str) -> list[str]:
    """The Python code in a reply: fenced blocks (an unclosed last fence counts), or the whole reply if it parses.

    >>> python_blocks("Here:\\n```python\\nprint(1)\\n```\\nand ```sh\\nls\\n```")
    ['print(1)']
    >>> python_blocks("import csv\\nprint(2)")
    ['import csv\\nprint(2)']
    >>> python_blocks("I cannot do that.")
    []
    """
    blocks = [code.strip() for lang, code in _FENCE.findall(text) if lang.lower() in _PYTHON and code.strip()]
    if blocks or "```" in text:
        return blocks
    stripped = text.strip()
    if re.search(r"^(import|from)\s+\w", stripped, re.MULTILINE):
        try:
            ast.parse(stripped)
        except SyntaxError:
            return []
        return [stripped]
    return []


@dataclass
class Verdict:
    """Whether a run met the task's success criterion, and what it printed."""

    chart: bool  # the chart file exists and is a valid PNG
    printed: dict[str, float] = field(default_factory=dict)  # final changes the program printed
    expected: dict[str, float] = field(default_factory=dict)

    @property
    def quantity(self) -> str:
        """``since-start`` when every printed final change matches the true one, ``other``, or ``not-printed``."""
        if not self.printed:
            return "not-printed"
        if not self.wrong():
            return "since-start"
        return "other"

    def wrong(self) -> list[str]:
        """The tickers whose printed final change is missing or not the change since the first row."""
        return [t for t, v in self.expected.items() if t not in self.printed or abs(self.printed[t] - v) > TOLERANCE]

    @property
    def met(self) -> bool:
        return self.chart and self.quantity == "since-start"


def printed_changes(output: str) -> dict[str, float]:
    """Per ticker, the last number on the last output line that names that ticker alone.

    >>> printed_changes("saved\\nNVDA 12.3\\nTSLA change since 2025-01-02: -4.5%\\nNVDA TSLA\\n1 2")
    {'NVDA': 12.3, 'TSLA': -4.5}
    """
    found: dict[str, float] = {}
    for line in output.splitlines():
        names = {"TSLA" if n.upper() == "TESLA" else n.upper() for n in _TICKER.findall(line)}
        numbers = _NUMBER.findall(line)
        if len(names) == 1 and numbers:
            found[names.pop()] = float(numbers[-1])
    return found


def judge(work_dir: Path, output: str, prices: _market.Prices) -> Verdict:
    """The success criterion after a run: chart file, then the printed final changes."""
    return Verdict(
        chart=_common.is_png(work_dir / CHART),
        printed=printed_changes(output),
        expected=prices.change_pct(),
    )


def _traceback_tail(output: str) -> str:
    """The error line, and the program's own line that raised it (not a library's), else the last lines."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if "Traceback" not in output:
        return "\n".join(lines[-TAIL_LINES:])
    start = max(i for i, line in enumerate(lines) if "Traceback" in line)
    lines = lines[start + 1 :]
    own = [
        i
        for i, line in enumerate(lines)
        if line.strip().startswith('File "') and "site-packages" not in line and "/lib/python" not in line
    ]
    error = [line for line in lines if not line.startswith(" ")][-2:]  # the exception, maybe a chained note
    if own:
        frame = lines[own[-1] : own[-1] + 2]
        return "\n".join([*frame, *(e for e in error if e not in frame)][-TAIL_LINES:])
    return "\n".join(lines[-TAIL_LINES:])


def hint(output: str, exit_code: int, timeout: int) -> str:
    """One short, specific fix for the commonest failures of small models."""
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if exit_code == 124 or "Timeout" in output or "timed out" in output:
        return f"The program was stopped after {timeout} s: do not wait for input and do not call plt.show()."
    if re.match(r"KeyError: -?\d+$", last.strip()):
        return (
            "A pandas Series or DataFrame is indexed by label, not position: use .iloc[-1] for the last "
            "value and .iloc[0] for the first."
        )
    if "KeyError" in last or "not in index" in last or "None of [Index" in last:
        return (
            f"Use the exact column names of {DATA}: date, NVDA, TSLA (TESLA is TSLA), and the same "
            "spelling each time you use a name you created."
        )
    if "NameError" in last:
        match = re.search(r"name '(\w+)' is not defined", last)
        what = f"'{match.group(1)}'" if match else "a name"
        return (
            f"{what} is used before it is imported or assigned: import it (or define it) at the top, and send "
            "the whole program every time, not only the lines you changed (each program runs on its own)."
        )
    if "ModuleNotFoundError" in last or "ImportError" in last:
        return f"Only these are installed: {installed_libraries()}, and the standard library."
    if "FileNotFoundError" in last:
        return f"The data file is {DATA} in the current directory."
    if "same first dimension" in last:
        return (
            "x and y have different lengths: compute one change per row, change = (close / first close - 1) * 100, "
            "so there are as many values as dates."
        )
    if "SyntaxError" in last or "IndentationError" in last:
        return "Send the whole program again, complete and valid, in one ```python block."
    return "Fix the error and send the whole corrected program in one ```python block."


def feedback(output: str, exit_code: int, verdict: Verdict, timeout: int, *, repeated: bool = False) -> str:
    """What the model reads after its program ran and the task is not done yet.

    ``repeated``: the program is the one the model sent last time (see `Attempts`); small models
    resend a failing program unchanged, so that is said first.
    """
    text = _feedback(output, exit_code, verdict, timeout)
    return f"{REPEATED}\n{text}" if repeated else text


REPEATED = (
    "This is the same program as your previous one, so it gave the same result. "
    "Do not send it again: change the part that is wrong."
)


def _feedback(output: str, exit_code: int, verdict: Verdict, timeout: int) -> str:
    if exit_code != 0:
        return (
            f"The program failed (exit code {exit_code}):\n{_traceback_tail(output) or '(no output)'}\n"
            f"Hint: {hint(output, exit_code, timeout)}"
        )
    if not verdict.chart:
        return (
            f"The program ran but did not save {CHART}. Output:\n{_traceback_tail(output) or '(none)'}\n"
            f'Hint: save the figure with plt.savefig("{CHART}") in the current directory.'
        )
    if verdict.quantity == "not-printed":
        return (
            "The chart was saved, but the program did not print the last change of each ticker. "
            "Print them after saving, one per line, like: NVDA 12.34"
        )
    wrong = verdict.wrong()
    shown = ", ".join(f"{t} {verdict.printed[t]:g}" if t in verdict.printed else f"{t} not printed" for t in wrong)
    right = [t for t in verdict.expected if t not in wrong]
    kept = f" ({' and '.join(right)} {'is' if len(right) == 1 else 'are'} right: keep that part)" if right else ""
    return (
        f"The chart was saved, but the printed last change of {' and '.join(wrong)} ({shown}) is not the percent "
        f"change since the first row{kept}. Hint: with pandas, for each ticker in {', '.join(verdict.expected)}: "
        "change = (df[ticker] / df[ticker].iloc[0] - 1) * 100 (no pct_change(), no cumsum()); "
        "plot it, then print(ticker, round(change.iloc[-1], 2))."
    )


class Attempts:
    """The programs a chat has run, to tell the model when it resends one unchanged.

    >>> attempts = Attempts()
    >>> attempts.repeated("x = 1  # first\\nprint(x)"), attempts.repeated("x = 1\\n\\nprint( x )")
    (False, True)
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def repeated(self, code: str) -> bool:
        """Whether ``code`` (comments and spacing aside) ran before in this chat; records it."""
        key = _normalised(code)
        seen = key in self._seen
        self._seen.add(key)
        return seen


def _normalised(code: str) -> str:
    lines = (re.sub(r"\s+", "", line.split("#", 1)[0]) for line in code.splitlines())
    return "\n".join(line for line in lines if line)


NO_CODE = (
    f"There was no ```python block in your reply, so nothing ran. Reply with the complete program in one "
    f"```python block that saves {CHART}."
)


def describe(verdict: Verdict | None, work_dir: Path) -> str:
    """One line for the user: what the run achieved against the success criterion."""
    expected = ", ".join(f"{t} {v:+.2f}%" for t, v in (verdict.expected if verdict else {}).items())
    if verdict is None or not verdict.chart:
        return f"no chart was saved (expected {work_dir / CHART})"
    if verdict.met:
        return f"chart saved: {work_dir / CHART}; change since the first close {expected} (checked)"
    if verdict.quantity == "not-printed":
        return "chart saved, but the program never printed the final changes, so the plotted quantity is unchecked"
    shown = ", ".join(f"{t} {v:g}" for t, v in verdict.printed.items())
    return f"chart saved, but it printed {shown}, not the change since the first close ({expected})"
