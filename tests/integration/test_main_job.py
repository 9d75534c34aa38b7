"""The README's main-job command, as a user runs it: a subprocess, no Ollama, a chart at the end.

The command is run with ``--model smollm2:135m``, the fast path for CI (the 135M test double
in tools mode always ends with a chart); without it the main job pulls qwen2.5-coder:1.5b and
runs the code-writing flow, whose success rate is a benchmark figure, not a test
(benchmarks/agents.py). tests/unit/examples/test_nvda_tsla.py checks
what the command resolves to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.plumbing  # the test model calls the chart tool by rule (its own server, not watched by conftest)
def test_run_nvda_tsla_embedded(ollama_server: Any, tmp_path: Path) -> None:
    # ollama_server is not used directly: requesting it skips this test where the embedded extra is missing.
    command = shutil.which("ollama-integrations")
    args = [command] if command else [sys.executable, "-m", "integrations"]
    env = {**os.environ, "OLLAMA_INTEGRATIONS_MODELS_DIR": str(tmp_path / "models")}
    env.pop("OLLAMA_HOST", None)
    done = subprocess.run(
        # The README's main-job command, with the CI fast path.
        [*args, "run", "nvda-tsla", "--embedded", "--model", "smollm2:135m"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "embedded Ollama-compatible server on http://127.0.0.1:" in output
    match = re.search(r"chart: (\S+\.png)", output)
    assert match, output[-3000:]
    chart = Path(match.group(1))
    assert chart.is_relative_to(tmp_path / "coding"), "outputs go to the work directory under the current one"
    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1024

