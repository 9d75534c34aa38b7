"""Every example keeps the contract the CLI relies on: a summary line, main(argv), the common flags."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
NAMES = sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))
COMMON_FLAGS = ("--model", "--host", "--profile", "--max-turns", "--work-dir", "--max-tokens", "--seed")


def test_the_six_examples_are_there() -> None:
    expected = {
        "nvda_tsla",
        "nvda_tsla_agentchat",
        "group_chat",
        "tool_calling",
        "langchain_pipeline",
        "openai_quickstart",
    }
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_contract(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(name)
    doc = inspect.getdoc(module) or ""
    summary = doc.splitlines()[0]
    assert summary.endswith(".") and len(summary) <= 120, summary
    assert "pip install" in doc and "ollama-integrations run" in doc and f"examples/{name}.py" in doc
    assert list(inspect.signature(module.main).parameters) == ["argv"]
    with pytest.raises(SystemExit) as exited:
        module.main(["--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert all(flag in usage for flag in COMMON_FLAGS), usage


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_as_a_script(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / f"{name}.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and all(flag in done.stdout for flag in COMMON_FLAGS), done.stdout


def test_settings_flags_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import _common

    monkeypatch.setenv("OLLAMA_INTEGRATIONS_MODEL", "qwen2.5-coder:7b")
    args = _common.parser("x.").parse_args(["--seed", "7"])
    settings = _common.settings_from(args, default_model="codellama")
    assert settings.model == "qwen2.5-coder:7b" and settings.seed == 7 and settings.max_tokens is None
    monkeypatch.delenv("OLLAMA_INTEGRATIONS_MODEL")
    assert _common.settings_from(args, default_model="codellama").model == "codellama"
    flagged = _common.parser("x.").parse_args(["--model", "llama3.2"])
    assert _common.settings_from(flagged, default_model="codellama").model == "llama3.2"


def test_default_work_dir_is_new_and_under_coding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import _common

    monkeypatch.chdir(tmp_path)
    made = _common.work_dir(None, "nvda_tsla")
    assert made.is_dir() and made.parent == tmp_path / "coding" and made.name.startswith("nvda_tsla-")
