"""The task type and the helpers checkers use: they read the files a run left behind, never the model's words.

A checker raises `Wrong` with what is missing or off; `Task.check` turns that (or any
crash on a malformed file) into the string a benchmark reports.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("csv", "statistic", "plot", "text", "algorithm", "library")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Wrong(Exception):
    """What a run's files get wrong, in a few words a reader of the benchmark log can act on."""


@dataclass(frozen=True)
class Task:
    """One small job a user gives a code agent, with its inputs, its check and a reference solution.

    ``prompt`` is what the user writes (it names every output file). ``inputs`` are files
    staged in the work directory before the agent starts. ``verify`` raises `Wrong`.
    ``solution`` is a program that solves the task; ``near_miss`` a plausible program that
    does not (an off-by-one, the wrong statistic, the wrong format): tests run both.
    """

    name: str
    kind: str
    prompt: str
    outputs: tuple[str, ...]
    verify: Callable[[Path], None]
    solution: str
    near_miss: str
    inputs: Mapping[str, str] = field(default_factory=dict)

    def stage(self, work_dir: Path) -> None:
        """Write the task's input files into ``work_dir``."""
        for name, text in self.inputs.items():
            (work_dir / name).write_text(text, encoding="utf-8")

    def check(self, work_dir: Path) -> bool | str:
        """True when the files in ``work_dir`` solve the task, else what is wrong."""
        try:
            self.verify(work_dir)
        except Wrong as exc:
            return str(exc)
        except Exception as exc:  # a malformed file is a failed task, said in one line
            return f"unreadable output: {type(exc).__name__}: {exc}"[:300]
        return True

    def done(self, work_dir: Path, output: str) -> bool | str:
        """The check in the shape of a code loop's ``done`` callable (the run's output is not consulted)."""
        return self.check(work_dir)


def program(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


def text(work_dir: Path, name: str) -> str:
    path = work_dir / name
    if not path.is_file():
        raise Wrong(f"{name} was not written")
    content = path.read_text(encoding="utf-8", errors="replace")
    if not content.strip():
        raise Wrong(f"{name} is empty")
    return content


def lines(work_dir: Path, name: str) -> list[str]:
    """The file's non-blank lines, stripped."""
    return [line.strip() for line in text(work_dir, name).splitlines() if line.strip()]


def number(value: Any, what: str) -> float:
    """A number from a JSON value or a string (``"15.5"``, ``"15.5\\n"``), else `Wrong`."""
    if isinstance(value, bool):
        raise Wrong(f"{what} is {value!r}, not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*", value)
        if match:
            return float(match.group(1))
    raise Wrong(f"{what} is {value!r}, not a number")


def integers(values: list[str], what: str) -> list[int]:
    out = []
    for value in values:
        x = number(value, what)
        if x != int(x):
            raise Wrong(f"{what}: {value!r} is not a whole number")
        out.append(int(x))
    return out


def close(actual: float, expected: float, what: str, tolerance: float = 0.01) -> None:
    if not math.isclose(actual, expected, abs_tol=tolerance):
        raise Wrong(f"{what} is {actual:g}, expected {expected:g}")


def same(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        shown = repr(actual)
        raise Wrong(f"{what} is {shown[:120]}{'...' if len(shown) > 120 else ''}, expected {expected!r}"[:300])


def load_json(work_dir: Path, name: str) -> Any:
    try:
        return json.loads(text(work_dir, name))
    except json.JSONDecodeError as exc:
        raise Wrong(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def rows(work_dir: Path, name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """A CSV file's rows by its header, which must be exactly ``columns`` (spaces around names ignored)."""
    reader = csv.DictReader(io.StringIO(text(work_dir, name)))
    header = tuple(c.strip() for c in reader.fieldnames or ())
    same(header, columns, f"{name}'s header")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


@dataclass(frozen=True)
class Picture:
    """A decoded PNG: its size and RGB pixels."""

    width: int
    height: int
    rgb: bytes  # three bytes a pixel, row by row

    def share(self, predicate: Callable[[tuple[int, int, int]], bool]) -> float:
        pixels = zip(self.rgb[0::3], self.rgb[1::3], self.rgb[2::3], strict=True)
        return sum(1 for p in pixels if predicate(p)) / (self.width * self.height)

    @property
    def ink(self) -> float:
        """The share of pixels that are not (near) white: axes, text, bars, lines."""
        return self.share(lambda p: min(p) < 235)


def png(work_dir: Path, name: str, *, min_ink: float = 0.0) -> Picture:
    """The PNG ``name``, decoded (a truncated or renamed file fails), with at least ``min_ink`` drawn."""
    from PIL import Image  # Pillow comes with matplotlib, which the plot tasks need anyway

    path = work_dir / name
    if not path.is_file():
        raise Wrong(f"{name} was not written")
    with path.open("rb") as handle:
        if handle.read(8) != PNG_SIGNATURE:
            raise Wrong(f"{name} is not a PNG file")
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except Exception as exc:  # Pillow raises several types for a damaged file
        raise Wrong(f"{name} does not decode as an image ({exc})") from exc
    picture = Picture(rgb.width, rgb.height, rgb.tobytes())
    if picture.width < 100 or picture.height < 100:
        raise Wrong(f"{name} is only {picture.width}x{picture.height} pixels")
    if picture.ink < min_ink:
        raise Wrong(f"{name} is nearly blank ({picture.ink:.1%} of pixels drawn)")
    return picture
