"""Confinement for model-written code: an allow-listed environment, a kill that reaches every process, and Landlock.

Each code block runs through a small launcher (``python -I sandbox.py --write DIR -- CMD``)
in a new session. The launcher makes itself a child subreaper, so nothing the code starts
(forked, daemonised, ``setsid``) can leave its process tree; it forks the command, which on
Linux restricts itself with Landlock (writes only under the work directory and
``/dev/null``; signals and abstract sockets only inside its own domain) and sets
``no_new_privs`` before ``exec``. When the command exits or the timeout passes, the
launcher kills every process left in its tree. Reads and the network are not confined.

Pure standard library: importable without any framework, runnable as a file.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import hashlib
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "LAUNCHER",
    "PYTHON_LANGUAGES",
    "SHELL_LANGUAGES",
    "BlockResult",
    "ConfinedCodeExecutor",
    "Confinement",
    "UnconfinedWarning",
    "child_environment",
    "confinement",
    "landlock_abi",
    "restrict_writes",
    "run_block",
    "run_block_async",
    "run_blocks",
    "run_blocks_async",
]

LAUNCHER = Path(__file__).resolve()
"""This file; run by path with ``python -I``, so the launcher needs no installed package."""

PYTHON_LANGUAGES = frozenset({"python", "python3", "py"})
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "zsh", "console", "powershell", "ps1", "pwsh"})
TIMEOUT_EXIT = 124  # what coreutils' timeout(1) and Autogen's executors return
MAX_OUTPUT = 64 * 1024  # characters of output handed back to the model; the rest is cut, with a note
_GRACE = 10.0  # seconds the caller waits beyond the timeout for the launcher to clean up


class UnconfinedWarning(UserWarning):
    """Model-written code will run without write confinement on this machine."""


# ---------------------------------------------------------------- Landlock (Linux)

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every Linux architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36

# Access rights (linux/landlock.h). Reads and execution are never handled, so they stay allowed.
_WRITE_FILE = 1 << 1
_REMOVE_DIR, _REMOVE_FILE = 1 << 4, 1 << 5
_MAKE_CHAR, _MAKE_DIR, _MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << n for n in range(6, 13))
_REFER = 1 << 13  # ABI 2: link or rename across directories
_TRUNCATE = 1 << 14  # ABI 3
_FILE_RIGHTS = _WRITE_FILE | _TRUNCATE  # the write rights a rule on a single file may carry
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4
        ("scoped", ctypes.c_uint64),  # ABI 6
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers to unprivileged processes; 0 when none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(
            _SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
        )
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _write_rights(abi: int) -> int:
    rights = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_CHAR | _MAKE_DIR | _MAKE_REG
    rights |= _MAKE_SOCK | _MAKE_FIFO | _MAKE_BLOCK | _MAKE_SYM
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def restrict_writes(writable: Iterable[str | os.PathLike[str]]) -> int:
    """Confine this process and its future children: writes succeed only beneath ``writable``.

    Sets ``no_new_privs`` (Landlock requires it of unprivileged callers) and, from ABI 6,
    scopes signals and abstract Unix sockets to the new domain, so the confined code
    cannot signal the launcher that will kill it. Returns the ABI used; raises `OSError`
    when the kernel offers no Landlock. Irreversible: call it in the process to confine.
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available on this kernel (Linux 5.13 or newer, with Landlock enabled)")
    libc = _libc()
    handled = _write_rights(abi)
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(handled_access_fs=handled, handled_access_net=0, scoped=scoped)
    ruleset = _check(
        libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    try:
        for path in writable:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                rule = _PathBeneathAttr(allowed_access=handled if is_dir else handled & _FILE_RIGHTS, parent_fd=fd)
                _check(
                    libc.syscall(
                        _SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), 0
                    ),
                    f"landlock_add_rule({os.fspath(path)})",
                )
            finally:
                os.close(fd)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


