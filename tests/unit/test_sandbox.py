"""The sandbox for model-written code, exercised for real: the launcher, Landlock, the process tree, the environment."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integrations import sandbox

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Landlock and /proc are Linux's")
needs_landlock = pytest.mark.skipif(sandbox.landlock_abi() < 1, reason="this kernel offers no Landlock")

# Starts a detached sleep (new session), a forked child, and a daemon (double fork, setsid) whose
# parent is gone; each notes its pid in pids.txt. Then (when STAY) waits far beyond any timeout.
SPAWNER = """
import os, subprocess, time
def note(pid):
    with open("pids.txt", "a") as f:
        f.write(f"{pid}\\n")
note(subprocess.Popen(["sleep", "60"], start_new_session=True).pid)
if os.fork() == 0:
    note(os.getpid())
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            note(os.getpid())
            time.sleep(60)
        os._exit(0)
    time.sleep(60)
    os._exit(0)
while len(open("pids.txt").read().split()) < 3:
    time.sleep(0.05)
if STAY:
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie waiting to be reaped does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


@needs_landlock
def test_a_write_outside_the_work_dir_fails_and_no_file_appears(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    code = "open('../../escape.txt', 'w').write('out')\n"
    result = sandbox.run_block(code, "python", work, timeout=20)
    assert result.exit_code == 1
    # Read-only mounts answer first where user namespaces exist (EROFS), Landlock elsewhere (EACCES).
    assert "Read-only file system" in result.output or "Permission denied" in result.output
    assert not (tmp_path / "escape.txt").exists()


@needs_landlock
def test_writes_inside_the_work_dir_and_its_tmp_succeed(tmp_path: Path) -> None:
    code = (
        "import os, tempfile, pathlib\n"
        "pathlib.Path('sub').mkdir(); pathlib.Path('sub/x.txt').write_text('in')\n"
        "os.rename('sub/x.txt', 'y.txt')\n"
        "fd, name = tempfile.mkstemp(); os.write(fd, b't'); print(name)\n"
        "open(os.devnull, 'w').write('discarded')\n"
    )
    result = sandbox.run_block(code, "python", tmp_path, timeout=20)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "y.txt").read_text() == "in"
    assert Path(result.output.strip()).parent == tmp_path / ".tmp"


@needs_landlock
def test_home_is_in_the_work_dir_and_writes_there_escape_nothing(tmp_path: Path) -> None:
    code = "import os, pathlib\np = pathlib.Path.home() / '.config' / 'x'\np.parent.mkdir(parents=True)\np.write_text('1')\nprint(p)"
    result = sandbox.run_block(code, "python", tmp_path, timeout=20)
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()) == tmp_path / ".home" / ".config" / "x"


@needs_landlock
def test_subprocesses_inherit_the_confinement(tmp_path: Path) -> None:
    target = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    code = f"import subprocess\nprint(subprocess.run(['sh', '-c', 'echo x > {target}'], capture_output=True, text=True).stderr)"
    result = sandbox.run_block(code, "python", tmp_path, timeout=20)
    assert "Read-only file system" in result.output or "Permission denied" in result.output
    assert not target.exists()


@needs_landlock
def test_the_confined_code_cannot_signal_the_launcher(tmp_path: Path) -> None:
    if sandbox.landlock_abi() < 6:
        pytest.skip("signal scoping needs Landlock ABI 6")
    code = "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept PermissionError as e:\n    print('denied', e.errno)"
    result = sandbox.run_block(code, "python", tmp_path, timeout=20)
    assert result.exit_code == 0 and "denied 1" in result.output, result.output


@pytest.mark.parametrize("language", ["sh", "bash", "shell", "console"])
def test_shell_blocks_are_refused_and_not_run(tmp_path: Path, language: str) -> None:
    marker = tmp_path / "ran.txt"
    result = sandbox.run_block(f"touch {marker}", language, tmp_path, timeout=5)
    assert result.exit_code == 1
    assert f"{language} blocks are not run" in result.output and "```python" in result.output
    assert not marker.exists()
    assert result.code_file is None


def test_unknown_languages_are_refused(tmp_path: Path) -> None:
    result = sandbox.run_block("print(1)", "ruby", tmp_path, timeout=5)
    assert result.exit_code == 1 and "unknown language 'ruby'" in result.output


