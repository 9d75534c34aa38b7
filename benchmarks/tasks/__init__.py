"""Small file-producing tasks of the kinds users give code agents, each checked from the files left behind.

Framework-free: a `Task` is plain data plus a check. ``select(names)`` picks tasks by name.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import algorithms, data, library, plots, text
from .checks import KINDS, Task, Wrong

__all__ = ["DONE_WHEN", "KINDS", "TASKS", "Task", "Wrong", "select"]

TASKS: tuple[Task, ...] = (*algorithms.TASKS, *plots.TASKS, *text.TASKS, *data.TASKS, *library.TASKS)
DONE_WHEN = ("squares", "histogram", "top_words")
"""The three tasks a ten-line user script must solve (the issue's done-when list)."""
_BY_NAME = {t.name: t for t in TASKS}


def select(names: Iterable[str] | None = None) -> list[Task]:
    """The tasks named (all when ``names`` is None or empty), in the order given; ValueError names unknown ones."""
    wanted = list(names or ())
    if not wanted:
        return list(TASKS)
    unknown = [n for n in wanted if n not in _BY_NAME]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(_BY_NAME)}")
    return [_BY_NAME[n] for n in wanted]