@dataclasses.dataclass(frozen=True)
class Confinement:
    """What this machine can confine, for the notice shown before model-written code runs."""

    landlock_abi: int
    process_tree: bool  # a child subreaper: detached descendants are killed too

    @property
    def writes(self) -> bool:
        return self.landlock_abi >= 1

    @property
    def complete(self) -> bool:
        """Writes confined and every descendant killed: no consent needed."""
        return self.writes and self.process_tree

    def describe(self, work_dir: Path, timeout: float) -> str:
        """One paragraph for the user: what is confined here, and what is not."""
        kill = "with every process it started"
        if not self.process_tree:
            kill = "with its process group (a process that leaves the group survives)"
        parts = [f"Model-written Python runs in {work_dir}, killed after {timeout:g} s {kill}"]
        parts.append("its environment carries no API keys, tokens or OLLAMA_* variables")
        if self.writes:
            parts.append(f"writes outside {work_dir} fail (Landlock ABI {self.landlock_abi})")
        else:
            parts.append(f"NOTHING stops it writing outside {work_dir} (no Landlock on this system)")
        parts.append("reads and the network are not confined; sh/bash blocks are refused")
        return "; ".join(parts) + "."


def confinement() -> Confinement:
    """Probe the kernel for what `run_block` can enforce here."""
    linux = sys.platform.startswith("linux")
    return Confinement(landlock_abi=landlock_abi(), process_tree=linux and Path("/proc/self/stat").exists())


# ---------------------------------------------------------------- the environment

_PASSED = ("LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH")


