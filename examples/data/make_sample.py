"""Regenerate ``nvda_tsla_sample.csv``: SYNTHETIC daily closes, so the examples run offline.

The numbers are a seeded random walk starting near early-January price levels.
They are not market data and must never be presented as such; every row says so.

    python examples/data/make_sample.py [--end YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
from pathlib import Path

OUT = Path(__file__).with_name("nvda_tsla_sample.csv")
NOTE = "SYNTHETIC sample data - not real market prices"
# Rough start levels, daily drift and volatility, so the chart looks plausible.
START = {"NVDA": (188.0, 0.0009, 0.028), "TSLA": (445.0, -0.0002, 0.035)}


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


def main() -> None:
    today = dt.date.today()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", type=dt.date.fromisoformat, default=today - dt.timedelta(days=1))
    args = parser.parse_args()
    dates = business_days(dt.date(args.end.year, 1, 2), args.end)
    rng = random.Random(2024)
    closes: dict[str, list[float]] = {}
    for ticker, (price, drift, vol) in START.items():
        series = []
        for _ in dates:
            series.append(round(price, 2))
            price *= math.exp(rng.gauss(drift, vol))
        closes[ticker] = series
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", *START, "note"])
        for i, day in enumerate(dates):
            writer.writerow([day.isoformat(), *(closes[t][i] for t in START), NOTE])
    print(f"wrote {len(dates)} rows to {OUT}")


if __name__ == "__main__":
    main()
