"""`benchmarks/agents.py --ray` on a local Ray with two workers, on the smollm2 fast path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.ray, pytest.mark.plumbing, pytest.mark.timeout(900)]


def test_agents_sweep_runs_its_seeds_as_ray_tasks_and_merges_the_results(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from integrations.pytest_plugin import _unavailable

    for module, extra in (("ray", "ray"), ("xllamacpp", "embedded")):
        try:
            __import__(module)
        except ImportError:
            _unavailable(request.config, f"{module} is not installed (extra '{extra}')")
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"name": "kept: an earlier entry", "value": 1}]), encoding="utf-8")
    command = [
        sys.executable, str(ROOT / "benchmarks" / "agents.py"), "--ray", "--ray-workers", "2",
        "--examples", "nvda_tsla", "--models", "smollm2:135m", "--modes", "tools", "--seeds", "2",
        "--max-turns", "3", "--results", str(results),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=840)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    seeds = re.findall(r"^nvda_tsla\s+tools smollm2:135m\s+seed\s+(\d+): (ok|FAIL)", done.stdout, re.MULTILINE)
    assert sorted(seed for seed, _ in seeds) == ["1", "2"], done.stdout[-2000:]
    workers = set(re.findall(r"\(run_job pid=(\d+)\)", out))
    assert len(workers) == 2, "each of the two workers ran a seed"
    entries = {e["name"]: e for e in json.loads(results.read_text(encoding="utf-8"))}
    key = "agents: nvda_tsla tools smollm2:135m (2 seeds)"
    assert "kept: an earlier entry" in entries
    assert {f"{key}: {label}" for label in ("success", "chart written", "median wall time", "median turns")} <= set(
        entries
    )
    # smollm2's forced tool call always draws the chart: both seeds succeed, as in a local run.
    assert entries[f"{key}: success"]["value"] == 1.0
