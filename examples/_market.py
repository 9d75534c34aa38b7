"""Daily closes for the stock examples: live from yfinance when possible, else the bundled SYNTHETIC sample.

The examples must run with no internet, so the sample in ``data/nvda_tsla_sample.csv``
is the normal path here; every chart drawn from it says "sample data" in its title.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_CSV = Path(__file__).resolve().parent / "data" / "nvda_tsla_sample.csv"
TICKERS = ("NVDA", "TSLA")
SAMPLE_NOTE = "SYNTHETIC sample data - not real market prices"


@dataclass(frozen=True)
class Prices:
    """Daily closes of some tickers on shared dates, and where they came from."""

    dates: list[dt.date]
    closes: dict[str, list[float]]
    source: str  # "yfinance" or "sample"
    note: str

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def change_pct(self) -> dict[str, float]:
        """Per ticker: percent change from the first to the last close."""
        return {t: round((c[-1] / c[0] - 1) * 100, 2) for t, c in self.closes.items() if c}

    def write_csv(self, path: Path) -> Path:
        """The prices as ``date,<TICKER>...``, numbers only, for code the model writes.

        No text column: a small model that divides the whole table by its first row (a common
        way to compute a change since the start) would crash on one. Where the prices come
        from is said in the brief and in the chart title instead.
        """
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["date", *self.closes])
            for i, day in enumerate(self.dates):
                writer.writerow([day.isoformat(), *(self.closes[t][i] for t in self.closes)])
        return path


def _pick(tickers: Iterable[str]) -> list[str]:
    chosen = [t.upper() for t in tickers if t.upper() in TICKERS]
    return list(dict.fromkeys(chosen)) or list(TICKERS)


def load_sample(tickers: Iterable[str] = TICKERS, start: dt.date | None = None) -> Prices:
    """The bundled synthetic closes, from ``start`` (default: the file's first date)."""
    names = _pick(tickers)
    dates: list[dt.date] = []
    closes: dict[str, list[float]] = {t: [] for t in names}
    with SAMPLE_CSV.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = dt.date.fromisoformat(row["date"])
            if start is not None and day < start:
                continue
            dates.append(day)
            for t in names:
                closes[t].append(float(row[t]))
    return Prices(dates, closes, "sample", SAMPLE_NOTE)


def network_answers(host: str = "query1.finance.yahoo.com", timeout: float = 2.0) -> bool:
    """One short TCP connect: enough to know whether trying yfinance is worth the wait."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_live(tickers: Iterable[str], start: dt.date, timeout: float = 10.0) -> Prices:
    """Closes from yfinance; raises `RuntimeError` saying why when that is not possible."""
    if importlib.util.find_spec("yfinance") is None:
        raise RuntimeError("yfinance is not installed (pip install 'ollama-integrations[examples]')")
    if not network_answers():
        raise RuntimeError("the network does not answer (no route to query1.finance.yahoo.com)")
    import yfinance

    names = _pick(tickers)
    try:
        frame = yfinance.download(names, start=start.isoformat(), progress=False, timeout=timeout, auto_adjust=True)
        close = frame["Close"].dropna()
        dates = [ts.date() for ts in close.index]
        closes = {t: [float(v) for v in close[t]] for t in names}
    except Exception as exc:  # yfinance fails in many library-specific ways; any of them means "use the sample"
        raise RuntimeError(f"yfinance failed: {exc}") from exc
    if not dates:
        raise RuntimeError("yfinance returned no rows")
    return Prices(dates, closes, "yfinance", "Yahoo Finance daily close via yfinance")


def load_prices(tickers: Sequence[str] = TICKERS, start: dt.date | None = None, *, live: bool = True) -> Prices:
    """Live closes when ``live`` and possible, else the sample; the fallback reason is printed."""
    if live:
        try:
            return load_live(tickers, start or dt.date(dt.date.today().year, 1, 1))
        except RuntimeError as exc:
            print(f"[data] live prices unavailable: {exc}. Using the bundled SYNTHETIC sample {SAMPLE_CSV.name}.")
    return load_sample(tickers, start)


def plot_change(prices: Prices, path: Path) -> Path:
    """Save a PNG of each ticker's percent change since the first date; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, and none exists on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for ticker, closes in prices.closes.items():
        change = [(c / closes[0] - 1) * 100 for c in closes]
        ax.plot(prices.dates, change, label=ticker)  # type: ignore[arg-type]  # dates plot fine; the stubs want numbers
    ax.axhline(0, color="grey", linewidth=0.8)
    year = prices.dates[0].year if prices.dates else dt.date.today().year
    title = f"{' vs '.join(prices.closes)}: price change YTD {year} (%)"
    if prices.is_sample:
        title += " - sample data (synthetic)"
    ax.set_title(title)
    ax.set_ylabel("change since first close (%)")
    ax.legend()
    fig.autofmt_xdate()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