def child_environment(
    work_dir: Path, *, python: str | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of model-written code: an allow-list, never a copy of ours.

    Only locale, time zone, terminal, ``PYTHONPATH`` (so the interpreter finds what the
    user installed that way) and ``PATH`` (with the interpreter's directory first) come
    from ``base``; HOME and every temporary directory point into ``work_dir``. API keys,
    tokens, proxies (which may carry passwords) and ``OLLAMA_*`` never pass.
    """
    source = os.environ if base is None else base
    home, tmp = work_dir / ".home", work_dir / ".tmp"
    bin_dir = str(Path(python or sys.executable).parent)
    path = [bin_dir, *(p for p in source.get("PATH", os.defpath).split(os.pathsep) if p and p != bin_dir)]
    env = {name: source[name] for name in _PASSED if name in source}
    env.update({name: value for name, value in source.items() if name.startswith("LC_")})
    env.update(
        {
            "PATH": os.pathsep.join(path),
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "TMP": str(tmp),
            "TEMP": str(tmp),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
            "MPLBACKEND": "Agg",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


# ---------------------------------------------------------------- running one block


@dataclasses.dataclass(frozen=True)
class BlockResult:
    """How a code block (or a run of blocks) ended."""

    exit_code: int
    output: str
    code_file: Path | None = None
    timed_out: bool = False


def _refusal(language: str) -> BlockResult | None:
    lang = language.strip().lower()
    if lang in PYTHON_LANGUAGES:
        return None
    if lang in SHELL_LANGUAGES:
        message = (
            f"{lang} blocks are not run here: only Python runs, confined to the work directory. "
            "Write the whole program as one ```python block (and do not install packages)."
        )
    else:
        message = f"unknown language {language!r}: only ```python blocks are run here."
    return BlockResult(exit_code=1, output=message)


def _code_file(work_dir: Path, code: str) -> Path:
    """Named by content, always inside ``work_dir`` (a model-chosen file name could point anywhere)."""
    path = work_dir / f"code_{hashlib.sha256(code.encode()).hexdigest()[:16]}.py"
    path.write_text(code, encoding="utf-8")
    return path


def _command(code_file: Path, work_dir: Path, timeout: float, python: str, confine: bool) -> list[str]:
    writable = ["--write", str(work_dir), "--write", os.devnull] if confine else []
    return [
        sys.executable, "-I", str(LAUNCHER), *writable, "--timeout", f"{timeout:g}", "--", python, str(code_file)
    ]


def _prepare(work_dir: Path) -> Path:
    work_dir = work_dir.resolve()
    for sub in (".home", ".tmp"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    return work_dir


def _read_output(handle: IO[bytes]) -> str:
    handle.seek(0)
    data = handle.read(MAX_OUTPUT * 4 + 1).decode("utf-8", errors="replace")
    extra = os.fstat(handle.fileno()).st_size
    if len(data) > MAX_OUTPUT:
        return data[:MAX_OUTPUT] + f"\n[output cut: {extra} bytes in all; print less]"
    return data


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the launcher to clean up (SIGTERM), then kill its whole group if it has not gone within 3 s."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclasses.dataclass
class _Launch:
    process: subprocess.Popen[bytes]
    output: IO[bytes]
    code_file: Path
    deadline: float

    def finish(self, exit_code: int | None) -> BlockResult:
        text = _read_output(self.output)
        self.output.close()
        if exit_code is None:  # the launcher itself overran: it was killed with its group
            exit_code = TIMEOUT_EXIT
            text += "\nTimeout: the code and every process it started were stopped."
        return BlockResult(exit_code, text, self.code_file, timed_out=exit_code == TIMEOUT_EXIT)


def _launch(
    code: str, language: str, work_dir: Path, timeout: float, python: str | None, confine: bool | None
) -> _Launch | BlockResult:
    refused = _refusal(language)
    if refused is not None:
        return refused
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    work_dir = _prepare(work_dir)
    python = python or sys.executable
    confine = confinement().writes if confine is None else confine
    code_file = _code_file(work_dir, code)
    # Output goes to a file outside the work dir: the code cannot rewrite its own log, and a
    # descendant holding the pipe open cannot keep us waiting.
    output = tempfile.TemporaryFile()  # noqa: SIM115  (closed by _Launch.finish, or below on failure)
    try:
        process = subprocess.Popen(
            _command(code_file, work_dir, timeout, python, confine),
            cwd=work_dir,
            env=child_environment(work_dir, python=python),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        output.close()
        raise
    return _Launch(process, output, code_file, time.monotonic() + timeout + _GRACE)


def run_block(
    code: str,
    language: str,
    work_dir: Path,
    *,
    timeout: float = 60,
    python: str | None = None,
    confine: bool | None = None,
) -> BlockResult:
    """Run one code block under the launcher and wait for it (``timeout`` seconds at most).

    ``confine`` None means: use Landlock when the kernel has it. Shell and unknown
    languages are refused with a message the model can act on.
    """
    launch = _launch(code, language, work_dir, timeout, python, confine)
    if isinstance(launch, BlockResult):
        return launch
    try:
        exit_code: int | None = launch.process.wait(max(launch.deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        _stop(launch.process)
        exit_code = None
    except BaseException:  # KeyboardInterrupt: leave nothing behind
        _stop(launch.process)
        launch.output.close()
        raise
    return launch.finish(exit_code)


async def run_block_async(
    code: str,
    language: str,
    work_dir: Path,
    *,
    timeout: float = 60,
    python: str | None = None,
    confine: bool | None = None,
) -> BlockResult:
    """`run_block` for event loops; cancelling the awaiting task kills the block and all it started."""
    import asyncio

    launch = _launch(code, language, work_dir, timeout, python, confine)
    if isinstance(launch, BlockResult):
        return launch
    try:
        while (exit_code := launch.process.poll()) is None and time.monotonic() < launch.deadline:
            await asyncio.sleep(0.02)
    except BaseException:  # cancelled
        _stop(launch.process)
        launch.output.close()
        raise
    if exit_code is None:
        _stop(launch.process)
    return launch.finish(exit_code)


def _joined(results: list[BlockResult]) -> BlockResult:
    files = [r.code_file for r in results if r.code_file is not None]
    last = results[-1] if results else BlockResult(0, "")
    output = "".join(r.output for r in results)
    return dataclasses.replace(last, output=output, code_file=files[0] if files else None)


def run_blocks(
    blocks: Sequence[tuple[str, str]], work_dir: Path, *, timeout: float = 60, python: str | None = None
) -> BlockResult:
    """Run ``(language, code)`` blocks in order, stopping at the first failure, as Autogen's executors do."""
    results: list[BlockResult] = []
    for language, code in blocks:
        results.append(run_block(code, language, work_dir, timeout=timeout, python=python))
        if results[-1].exit_code:
            break
    return _joined(results)


async def run_blocks_async(
    blocks: Sequence[tuple[str, str]], work_dir: Path, *, timeout: float = 60, python: str | None = None
) -> BlockResult:
    """`run_blocks` for event loops."""
    results: list[BlockResult] = []
    for language, code in blocks:
        results.append(await run_block_async(code, language, work_dir, timeout=timeout, python=python))
        if results[-1].exit_code:
            break
    return _joined(results)


class ConfinedCodeExecutor:
    """An AG2/Autogen classic code executor (``autogen.coding.CodeExecutor`` protocol) that uses `run_block`.

    Give it to a ``UserProxyAgent`` as ``code_execution_config={"executor": ...}``. Warns
    with `UnconfinedWarning` when this machine cannot confine writes.
    """

    def __init__(self, work_dir: Path, *, timeout: int = 60, python: str | None = None) -> None:
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 second, not {timeout!r}")
        self.work_dir = _prepare(Path(work_dir))
        self.timeout = timeout
        self.python = python
        self.confinement = confinement()
        if not self.confinement.complete:
            warnings.warn(self.confinement.describe(self.work_dir, timeout), UnconfinedWarning, stacklevel=2)

    @property
    def code_extractor(self) -> Any:
        from autogen.coding import MarkdownCodeExtractor

        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[Any]) -> Any:
        from autogen.coding.base import CommandLineCodeResult

        blocks = [(block.language, block.code) for block in code_blocks]
        result = run_blocks(blocks, self.work_dir, timeout=self.timeout, python=self.python)
        code_file = str(result.code_file) if result.code_file else None
        return CommandLineCodeResult(exit_code=result.exit_code, output=result.output, code_file=code_file)

    def restart(self) -> None:
        """Nothing to restart: every block runs in a fresh process."""


# ---------------------------------------------------------------- the launcher (runs as a script)


class _Stopped(Exception):
    pass


def _on_signal(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _descendants(root: int) -> list[int]:
    children = _proc_children()
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_tree(group: int, *, subreaper: bool) -> None:
    """Kill the command's process group, then (as subreaper) every descendant until none is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    if not subreaper:
        _reap()
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = _descendants(os.getpid())
        _reap()
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _wait(pid: int, timeout: float) -> int | None:
    """The command's wait status, or None when ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, 0.05))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _exec_confined(command: list[str], writable: list[str]) -> None:
    """In the forked child: own process group, Landlock, then exec. Never returns."""
    try:
        os.setpgid(0, 0)
        if writable:
            restrict_writes(writable)
        os.execvp(command[0], command)
    except BaseException as exc:  # report and leave: this is a forked copy of the launcher
        os.write(2, f"sandbox: cannot start {command[0]}: {exc}\n".encode())
        os._exit(126)


def main(argv: list[str] | None = None) -> int:
    """The launcher: fork the command confined, wait at most ``--timeout`` s, then kill all that is left."""
    parser = argparse.ArgumentParser(prog="sandbox", description=main.__doc__)
    parser.add_argument("--write", action="append", default=[], help="a directory or file that may be written")
    parser.add_argument("--timeout", type=float, required=True, help="seconds before everything is killed")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    if not hasattr(os, "fork"):
        print("sandbox: model-written code can only be run on Linux or macOS", file=sys.stderr)
        return 126
    subreaper = False
    if sys.platform.startswith("linux"):
        subreaper = _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    pid = os.fork()
    if pid == 0:
        _exec_confined(command, args.write)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    try:
        status = _wait(pid, args.timeout)
    except _Stopped as stopped:
        _kill_tree(pid, subreaper=subreaper)
        return 128 + int(stopped.args[0])
    _kill_tree(pid, subreaper=subreaper)
    if status is None:
        print(
            f"\nTimeout: the code ran longer than {args.timeout:g} s and was stopped, with every process it started.",
            file=sys.stderr,
        )
        return TIMEOUT_EXIT
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
