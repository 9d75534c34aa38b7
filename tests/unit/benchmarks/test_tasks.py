"""The benchmark's task set: every checker accepts its reference solution, run for real, and rejects a near miss."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.tasks import DONE_WHEN, KINDS, TASKS, Task, select
from benchmarks.tasks.text import PARAGRAPH, TOP, pairs

IDS = [t.name for t in TASKS]


def run(program: str, work_dir: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=work_dir, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def staged(task: Task, work_dir: Path) -> Path:
    task.stage(work_dir)
    for name, content in task.inputs.items():
        assert (work_dir / name).read_text(encoding="utf-8") == content
    return work_dir


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_reference_solution_passes(task: Task, tmp_path: Path) -> None:
    run(task.solution, staged(task, tmp_path))

    assert task.check(tmp_path) is True
    assert task.done(tmp_path, "") is True


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_a_near_miss_fails_with_a_reason(task: Task, tmp_path: Path) -> None:
    run(task.near_miss, staged(task, tmp_path))

    verdict = task.check(tmp_path)
    assert isinstance(verdict, str) and verdict, verdict
    assert any(name in verdict for name in task.outputs), f"the reason names the file: {verdict}"


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_nothing_written_fails(task: Task, tmp_path: Path) -> None:
    verdict = staged(task, tmp_path) and task.check(tmp_path)

    assert verdict == f"{task.outputs[0]} was not written"


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_prompt_names_every_output_and_input(task: Task) -> None:
    for name in (*task.outputs, *task.inputs):
        assert name in task.prompt


def test_the_set_covers_every_kind_with_unique_names() -> None:
    assert len(TASKS) >= 20
    assert len(set(IDS)) == len(IDS)
    assert set(Counter(t.kind for t in TASKS)) == set(KINDS)
    assert [t.name for t in select(DONE_WHEN)] == list(DONE_WHEN)
    assert select() == list(TASKS)
    with pytest.raises(ValueError, match="unknown task"):
        select(["squares", "no_such_task"])


@pytest.mark.parametrize(
    "split",
    [
        str.split,
        lambda s: s.lower().split(),
        lambda s: re.findall(r"\w+", s),
        lambda s: re.findall(r"[a-z]+", s.lower()),
        lambda s: [w.strip(".,;:!?") for w in s.split()],
    ],
)
def test_the_paragraphs_top_three_do_not_depend_on_how_words_are_split(split: object) -> None:
    counts = Counter(split(PARAGRAPH)).most_common(4)  # type: ignore[operator]

    assert dict(counts[:3]) == TOP
    assert counts[3][1] < min(TOP.values())


@pytest.mark.parametrize(
    "shape",
    [
        {"data": 5, "model": 4, "small": 3},
        [["data", 5], ["model", 4], ["small", 3]],
        [{"word": "data", "count": 5}, {"word": "model", "count": 4}, {"word": "small", "count": 3}],
        {"top_words": [["data", 5], ["model", 4], ["small", 3]]},
    ],
)
def test_top_words_accepts_the_shapes_a_user_accepts(shape: object) -> None:
    assert pairs(shape) == TOP


def test_a_renamed_text_file_is_not_a_png(tmp_path: Path) -> None:
    (tmp_path / "hist.png").write_text("import matplotlib\n")
    (tmp_path / "fruits.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    assert select(["histogram"])[0].check(tmp_path) == "hist.png is not a PNG file"
    assert "does not decode" in str(select(["bar_chart_red"])[0].check(tmp_path))
