"""Counters the reliability suite reports at the end of the run."""

from __future__ import annotations

fuzzed = {"inputs": 0, "documented": 0}
faults = {"cases": 0, "documented": 0}


def fuzz(documented: bool) -> None:
    """Record one fuzzed input and whether it ended in the documented outcome."""
    fuzzed["inputs"] += 1
    fuzzed["documented"] += int(documented)
