"""The ``--tasks`` benchmark's bookkeeping, without a model: run lines, cells, targets, results entries, endings."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from benchmarks import agent_tasks
from benchmarks.agent_tasks import TaskRun, cells_of, entries, line, run_one, runs_from_lines, table, task_table
from benchmarks.tasks import select

BIG, SMALL = "qwen2.5-coder:1.5b", "qwen2.5-coder:0.5b"


def runs(approach: str, model: str, successes: int, tasks: int = 20, seeds: int = 3) -> list[TaskRun]:
    out = []
    for i in range(tasks * seeds):
        ok = i < successes
        out.append(
            TaskRun(f"t{i // seeds}", approach, model, i % seeds + 1, ok, 10.0 + i, 2, "done" if ok else "max-replies",
                    "ok" if ok else "out.txt was not written")
        )  # fmt: skip
    return out


def test_run_lines_round_trip_including_verdicts_with_spaces() -> None:
    original = runs("smolagents", SMALL, 1, tasks=1, seeds=2)
    original[1].verdict = "means.json's mean of class A is 85, expected 84.33"
    original[1].ending = "error: ValueError"

    assert runs_from_lines(["unrelated", *map(line, original)]) == original


def test_ours_meets_the_target_only_at_scale_and_ahead_of_both_baselines() -> None:
    measured = [
        *runs("ours-ag2", BIG, 56),  # 93%
        *runs("ours-agentchat", BIG, 53),  # 88%
        *runs("ag2-default", BIG, 40),
        *runs("smolagents", BIG, 57),  # 95%: ahead of ours-ag2
        *runs("ours-ag2", SMALL, 30),
    ]
    found = {e["name"]: e for e in entries(cells_of(measured))}

    ag2 = found[f"agents tasks: ours-ag2 {BIG} (20 tasks x 3 seeds): success"]
    assert ag2["value"] == round(56 / 60, 4) and ag2["baseline"] == round(57 / 60, 4)
    assert ag2["target"] == ">= 0.9 and above both baselines" and ag2["met"] is False
    assert found[f"agents tasks: ours-agentchat {BIG} (20 tasks x 3 seeds): success"]["met"] is False
    assert found[f"agents tasks: ag2-default {BIG} (20 tasks x 3 seeds): success"]["target"] == "informative"
    assert found[f"agents tasks: ours-ag2 {SMALL} (20 tasks x 3 seeds): success"]["target"] == "informative"
    assert found[f"agents tasks: ours-ag2 {BIG} (20 tasks x 3 seeds): median wall time"]["unit"] == "s"

    few = entries(cells_of(runs("ours-ag2", BIG, 3, tasks=3, seeds=1)))[0]
    assert few["name"].endswith("(3 tasks x 1 seeds): success") and few["target"] == "informative"


def test_tables_count_successes_and_endings() -> None:
    measured = [*runs("ours-ag2", BIG, 2, tasks=2, seeds=2), *runs("ag2-default", BIG, 0, tasks=2, seeds=2)]

    rows = table(cells_of(measured)).splitlines()
    assert rows[2] == f"| ours-ag2 | {BIG} | 2 x 2 | 2/4 (50%) | 12 | 2 | done 2, max-replies 2 |"
    assert rows[3].startswith(f"| ag2-default | {BIG} | 2 x 2 | 0/4 (0%) |")
    per_task = task_table(measured).splitlines()
    assert per_task[2] == "| t0 | 2/2 | 0/2 |" and per_task[3] == "| t1 | 0/2 | 0/2 |"


def options(**changes: object) -> argparse.Namespace:
    values = {"max_turns": 2, "timeout": 5, "temperature": None, "max_tokens": None, "run_cap": 120}
    return argparse.Namespace(**{**values, **changes})


def test_a_run_that_fails_in_its_child_is_an_ending_and_a_failed_check(tmp_path: Path) -> None:
    run = run_one(select(["csv_filter"])[0], "no-such-approach", BIG, 1, options(), "http://127.0.0.1:9", tmp_path)

    assert (run.ok, run.replies, run.ending) == (False, 0, "error: ValueError")
    assert run.verdict == "paris.txt was not written"
    log = (tmp_path / f"csv_filter-no-such-approach-{BIG.replace(':', '_')}-seed1.log").read_text()
    assert "unknown approach 'no-such-approach'" in log


def test_a_run_past_its_wall_time_cap_is_stopped(tmp_path: Path) -> None:
    run = run_one(select(["squares"])[0], "ours-ag2", BIG, 2, options(run_cap=0.2), "http://127.0.0.1:9", None)

    assert (run.ok, run.ending) == (False, "wall-time-cap") and run.seconds < 30


def test_the_default_plan_is_the_issues_three_way_comparison() -> None:
    assert set(agent_tasks.APPROACHES) == {*agent_tasks.OURS, *agent_tasks.BASELINES}
    assert agent_tasks.MODELS == (BIG, SMALL) and agent_tasks.SEEDS == 3


def test_runs_get_this_python_first_on_path_and_headless_plotting() -> None:
    env = agent_tasks.child_environment()

    found = shutil.which("python", path=env["PATH"]) or shutil.which("python3", path=env["PATH"])
    assert found is not None and Path(found).parent == Path(sys.executable).parent
    assert env["PIP_NO_INDEX"] == "1"
    assert env["MPLBACKEND"] == "Agg" and env["PYTHONPATH"].split(os.pathsep)[0] == str(agent_tasks.ROOT)