def test_the_environment_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-sentinel-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-openai")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-sentinel")
    monkeypatch.setenv("OLLAMA_HOST", "http://u:pw@host:1")
    monkeypatch.setenv("HTTPS_PROXY", "http://user:proxy-pw@proxy:3128")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    result = sandbox.run_block("import os, json\nprint(json.dumps(dict(os.environ)))", "python", tmp_path, timeout=20)
    assert result.exit_code == 0, result.output
    import json

    env = json.loads(result.output)
    assert "sentinel" not in result.output and "proxy-pw" not in result.output and "pw@" not in result.output
    assert not [name for name in env if name.startswith("OLLAMA_") or name.endswith(("_KEY", "_TOKEN", "_PROXY"))]
    assert env["HOME"] == str(tmp_path / ".home") and env["TMPDIR"] == str(tmp_path / ".tmp")
    assert env["MPLBACKEND"] == "Agg" and env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


@linux_only
def test_a_timeout_kills_every_process_the_code_started(tmp_path: Path) -> None:
    started = time.monotonic()
    result = sandbox.run_block("STAY = True\n" + SPAWNER, "python", tmp_path, timeout=3)
    elapsed = time.monotonic() - started
    assert result.exit_code == sandbox.TIMEOUT_EXIT and result.timed_out
    assert "Timeout" in result.output
    assert elapsed < 3 + 2, elapsed
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert len(pids) == 3  # the sleep, the forked child, the daemon
    assert not [pid for pid in pids if alive(pid)]


@linux_only
def test_processes_left_behind_by_a_finished_block_are_killed(tmp_path: Path) -> None:
    result = sandbox.run_block("STAY = False\n" + SPAWNER, "python", tmp_path, timeout=30)
    assert result.exit_code == 0, result.output
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert not [pid for pid in pids if alive(pid)]


def test_exit_codes_and_output_come_back(tmp_path: Path) -> None:
    result = sandbox.run_block(
        "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)", "python", tmp_path, timeout=20
    )
    assert result.exit_code == 3 and "out" in result.output and "err" in result.output
    assert result.code_file is not None and result.code_file.parent == tmp_path.resolve()


def test_huge_output_is_cut(tmp_path: Path) -> None:
    result = sandbox.run_block("print('x' * 1_000_000)", "python", tmp_path, timeout=20)
    assert result.exit_code == 0
    assert len(result.output) < sandbox.MAX_OUTPUT + 200 and "output cut" in result.output


def test_blocks_stop_at_the_first_failure(tmp_path: Path) -> None:
    blocks = [("python", "print('one')"), ("sh", "echo two"), ("python", "print('three')")]
    result = sandbox.run_blocks(blocks, tmp_path, timeout=20)
    assert result.exit_code == 1 and "one" in result.output and "three" not in result.output


@needs_landlock
def test_restrict_writes_confines_the_calling_process(tmp_path: Path) -> None:
    allowed, denied = tmp_path / "allowed", tmp_path / "denied"
    allowed.mkdir()
    denied.mkdir()
    script = (
        "import sys\nsys.path.insert(0, sys.argv[1])\nimport sandbox\n"
        f"sandbox.restrict_writes([{str(allowed)!r}])\n"
        f"open({str(allowed / 'ok')!r}, 'w').write('1')\n"
        f"try:\n    open({str(denied / 'no')!r}, 'w')\nexcept PermissionError as e:\n    print('EACCES', e.errno)\n"
        f"print(open({str(denied.parent / 'allowed' / 'ok')!r}).read())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(sandbox.__file__).parent)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["EACCES", "13", "1"]
    assert not (denied / "no").exists()


def _kernel_landlock_abi() -> int:
    """The kernel's answer, asked here without the sandbox's code: landlock_create_ruleset(NULL, 0, VERSION)."""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "aarch64"):
        return -1  # the syscall number below is these architectures'
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    answer = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(answer), 0)


def test_confinement_reports_what_this_machine_offers() -> None:
    found = sandbox.confinement()
    expected = _kernel_landlock_abi()
    if expected >= 0:
        assert found.landlock_abi == expected
    assert found.process_tree == (sys.platform.startswith("linux") and Path("/proc/self/stat").exists())
    text = found.describe(Path("/w"), 60)
    assert "/w" in text and "60 s" in text and "sh/bash blocks are refused" in text
    assert ("writes outside /w fail" in text) == found.writes


def test_no_landlock_says_so_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    found = sandbox.confinement()
    assert not found.writes and not found.complete
    assert "NOTHING stops it reading or writing outside /w" in found.describe(Path("/w"), 60)


