"""The pytest plugin's model choice (option, environment, default) and its ``decider`` marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = '''
import pytest

def test_model(ollama_model):
    print("MODEL=" + ollama_model)

@pytest.mark.decider
def test_marked():
    pass
'''


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    (tmp_path / "test_probe.py").write_text(PROBE)
    environ = {k: v for k, v in os.environ.items() if k != "OLLAMA_INTEGRATIONS_TEST_MODEL"}
    environ.update(env or {}, PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "integrations.pytest_plugin", "-q", "-s", "--strict-markers",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *args, str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {}, "smollm2:135m"),
        ((), {"OLLAMA_INTEGRATIONS_TEST_MODEL": "qwen2.5-coder:1.5b"}, "qwen2.5-coder:1.5b"),
        (("--ollama-model", "qwen2.5-coder:0.5b"), {"OLLAMA_INTEGRATIONS_TEST_MODEL": "other:1b"},
         "qwen2.5-coder:0.5b"),
    ],
)
def test_the_test_model_can_be_chosen(tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str):
    out = _run(tmp_path, *args, env=env)
    assert f"MODEL={expected}\n" in out and "2 passed" in out  # the decider marker passes --strict-markers


def test_decider_tests_can_be_selected(tmp_path: Path):
    out = _run(tmp_path, "-m", "decider")
    assert "1 passed, 1 deselected" in out
