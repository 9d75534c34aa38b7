"""The code agents the code-writing examples use confine model-written code; the examples say so, and ask where they cannot.

Each test goes through the library helpers the examples are built on (AG2's
``code_user_proxy``, AgentChat's ``code_team``) with real runs, so it fails if the helpers
go back to an unconfined executor.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations import sandbox
from integrations.agentchat import code_team
from integrations.autogen import code_user_proxy
from integrations.coding import CodeLoop

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Landlock and /proc are Linux's")
needs_landlock = pytest.mark.skipif(sandbox.landlock_abi() < 1, reason="this kernel offers no Landlock")

Runner = Callable[[Path, str, str, int], Any]  # (work_dir, language, code, timeout) -> result with exit_code, output


@dataclass
class Outcome:
    exit_code: int | None  # None: nothing ran
    output: str  # what ran printed, or what the model was told instead


def _outcome(loop: CodeLoop, said: str | None) -> Outcome:
    if loop.runs:
        return Outcome(loop.runs[-1].exit_code, loop.runs[-1].output)
    return Outcome(None, said or "")


def run_ag2(work_dir: Path, language: str, code: str, timeout: int) -> Any:
    loop = CodeLoop(work_dir, task="Run the program.", timeout=timeout, max_replies=2)
    proxy = code_user_proxy(loop)
    said = proxy.generate_reply(messages=[{"role": "user", "content": f"```{language}\n{code}\n```"}])
    return _outcome(loop, said if isinstance(said, str) else None)


def run_agentchat(work_dir: Path, language: str, code: str, timeout: int) -> Any:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient([f"```{language}\n{code}\n```"])
    team = code_team(work_dir=work_dir, timeout=timeout, max_replies=1, client=client)
    outcome = asyncio.run(team.run(task="Run the program."))
    return _outcome(team.code_loop, outcome.messages[-1].to_text())


RUNNERS = [pytest.param(run_ag2, id="ag2"), pytest.param(run_agentchat, id="agentchat")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


@needs_landlock
@pytest.mark.parametrize("run", RUNNERS)
def test_generated_code_cannot_write_outside_the_work_dir(tmp_path: Path, run: Runner) -> None:
    work = tmp_path / "coding" / "run"
    work.mkdir(parents=True)
    outcome = run(work, "python", "open('../../escape.txt', 'w').write('escaped')", 30)
    assert outcome.exit_code != 0 and "Permission denied" in outcome.output
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("run", RUNNERS)
def test_shell_blocks_are_refused(tmp_path: Path, run: Runner) -> None:
    outcome = run(tmp_path, "sh", f"echo ran > {tmp_path / 'ran.txt'}", 30)
    assert outcome.exit_code is None, "nothing ran"
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize("run", RUNNERS)
def test_generated_code_sees_no_api_key(tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-sentinel-ollama")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-openai")
    outcome = run(tmp_path, "python", "import os, json\nprint(json.dumps(dict(os.environ)))", 30)
    assert outcome.exit_code == 0, outcome.output
    env = json.loads(outcome.output.strip().splitlines()[-1])
    assert "OLLAMA_API_KEY" not in env and "OPENAI_API_KEY" not in env
    assert "sentinel" not in outcome.output


@linux_only
@pytest.mark.parametrize("run", RUNNERS)
def test_forked_and_detached_processes_are_gone_after_the_timeout(tmp_path: Path, run: Runner) -> None:
    code = (
        "import os, subprocess, time\n"
        "sleeper = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "open('pids.txt', 'w').write(f'{sleeper.pid} {child}')\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    outcome = run(tmp_path, "python", code, 2)
    assert time.monotonic() - started < 2 + 3
    assert outcome.exit_code == sandbox.TIMEOUT_EXIT
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert len(pids) == 2 and not [pid for pid in pids if alive(pid)]


def _no_landlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as an old kernel would be: the probe answers 0, the sandbox runs without Landlock."""
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)


def test_the_code_loop_warns_where_writes_are_not_confined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_landlock(monkeypatch)
    with pytest.warns(sandbox.UnconfinedWarning, match="NOTHING stops it writing outside"):
        CodeLoop(tmp_path, timeout=5)


@needs_landlock
def test_the_code_loop_does_not_warn_where_writes_are_confined(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    CodeLoop(tmp_path, timeout=5)
    assert not [w for w in recwarn if issubclass(w.category, sandbox.UnconfinedWarning)]


CODE_EXAMPLES = [
    pytest.param("nvda_tsla", ["--mode", "code"], id="nvda_tsla"),
    pytest.param("nvda_tsla_agentchat", [], id="nvda_tsla_agentchat"),
    pytest.param("group_chat", [], id="group_chat"),
]


def _main(name: str, args: list[str], tmp_path: Path) -> int:
    # A closed port: the example stops at its first request to the model, after the consent step.
    argv = ["--host", "127.0.0.1:9", "--model", "m", "--work-dir", str(tmp_path), "--offline", *args]
    return int(importlib.import_module(name).main(argv))


@pytest.mark.parametrize(("name", "args"), CODE_EXAMPLES)
def test_without_confinement_the_example_refuses_unless_told_yes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    args: list[str],
) -> None:
    _no_landlock(monkeypatch)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal to ask
    assert _main(name, args, tmp_path) == 2
    out = capsys.readouterr()
    assert f"NOTHING stops it writing outside {tmp_path}" in out.out
    assert "add --yes" in out.err and "Ollama is not reachable" not in out.err  # it stopped before any request

    code = _main(name, [*args, "--yes"], tmp_path)
    out = capsys.readouterr()
    assert code == 2 and "--yes: running it anyway" in out.out
    assert "not reachable" in out.err  # it went on to the model


@pytest.mark.parametrize(("name", "args"), CODE_EXAMPLES)
def test_a_terminal_user_is_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    args: list[str],
) -> None:
    _no_landlock(monkeypatch)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert _main(name, args, tmp_path) == 2
    assert "[y/N]" in capsys.readouterr().out


@needs_landlock
@pytest.mark.parametrize(("name", "args"), CODE_EXAMPLES)
def test_with_confinement_the_example_says_what_is_confined_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, args: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert _main(name, args, tmp_path) == 2
    out = capsys.readouterr()
    assert f"Model-written Python runs in {tmp_path}" in out.out and f"writes outside {tmp_path} fail" in out.out
    assert "not reachable" in out.err and "--yes" not in out.err


EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_")))
def test_every_example_accepts_yes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        importlib.import_module(name).main(["--yes", "--help"])
    assert exited.value.code == 0 and "--yes" in capsys.readouterr().out
