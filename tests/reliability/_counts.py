"""Outcome tallies the reliability suite prints at the end of the run.

Each input is counted under a category with how it ended (``200``, ``400``,
``server crash``, ``timeout``, ...), so a regression changes the figures even
when nobody reads the assertions: a run that crashed the server once shows
``server crash x 1`` next to the hundreds of inputs that were refused.
"""

from __future__ import annotations

from collections import Counter, defaultdict

outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)


def record(category: str, outcome: str) -> None:
    """Count one input of ``category`` that ended in ``outcome``."""
    outcomes[category][outcome] += 1


def fuzz(documented: bool, category: str = "fuzzed values") -> None:
    """Record one fuzzed value and whether it ended in the documented outcome."""
    record(category, "documented outcome" if documented else "UNDOCUMENTED outcome")


def lines() -> list[str]:
    """One line per category: inputs tried, then each outcome with its count, most frequent first."""
    out = []
    for category in sorted(outcomes):
        counts = outcomes[category]
        ends = ", ".join(f"{name} x {n}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"  {category}: {sum(counts.values())} tried; {ends}")
    return out