def test_the_sandbox_module_is_framework_free() -> None:
    code = (
        "import sys, integrations.sandbox\n"
        "bad = [m for m in ('autogen', 'autogen_core', 'autogen_ext', 'openai', 'pydantic') if m in sys.modules]\n"
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@linux_only
def test_cancelling_an_async_block_kills_it_and_all_it_started(tmp_path: Path) -> None:
    import asyncio

    async def go() -> None:
        task = asyncio.ensure_future(sandbox.run_block_async("STAY = True\n" + SPAWNER, "python", tmp_path, timeout=60))
        pids = tmp_path / "pids.txt"
        while not (pids.exists() and len(pids.read_text().split()) == 3):
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - started < 20
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert not [pid for pid in pids if alive(pid)]


def test_each_missing_feature_is_named_and_makes_confinement_incomplete() -> None:
    full = sandbox.Confinement(landlock_abi=7, process_tree=True, seccomp=True)
    assert full.complete and full.missing() == []
    cases = {
        sandbox.Confinement(landlock_abi=3, process_tree=True, seccomp=True): "Landlock ABI 4",
        sandbox.Confinement(landlock_abi=7, process_tree=True, seccomp=False): "seccomp",
        sandbox.Confinement(landlock_abi=0, process_tree=True, seccomp=True): "Landlock (Linux 5.13+)",
        sandbox.Confinement(landlock_abi=7, process_tree=False, seccomp=True): "subreaper",
    }
    for found, named in cases.items():
        assert not found.complete
        text = found.describe(Path("/w"), 60)
        assert "missing on this system:" in text and named in text, text


def test_the_description_is_exact_about_network_metadata_and_limits() -> None:
    limits = sandbox.Limits(memory=256 * 1024**2, cpu_seconds=5, processes=10, file_size=1024**2, output=4096)
    found = sandbox.Confinement(landlock_abi=3, process_tree=True, seccomp=False, limits=limits)
    text = found.describe(Path("/w"), 60)
    assert "the NETWORK and local sockets are NOT confined" in text
    assert "NOTHING stops chmod, chown, utime or xattr changes" in text
    assert "256 MiB of memory, 5 s of CPU, files up to 1 MiB; 10 more processes; output kept up to 4 KiB" in text
    as_root = dataclasses.replace(found, root=True).describe(Path("/w"), 60)
    assert "no process-count limit (run as root, and no pids cgroup can be made here)" in as_root
    with_cgroup = dataclasses.replace(found, root=True, process_cgroup=True).describe(Path("/w"), 60)
    assert "10 processes (a pids cgroup)" in with_cgroup
    opened = sandbox.Confinement(landlock_abi=7, process_tree=True, seccomp=True, network_allowed=True)
    assert opened.complete and "NETWORK IS OPEN" in opened.describe(Path("/w"), 60)
    assert "Unix sockets refused" in opened.describe(Path("/w"), 60)


@pytest.mark.parametrize("field", ["memory", "processes", "file_size", "output", "cpu_seconds"])
def test_limits_must_be_positive_integers(field: str) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field} must be a positive integer"):
        sandbox.Limits(**{field: 0})


def test_the_home_directory_is_never_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    env = {"PYTHONPATH": os.pathsep.join([str(home), str(tmp_path), "/", str(home / "lib")])}
    readable = sandbox.readable_paths(tmp_path / "work", env=env)
    assert str(home) not in readable and str(tmp_path) not in readable and "/" not in readable
    assert str(home / "lib") in readable and str(tmp_path / "work") in readable
    assert "/etc/shadow" not in readable and "/etc/ssh" not in readable


@pytest.mark.skipif(not sandbox.seccomp_supported(), reason="seccomp filters are written for Linux x86-64 and arm64")
def test_the_seccomp_fallback_refuses_metadata_changes_and_sockets(tmp_path: Path) -> None:
    """Where user namespaces are not allowed, seccomp refuses metadata changes (everywhere) and every socket."""
    target = tmp_path / "f.txt"
    target.write_text("x")
    target.chmod(0o600)
    script = (
        "import os, socket, sys\nsys.path.insert(0, sys.argv[1])\nimport sandbox\n"
        "sandbox.deny_metadata_and_sockets()\n"
        "for attempt in (lambda: os.chmod(sys.argv[2], 0o777), lambda: os.utime(sys.argv[2]), socket.socket):\n"
        "    try:\n        attempt()\n        print('allowed')\n    except OSError as e:\n        print(e.errno)\n"
        "a, b = socket.socketpair()\nprint('socketpair')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(sandbox.__file__).parent), str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1", "13", "socketpair"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
