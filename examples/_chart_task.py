"""The NVDA/TSLA chart task shared by the code-writing examples: the brief, the data, the success check.

Not an example itself (the leading underscore keeps it out of ``ollama-integrations run --list``).
The loop that drives it (run every reply's code first, feedback, fresh start, the bound) is the
library's (`integrations.coding`); this module holds only what is particular to the task:

* the model is told exactly what the data file holds (path, columns, first rows) and what
  "price change YTD" means, because small models otherwise guess column names and plot
  day-over-day changes;
* the task is done when `Verdict.met` holds (the chart is a valid PNG and the final changes the
  program printed are the changes since the first row), never because the model said a word;
  `check` is that criterion as the loop's ``done`` callable, and when it does not hold it says
  what is wrong in words a small model can act on (`shortfall`).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _common
import _market

from integrations.coding import Done

TASK = "Plot a chart of NVDA and TESLA stock price change YTD."
CHART = "nvda_tsla_ytd.png"
DATA = "prices.csv"
TOLERANCE = 0.5  # percentage points between a printed final change and the true one
PREVIEW_ROWS = 3
_TICKER = re.compile(r"\b(NVDA|TSLA|TESLA)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.-])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w-])")


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


def check(prices: _market.Prices, seen: list[Verdict] | None = None) -> Done:
    """The success criterion as the loop's ``done`` callable; each verdict is appended to ``seen``."""

    def done(work_dir: Path, output: str) -> bool | str:
        verdict = judge(work_dir, output, prices)
        if seen is not None:
            seen.append(verdict)
        return True if verdict.met else shortfall(verdict)

    return done


NEAR_MISSES: tuple[tuple[Callable[[float], float], float, str], ...] = (
    (
        lambda change: change + 100,
        TOLERANCE,
        "100 too high: that is close / first close * 100. "
        "The change is (close / first close - 1) * 100: subtract 1 before multiplying by 100",
    ),
    (
        lambda change: change / 100 + 1 - 100,
        0.05,
        "close / first close - 100: in `... - 1 * 100` only the 1 is multiplied. "
        "Put the subtraction in brackets: (close / first close - 1) * 100",
    ),
    (
        lambda change: change / 100,
        0.005,
        "a fraction, not a percent: the change is (close / first close - 1) * 100",
    ),
)
"""What a printed value is, as a function of the true change, how close it must be, and the fix, for the mistakes
small models make most."""


def shortfall(verdict: Verdict) -> str:
    """What a run that did not fail still lacks, with the fix (the loop adds the output and the traceback)."""
    if not verdict.chart:
        return f'{CHART} was not saved: save the figure with plt.savefig("{CHART}") in the current directory'
    if verdict.quantity == "not-printed":
        return (
            "the chart was saved, but the program did not print the last change of each ticker. "
            "Print them after saving, one per line, like: NVDA 12.34"
        )
    wrong = verdict.wrong()
    right = [t for t in verdict.expected if t not in wrong]
    kept = f" ({' and '.join(right)} {'is' if len(right) == 1 else 'are'} right: keep that part)" if right else ""
    for formula, tolerance, fix in NEAR_MISSES:  # the commonest near misses, named with their fix
        if wrong and all(
            t in verdict.printed and abs(verdict.printed[t] - formula(verdict.expected[t])) <= tolerance for t in wrong
        ):
            return f"the printed last change of {' and '.join(wrong)}{kept} is {fix}"
    shown = ", ".join(f"{t} {verdict.printed[t]:g}" if t in verdict.printed else f"{t} not printed" for t in wrong)
    return (
        f"the printed last change of {' and '.join(wrong)} ({shown}) is not the percent change since the first "
        f"row{kept}. Hint: with pandas, for each ticker in {', '.join(verdict.expected)}: "
        "change = (df[ticker] / df[ticker].iloc[0] - 1) * 100 (no pct_change(), no cumsum()); "
        "plot it, then print(ticker, round(change.iloc[-1], 2))"
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
