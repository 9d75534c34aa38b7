"""``benchmarks/agents.py --tasks`` end to end on the embedded server: the machinery, not a model's skill.

The 135M test model cannot solve the tasks; this checks what every benchmark figure rests on:
inputs staged, one child process per run in its own work directory, the run's ending recorded,
the checker's verdict printed, the table written, results merged into the named file with the
other entries kept, and the printed lines enough to rebuild the table (``--from-log``).
The success shares themselves are benchmark figures (on the 1.5B), not test outcomes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "agents.py"
ENDINGS = {"terminate", "terminate-with-code", "max-replies", "chat-ended"}


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.slow
@pytest.mark.plumbing
def test_tasks_benchmark_records_every_run(ollama_server: Any, ollama_model: str, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    kept = {"name": "another benchmark's figure", "value": 1, "unit": "x", "baseline": None, "target": "-", "met": True}
    results.write_text(json.dumps([kept]))
    logs = tmp_path / "logs"

    done = bench(
        "--tasks", "squares", "csv_filter", "--seeds", "1", "--models", ollama_model, "--approaches", "ag2-default",
        "--max-turns", "2", "--max-tokens", "48", "--timeout", "20", "--run-cap", "90",
        "--host", ollama_server.url, "--results", str(results), "--run-logs", str(logs),
    )  # fmt: skip

    out = done.stdout
    assert done.returncode == 0, (out + done.stderr)[-3000:]
    runs = [line for line in out.splitlines() if line.startswith("task ")]
    assert [line.split()[1] for line in runs] == ["squares", "csv_filter"], out
    for line in runs:
        match = re.search(r"seed  1: (ok  |FAIL)\s+[\d.]+s replies=(\d) (\S+) \| (.+)$", line)
        assert match, line
        assert 1 <= int(match.group(2)) <= 2 and match.group(3) in ENDINGS, line
        assert match.group(1) == "ok  " or "paris.txt" in match.group(4) or "squares.txt" in match.group(4), line
    row = f"| ag2-default | {ollama_model} | 2 x 1 | "
    assert any(line.startswith(row) for line in out.splitlines()), out

    entries = json.loads(results.read_text())
    assert entries[0] == kept
    names = [e["name"] for e in entries[1:]]
    key = f"agents tasks: ag2-default {ollama_model} (2 tasks x 1 seeds)"
    assert names == [f"{key}: success", f"{key}: median wall time", f"{key}: median model replies"]
    assert 0 <= entries[1]["value"] <= 1 and entries[1]["target"] == "informative"

    transcripts = sorted(p.name for p in logs.iterdir())
    assert transcripts == [
        f"{t}-ag2-default-{ollama_model.replace(':', '_')}-seed1.log" for t in ("csv_filter", "squares")
    ]
    assert "people.csv has columns name, age and city" in (logs / transcripts[0]).read_text()

    log = tmp_path / "bench.log"
    log.write_text(out)
    again = bench("--tasks", "--from-log", str(log), "--no-write")
    assert again.returncode == 0, again.stderr[-2000:]
    assert any(line.startswith(row) for line in again.stdout.splitlines()), again.stdout
