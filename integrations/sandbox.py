"""Confinement for model-written code, container-like without a container runtime.

Each code block runs through a small launcher (``python -I sandbox.py --write DIR --read
PATH ... -- CMD``) in a new session. The launcher makes itself a child subreaper, so nothing
the code starts (forked, daemonised, ``setsid``) can leave its process tree; it forks the
command, which on Linux confines itself before ``exec``, every layer unprivileged:

* resource limits (``setrlimit``): address space, CPU time, processes, file size;
* no capabilities (bounding set emptied, so even root's ``exec`` regains none), ``no_new_privs``;
* Landlock: reads and execution only beneath an allow-list (the interpreter, its
  libraries, system paths, the work dir; never the home directory or other processes'
  ``/proc``), writes only beneath the work dir and ``/dev/null``, no TCP bind or connect
  (ABI 4), signals and abstract sockets scoped to its own domain (ABI 6);
* seccomp: ``chmod``/``chown``/``utime``/xattr changes and ``socket()`` refused.

The launcher reads the command's output through a pipe and keeps at most a cap of it.
When the command exits or the timeout passes, it kills every process left in its tree.

Pure standard library: importable without any framework, runnable as a file.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import errno
import functools
import hashlib
import math
import os
import re
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
    "Limits",
    "UnconfinedWarning",
    "child_environment",
    "confinement",
    "deny_metadata_and_sockets",
    "drop_capabilities",
    "landlock_abi",
    "read_only_mounts",
    "readable_paths",
    "restrict",
    "restrict_writes",
    "run_block",
    "run_block_async",
    "run_blocks",
    "run_blocks_async",
    "seccomp_supported",
    "set_limits",
]

LAUNCHER = Path(__file__).resolve()
"""This file; run by path with ``python -I``, so the launcher needs no installed package."""

PYTHON_LANGUAGES = frozenset({"python", "python3", "py"})
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "zsh", "console", "powershell", "ps1", "pwsh"})
TIMEOUT_EXIT = 124  # what coreutils' timeout(1) and Autogen's executors return
MAX_OUTPUT = 64 * 1024  # characters of output handed back to the model; the rest is cut, with a note
_GRACE = 10.0  # seconds the caller waits beyond the timeout for the launcher to clean up


class UnconfinedWarning(UserWarning):
    """Model-written code will run without part of its confinement on this machine (`Confinement.missing`)."""


# ---------------------------------------------------------------- Landlock (Linux)

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every Linux architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36

# Access rights (linux/landlock.h).
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = (1 << n for n in range(4))
_REMOVE_DIR, _REMOVE_FILE = 1 << 4, 1 << 5
_MAKE_CHAR, _MAKE_DIR, _MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = (1 << n for n in range(6, 13))
_REFER = 1 << 13  # ABI 2: link or rename across directories
_TRUNCATE = 1 << 14  # ABI 3
_READ_RIGHTS = _EXECUTE | _READ_FILE | _READ_DIR
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE  # the rights a rule on a single file may carry
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
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


def _add_path_rule(libc: Any, ruleset: int, path: str | os.PathLike[str], rights: int, *, must_exist: bool) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        if must_exist:
            raise
        return
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        rule = _PathBeneathAttr(allowed_access=rights if is_dir else rights & _FILE_RIGHTS, parent_fd=fd)
        _check(
            libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), 0),
            f"landlock_add_rule({os.fspath(path)})",
        )
    finally:
        os.close(fd)


def restrict(
    writable: Iterable[str | os.PathLike[str]],
    readable: Iterable[str | os.PathLike[str]] | None = None,
    *,
    network: bool = True,
) -> int:
    """Confine this process and its future children with Landlock; returns the ABI used.

    Writes succeed only beneath ``writable``. With ``readable`` given, reads and
    execution succeed only beneath ``readable`` and ``writable`` (paths that do not
    exist are skipped). With ``network`` False (ABI 4+), every TCP bind and connect
    fails. From ABI 6, signals and abstract Unix sockets are scoped to the new domain,
    so the confined code cannot signal the launcher that will kill it. Sets
    ``no_new_privs`` (Landlock requires it of unprivileged callers). Raises `OSError`
    when the kernel offers no Landlock. Irreversible: call it in the process to confine.
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available on this kernel (Linux 5.13 or newer, with Landlock enabled)")
    libc = _libc()
    write = _write_rights(abi)
    handled = write | (_READ_RIGHTS if readable is not None else 0)
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 and not network else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(handled_access_fs=handled, handled_access_net=net, scoped=scoped)
    ruleset = _check(
        libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    try:
        for path in writable:
            _add_path_rule(libc, ruleset, path, handled, must_exist=True)
        for path in readable or ():
            _add_path_rule(libc, ruleset, path, _READ_RIGHTS, must_exist=False)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


def restrict_writes(writable: Iterable[str | os.PathLike[str]]) -> int:
    """Confine this process and its future children: writes succeed only beneath ``writable``.

    Reads and the network stay open; `restrict` confines those too.
    """
    return restrict(writable)


# ---------------------------------------------------------------- seccomp (Linux)

# A classic BPF filter on the system call number (and socket()'s family). seccomp cannot see
# paths, so metadata changes fail everywhere, the work dir included.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000
_METADATA_CALLS = {  # chmod, chown, utime and extended-attribute changes
    "x86_64": (90, 91, 92, 93, 94, 132, 235, 260, 261, 268, 280, 452, 188, 189, 190, 197, 198, 199, 463, 466),
    "aarch64": (52, 53, 54, 55, 88, 452, 5, 6, 7, 14, 15, 16, 463, 466),
}
_IO_URING_SETUP = 425  # io_uring has its own socket, connect and xattr operations, which seccomp cannot see
_SOCKET_CALL = {"x86_64": 41, "aarch64": 198}
_AF_UNIX = 1
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_SECCOMP_NR, _SECCOMP_ARCH, _SECCOMP_ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg 0's low half: little endian)


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def seccomp_supported() -> bool:
    """True where `deny_metadata_and_sockets` knows the system call numbers (Linux x86-64 and arm64)."""
    return sys.platform.startswith("linux") and os.uname().machine in _AUDIT_ARCH


def _seccomp_program(machine: str, network: bool, metadata: bool) -> list[tuple[int, int, int, int]]:
    eperm, eacces = _RET_ERRNO | 1, _RET_ERRNO | 13
    program = [(_BPF_LD_W_ABS, 0, 0, _SECCOMP_ARCH), (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[machine])]
    program += [(_BPF_RET_K, 0, 0, _RET_KILL_PROCESS), (_BPF_LD_W_ABS, 0, 0, _SECCOMP_NR)]
    if machine == "x86_64":  # the x32 ABI numbers its calls differently: refuse it whole
        program += [(_BPF_JGE_K, 0, 1, _X32_BIT), (_BPF_RET_K, 0, 0, _RET_ERRNO | 38)]
    for number in (*(_METADATA_CALLS[machine] if metadata else ()), _IO_URING_SETUP):
        program += [(_BPF_JEQ_K, 0, 1, number), (_BPF_RET_K, 0, 0, eperm)]
    program += [(_BPF_JEQ_K, 1, 0, _SOCKET_CALL[machine]), (_BPF_RET_K, 0, 0, _RET_ALLOW)]
    if network:  # IP sockets allowed; Unix sockets (a Docker socket is root) still refused
        program += [(_BPF_LD_W_ABS, 0, 0, _SECCOMP_ARG0), (_BPF_JEQ_K, 0, 1, _AF_UNIX)]
        program += [(_BPF_RET_K, 0, 0, eacces), (_BPF_RET_K, 0, 0, _RET_ALLOW)]
    else:  # no socket of any family (UDP and Unix included); socketpair() still works
        program += [(_BPF_RET_K, 0, 0, eacces)]
    return program


def deny_metadata_and_sockets(*, network: bool = False, metadata: bool = True) -> None:
    """Install a seccomp filter on this process and its future children. Irreversible.

    ``io_uring`` and (with ``metadata``) ``chmod``/``chown``/``utime``/extended-attribute
    changes fail with ``EPERM``, everywhere; ``socket()`` fails with ``EACCES`` (with
    ``network``, only for Unix sockets). Sets ``no_new_privs``. Raises `OSError` where
    unsupported.
    """
    machine = os.uname().machine
    if not seccomp_supported():
        raise OSError(f"no seccomp filter for {sys.platform}/{machine}")
    program = _seccomp_program(machine, network, metadata)
    filters = (_SockFilter * len(program))(*(_SockFilter(*instruction) for instruction in program))
    fprog = _SockFprog(len(program), filters)
    libc = _libc()
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "prctl(PR_SET_SECCOMP)")


# ---------------------------------------------------------------- read-only mounts (Linux user namespaces)

# In a new user and mount namespace (unprivileged where the kernel allows it), every mount
# is remounted read-only except bind mounts of the work dir: chmod, chown, utime and
# xattr changes outside it fail with EROFS, while the work dir keeps them.
_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
_ST_TO_MS = {  # statvfs flags to the mount flags a remount must repeat (the kernel locks them in a user namespace)
    "ST_NOSUID": 2,
    "ST_NODEV": 4,
    "ST_NOEXEC": 8,
    "ST_SYNCHRONOUS": 16,
    "ST_MANDLOCK": 64,
    "ST_NOATIME": 1024,
    "ST_NODIRATIME": 2048,
    "ST_RELATIME": 1 << 21,
}


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        points = [line.split()[4] for line in handle if line.strip()]
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point) for point in points]


def _mount(libc: Any, source: str | None, target: str, flags: int) -> None:
    encoded = None if source is None else os.fsencode(source)
    _check(libc.mount(encoded, os.fsencode(target), None, ctypes.c_ulong(flags), None), f"mount({target})")


def read_only_mounts(writable: Iterable[str | os.PathLike[str]]) -> None:
    """Enter a new user and mount namespace in which every mount but ``writable`` directories is read-only.

    The user keeps its own uid and gid (mapped to themselves). Raises `OSError` where
    the kernel does not allow an unprivileged user namespace, or a mount cannot be
    made read-only. Irreversible: call it in the process to confine, before
    `drop_capabilities` (remounting needs the namespace's capabilities).
    """
    if not sys.platform.startswith("linux"):
        raise OSError("user namespaces are Linux's")
    uid, gid = os.getuid(), os.getgid()
    keep = [os.path.realpath(p) for p in writable if os.path.isdir(p)]
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare(CLONE_NEWUSER | CLONE_NEWNS)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)
    _mount(libc, None, "/", _MS_REC | _MS_PRIVATE)  # nothing we do here reaches the host's mounts
    for path in keep:
        _mount(libc, path, path, _MS_BIND | _MS_REC)
    for point in _mount_points():
        if any(point == k or point.startswith(k.rstrip("/") + "/") for k in keep):
            continue
        try:
            flags = os.statvfs(point).f_flag
        except OSError:  # hidden under another mount, or gone: nothing reaches it by this path
            continue
        kept = sum(ms for st, ms in _ST_TO_MS.items() if flags & getattr(os, st, 0))
        try:
            _mount(libc, None, point, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EACCES):
                raise
    with contextlib.suppress(OSError):  # the working directory still points into the mount below the bind
        os.chdir(os.getcwd())


# ---------------------------------------------------------------- capabilities and resources

_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def drop_capabilities() -> None:
    """Empty this process's capability sets, bounding set included, so no later ``exec`` gains any.

    As root, the bounding set is what stops ``exec`` from granting every capability back.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = _libc()
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows; EPERM means none to drop (not root)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(_CapHeader(_CAPABILITY_VERSION_3, 0)), data), "capset")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one block (``setrlimit``, per process), and its output cap.

    ``memory`` bounds each process's address space and ``file_size`` each file it writes
    (bytes); ``cpu_seconds`` each process's CPU time (None: the block's timeout);
    ``processes`` how many processes it may start beyond those its user already runs
    (``RLIMIT_NPROC``, which Linux does not apply to root); ``output`` how many bytes of
    output are kept (the rest is read and dropped, and counted).
    """

    memory: int = 2 * 1024**3
    cpu_seconds: int | None = None
    processes: int = 256
    file_size: int = 512 * 1024**2
    output: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in ("memory", "processes", "file_size", "output"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")
        if self.cpu_seconds is not None and (not isinstance(self.cpu_seconds, int) or self.cpu_seconds < 1):
            raise ValueError(f"Limits.cpu_seconds must be a positive integer or None, not {self.cpu_seconds!r}")

    def cpu(self, timeout: float) -> int:
        return self.cpu_seconds if self.cpu_seconds is not None else math.ceil(timeout) + 1


def _pids_cgroup_parent() -> Path | None:
    """Where root can make a pids cgroup for a block (Linux does not apply RLIMIT_NPROC to root), or None."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:  # cgroup v1: the pids hierarchy, below our own cgroup
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            base = Path("/sys/fs/cgroup/pids") / path.lstrip("/")
            return base if base.is_dir() and os.access(base, os.W_OK) else None
    root = Path("/sys/fs/cgroup")  # cgroup v2: a child of the root cgroup, where pids is enabled for children
    with contextlib.suppress(OSError):
        if "pids" in (root / "cgroup.subtree_control").read_text(encoding="utf-8").split() and os.access(root, os.W_OK):
            return root
    return None


class _PidsCgroup:
    """A pids cgroup capping how many tasks a block may run; made by the launcher, joined by the block."""

    def __init__(self, parent: Path, limit: int) -> None:
        self.path = parent / f"ollama-integrations-sandbox-{os.getpid()}"
        self.path.mkdir()
        try:
            (self.path / "pids.max").write_text(str(limit), encoding="ascii")
        except OSError:
            self.remove()
            raise

    def join(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()), encoding="ascii")

    def remove(self) -> None:
        """Remove the cgroup once its last task is gone (the launcher killed them)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _user_processes(uid: int) -> int:
    """How many processes ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid == uid:
                        count += 1
    return count


def set_limits(limits: Limits, timeout: float) -> None:
    """Apply ``limits`` to this process (and so to what it starts) with ``setrlimit``."""
    import resource

    def cap(which: int, value: int, hard: int | None = None) -> None:
        _, old_hard = resource.getrlimit(which)
        hard = value if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            value, hard = min(value, old_hard), min(hard, old_hard)
        try:
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):  # a limit this system does not enforce (macOS and RLIMIT_AS)
            if sys.platform.startswith("linux"):
                raise

    cap(resource.RLIMIT_AS, limits.memory)
    cap(resource.RLIMIT_FSIZE, limits.file_size)
    cpu = limits.cpu(timeout)
    cap(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL a second later
    cap(resource.RLIMIT_CORE, 0)
    if hasattr(resource, "RLIMIT_NPROC"):
        existing = _user_processes(os.getuid()) if sys.platform.startswith("linux") else 0
        cap(resource.RLIMIT_NPROC, existing + limits.processes)


# ---------------------------------------------------------------- what may be read

_SYSTEM_READABLE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix/store")
_DEVICES_READABLE = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_PROC_READABLE = (
    "/proc/self",  # resolved when the rule is made: the block's own process only
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/loadavg",
    "/proc/filesystems",
    "/sys/devices/system/cpu",
)
# Entries of /etc that hold secrets (passwords, keys, Wi-Fi and VPN credentials); the rest
# of /etc (locale, time zone, name service, certificates) stays readable.
_ETC_SECRETS = frozenset(
    """
    shadow shadow- gshadow gshadow- sudoers sudoers.d ssh ssl pki security credstore credstore.encrypted
    docker containers NetworkManager wpa_supplicant ipsec.secrets ipsec.d ppp netplan libvirt krb5.keytab
    openvpn wireguard machine-id ceph letsencrypt gitlab-runner rancher kubernetes cloud
    """.split()  # noqa: SIM905  (a word list reads better than 31 quoted strings)
)
_ETC_PUBLIC = ("ssl/certs", "ssl/openssl.cnf", "pki/tls/certs", "pki/ca-trust", "pki/tls/openssl.cnf")


def _etc_readable() -> list[str]:
    try:
        names = os.listdir("/etc")
    except OSError:
        return []
    return [f"/etc/{name}" for name in sorted(names) if name not in _ETC_SECRETS] + [f"/etc/{p}" for p in _ETC_PUBLIC]


def readable_paths(work_dir: Path, python: str | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """What a confined block may read: the interpreter, its libraries, system paths, the work dir.

    The interpreter's prefixes and site-packages (of this process when ``python`` is
    ours, else the two directories above the interpreter, before and after resolving
    links), ``PYTHONPATH`` entries from ``env``, system library and configuration paths
    (``/etc`` without its secrets), a few devices and ``/proc`` files about the machine,
    and the block's own ``/proc/self``. Never the home directory or an ancestor of it.
    """
    import site
    import sysconfig

    python = python or sys.executable
    own = Path(python).absolute() == Path(sys.executable).absolute()
    candidates: list[str] = [str(Path(python).resolve())]
    if own:
        candidates += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
        candidates += [p for p in sysconfig.get_paths().values() if p]
        candidates += [*site.getsitepackages(), site.getusersitepackages()]
    else:
        candidates += [str(Path(python).absolute().parent.parent), str(Path(python).resolve().parent.parent)]
    candidates += [p for p in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if p]
    try:
        home: Path | None = Path.home().resolve()
    except (RuntimeError, KeyError):
        home = None
    chosen: list[str] = []
    for candidate in candidates:
        path = Path(candidate).absolute()
        if path == Path(path.anchor) or (home is not None and (path == home or path in home.parents)):
            continue  # never the whole file system, never the home directory as a whole
        if str(path) not in chosen:
            chosen.append(str(path))
    return [*_SYSTEM_READABLE, *_etc_readable(), *_DEVICES_READABLE, *_PROC_READABLE, *chosen, str(work_dir)]


# ---------------------------------------------------------------- what this machine confines


@dataclasses.dataclass(frozen=True)
class Confinement:
    """What this machine can confine, for the notice shown before model-written code runs."""

    landlock_abi: int
    process_tree: bool  # a child subreaper: detached descendants are killed too
    seccomp: bool = False  # a seccomp filter for metadata changes and sockets
    network_allowed: bool = False  # the user opted in to the network
    limits: Limits = Limits()
    root: bool = False  # run as root: RLIMIT_NPROC does not bind
    mount_namespace: bool = False  # read-only mounts in a private user and mount namespace
    process_cgroup: bool = False  # run as root: a pids cgroup caps the process count instead

    @property
    def writes(self) -> bool:
        return self.landlock_abi >= 1

    @property
    def reads(self) -> bool:
        return self.landlock_abi >= 1

    @property
    def network(self) -> bool:
        """TCP, UDP and Unix sockets all refused (unless the network was allowed)."""
        return self.network_allowed or (self.landlock_abi >= 4 and self.seccomp)

    @property
    def metadata(self) -> bool:
        """chmod/chown/utime/xattr changes outside the work dir fail (read-only mounts, else seccomp everywhere)."""
        return self.mount_namespace or self.seccomp

    @property
    def complete(self) -> bool:
        """Reads, writes, network and metadata confined and every descendant killed: no consent needed."""
        return self.writes and self.reads and self.process_tree and self.network and self.metadata

    def missing(self) -> list[str]:
        """What this kernel lacks, by feature (empty when `complete`)."""
        lacking = []
        if self.landlock_abi < 1:
            lacking.append("Landlock (Linux 5.13+) for reads and writes")
        if not self.network_allowed and self.landlock_abi < 4:
            lacking.append("Landlock ABI 4 (Linux 6.7+) for TCP")
        if not self.seccomp:
            lacking.append("a seccomp filter (Linux x86-64 or arm64) for sockets")
        if not self.metadata:
            lacking.append("user namespaces or a seccomp filter for metadata changes")
        if not self.process_tree:
            lacking.append("a child subreaper (Linux) to kill detached processes")
        return lacking

    def describe(self, work_dir: Path, timeout: float) -> str:
        """One paragraph for the user: what is confined here, and what is not."""
        kill = "with every process it started"
        if not self.process_tree:
            kill = "with its process group (a process that leaves the group survives)"
        parts = [f"Model-written Python runs in {work_dir}, killed after {timeout:g} s {kill}"]
        parts.append("its environment carries no API keys, tokens or OLLAMA_* variables")
        if self.writes:
            parts.append(f"writes outside {work_dir} fail (Landlock ABI {self.landlock_abi})")
            parts.append(
                "reads are limited to the interpreter and its libraries, system paths and the work dir"
                " (not the home directory, not other processes' /proc)"
            )
        else:
            parts.append(f"NOTHING stops it reading or writing outside {work_dir} (no Landlock on this system)")
        parts.append(self._network_text())
        if self.mount_namespace:
            parts.append(
                f"chmod, chown, utime and xattr changes outside {work_dir} fail (every other mount read-only, in a "
                "private user and mount namespace)"
            )
        elif self.seccomp:
            parts.append("chmod, chown, utime and xattr changes fail everywhere, the work dir included (seccomp)")
        else:
            parts.append("NOTHING stops chmod, chown, utime or xattr changes (no seccomp filter here)")
        parts.append("no capabilities, no_new_privs")
        parts.append(self._limits_text(timeout))
        missing = self.missing()
        if missing:
            parts.append("missing on this system: " + ", ".join(missing))
        parts.append("sh/bash blocks are refused")
        return "; ".join(parts) + "."

    def _network_text(self) -> str:
        if self.network_allowed:
            unix = "Unix sockets refused" if self.seccomp else "Unix sockets open"
            return f"the NETWORK IS OPEN (allowed by the caller; {unix})"
        if self.network:
            return "no network: TCP connect and bind fail (Landlock), and so does opening any socket (seccomp)"
        if self.seccomp:
            return "no network: opening any socket fails (seccomp)"
        if self.landlock_abi >= 4:
            return "TCP connect and bind fail (Landlock) but UDP and Unix sockets are OPEN (no seccomp filter here)"
        return "the NETWORK and local sockets are NOT confined"

    def _limits_text(self, timeout: float) -> str:
        limits = self.limits
        processes = f"{limits.processes} more processes"
        if self.root:
            processes = f"{limits.processes} processes (a pids cgroup)"
            if not self.process_cgroup:
                processes = "no process-count limit (run as root, and no pids cgroup can be made here)"
        memory = f"{_size(limits.memory)} of memory"
        if sys.platform == "darwin":
            memory += " (not enforced by macOS)"
        return (
            f"limits per process: {memory}, {limits.cpu(timeout)} s of CPU, "
            f"files up to {_size(limits.file_size)}; {processes}; output kept up to {_size(limits.output)}"
        )


def _size(value: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= scale and value % scale == 0:
            return f"{value // scale} {unit}"
    return f"{value} bytes"


def confinement(*, network: bool = False, limits: Limits | None = None) -> Confinement:
    """Probe the kernel for what `run_block` can enforce here (with the network allowed or not)."""
    linux = sys.platform.startswith("linux")
    return Confinement(
        landlock_abi=landlock_abi(),
        process_tree=linux and Path("/proc/self/stat").exists(),
        seccomp=seccomp_supported(),
        network_allowed=network,
        limits=limits or Limits(),
        root=hasattr(os, "geteuid") and os.geteuid() == 0,
        mount_namespace=linux and _mount_namespace_works(),
        process_cgroup=_pids_cgroup_parent() is not None,
    )


@functools.lru_cache(maxsize=1)
def _mount_namespace_works() -> bool:
    """Whether `read_only_mounts` succeeds here: tried once, in a throwaway process."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(LAUNCHER), "--probe-mounts"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


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


def _command(
    code_file: Path,
    work_dir: Path,
    timeout: float,
    python: str,
    confine: bool,
    *,
    network: bool,
    limits: Limits,
    env: Mapping[str, str],
) -> list[str]:
    options = ["--timeout", f"{timeout:g}", "--output", str(limits.output)]
    options += ["--memory", str(limits.memory), "--cpu", str(limits.cpu(timeout))]
    options += ["--processes", str(limits.processes), "--file-size", str(limits.file_size)]
    if confine:
        options += ["--write", str(work_dir), "--write", os.devnull]
        for path in readable_paths(work_dir, python, env):
            options += ["--read", path]
        if network:
            options.append("--network")
    return [sys.executable, "-I", str(LAUNCHER), *options, "--", python, str(code_file)]


def _prepare(work_dir: Path) -> Path:
    work_dir = work_dir.resolve()
    for sub in (".home", ".tmp"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    return work_dir


def _read_output(handle: IO[bytes]) -> str:
    """What the launcher kept (it caps the block's output and notes what it dropped), cut to `MAX_OUTPUT`."""
    handle.seek(0)
    data = handle.read(MAX_OUTPUT * 4 + 1).decode("utf-8", errors="replace")
    if len(data) > MAX_OUTPUT:
        extra = os.fstat(handle.fileno()).st_size
        return data[:MAX_OUTPUT] + f"\n[output cut: {extra} bytes kept of more; print less]"
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
    code: str,
    language: str,
    work_dir: Path,
    timeout: float,
    python: str | None,
    confine: bool | None,
    network: bool = False,
    limits: Limits | None = None,
) -> _Launch | BlockResult:
    refused = _refusal(language)
    if refused is not None:
        return refused
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    work_dir = _prepare(work_dir)
    python = python or sys.executable
    confine = sys.platform.startswith("linux") if confine is None else confine
    code_file = _code_file(work_dir, code)
    env = child_environment(work_dir, python=python)
    command = _command(
        code_file, work_dir, timeout, python, confine, network=network, limits=limits or Limits(), env=env
    )
    # The launcher reads the block's output through a pipe and keeps at most `Limits.output`
    # bytes here: a file without a name (O_TMPFILE) on the work dir's file system, which the
    # block can neither open by path nor through /proc, and which no descendant holds open.
    output = tempfile.TemporaryFile(dir=work_dir)  # noqa: SIM115  (closed by _Launch.finish, or below on failure)
    try:
        process = subprocess.Popen(
            command,
            cwd=work_dir,
            env=env,
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
    network: bool = False,
    limits: Limits | None = None,
) -> BlockResult:
    """Run one code block under the launcher and wait for it (``timeout`` seconds at most).

    ``confine`` None means: confine all this kernel can (`confinement`), False: only the
    environment, the resource limits and the kill. ``network`` True lets the block open
    TCP/UDP connections (Unix sockets stay refused). ``limits`` bounds memory, CPU time,
    processes, file size and kept output (`Limits`' defaults when None). Shell and
    unknown languages are refused with a message the model can act on.
    """
    launch = _launch(code, language, work_dir, timeout, python, confine, network, limits)
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
    network: bool = False,
    limits: Limits | None = None,
) -> BlockResult:
    """`run_block` for event loops; cancelling the awaiting task kills the block and all it started."""
    import asyncio

    launch = _launch(code, language, work_dir, timeout, python, confine, network, limits)
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
    blocks: Sequence[tuple[str, str]],
    work_dir: Path,
    *,
    timeout: float = 60,
    python: str | None = None,
    network: bool = False,
    limits: Limits | None = None,
) -> BlockResult:
    """Run ``(language, code)`` blocks in order, stopping at the first failure, as Autogen's executors do."""
    results: list[BlockResult] = []
    for language, code in blocks:
        results.append(
            run_block(code, language, work_dir, timeout=timeout, python=python, network=network, limits=limits)
        )
        if results[-1].exit_code:
            break
    return _joined(results)


async def run_blocks_async(
    blocks: Sequence[tuple[str, str]],
    work_dir: Path,
    *,
    timeout: float = 60,
    python: str | None = None,
    network: bool = False,
    limits: Limits | None = None,
) -> BlockResult:
    """`run_blocks` for event loops."""
    results: list[BlockResult] = []
    for language, code in blocks:
        block = run_block_async(
            code, language, work_dir, timeout=timeout, python=python, network=network, limits=limits
        )
        results.append(await block)
        if results[-1].exit_code:
            break
    return _joined(results)


class ConfinedCodeExecutor:
    """An AG2/Autogen classic code executor (``autogen.coding.CodeExecutor`` protocol) that uses `run_block`.

    Give it to a ``UserProxyAgent`` as ``code_execution_config={"executor": ...}``. Warns
    with `UnconfinedWarning` when this machine cannot confine all `Confinement` lists.
    ``network`` and ``limits`` as for `run_block`.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        timeout: int = 60,
        python: str | None = None,
        network: bool = False,
        limits: Limits | None = None,
    ) -> None:
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 second, not {timeout!r}")
        self.work_dir = _prepare(Path(work_dir))
        self.timeout = timeout
        self.python = python
        self.network = network
        self.limits = limits
        self.confinement = confinement(network=network, limits=limits)
        if not self.confinement.complete:
            warnings.warn(self.confinement.describe(self.work_dir, timeout), UnconfinedWarning, stacklevel=2)

    @property
    def code_extractor(self) -> Any:
        from autogen.coding import MarkdownCodeExtractor

        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[Any]) -> Any:
        from autogen.coding.base import CommandLineCodeResult

        blocks = [(block.language, block.code) for block in code_blocks]
        result = run_blocks(
            blocks, self.work_dir, timeout=self.timeout, python=self.python, network=self.network, limits=self.limits
        )
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


class _Output:
    """The block's output, read from a pipe: the first ``cap`` bytes go to our stdout, the rest is counted."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap, self.total = fd, cap, 0
        os.set_blocking(fd, False)

    def drain(self) -> bool:
        """Read what is there; False at end of file."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            keep = chunk[: max(self.cap - self.total, 0)]
            self.total += len(chunk)
            if keep:
                os.write(1, keep)

    def finish(self, deadline: float) -> None:
        """Read until every writer is gone (they were killed) or ``deadline``; note what was dropped."""
        while self.drain() and time.monotonic() < deadline:
            select.select([self.fd], [], [], max(deadline - time.monotonic(), 0))
        os.close(self.fd)
        if self.total > self.cap:
            os.write(1, f"\n[output cut: {self.total} bytes printed, the first {self.cap} kept; print less]\n".encode())


def _wait(pid: int, timeout: float, output: _Output | None = None) -> int | None:
    """The command's wait status, or None when ``timeout`` passed first; copies its output meanwhile."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    reading = output is not None
    try:
        while True:
            if reading and output is not None:
                reading = output.drain()
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            watched = [fd for fd in (pidfd, output.fd if reading and output else None) if fd is not None]
            if pidfd is not None:
                select.select(watched, [], [], left)
            else:
                select.select(watched, [], [], min(left, 0.05))
    finally:
        if pidfd is not None:
            os.close(pidfd)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What the launcher applies in the forked child before ``exec``."""

    writable: list[str]
    readable: list[str] | None
    network: bool
    limits: Limits
    timeout: float


def _exec_confined(command: list[str], plan: _Plan, output: int, cgroup: _PidsCgroup | None = None) -> None:
    """In the forked child: own process group, limits, no capabilities, Landlock, seccomp, exec. Never returns."""
    try:
        os.setpgid(0, 0)
        if cgroup is not None:
            cgroup.join()
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        set_limits(plan.limits, plan.timeout)
        read_only = False
        if plan.writable:
            with contextlib.suppress(OSError):  # no user namespaces here: seccomp refuses metadata changes instead
                read_only_mounts(plan.writable)
                read_only = True
        drop_capabilities()
        if plan.writable and landlock_abi() >= 1:
            restrict(plan.writable, plan.readable, network=plan.network)
        if plan.writable and seccomp_supported():
            deny_metadata_and_sockets(network=plan.network, metadata=not read_only)
        os.execvp(command[0], command)
    except BaseException as exc:  # report and leave: this is a forked copy of the launcher
        os.write(2, f"sandbox: cannot start {command[0]}: {exc}\n".encode())
        os._exit(126)


_SIGNAL_NOTES = {
    signal.SIGXCPU: "it used up its CPU-time limit",
    signal.SIGXFSZ: "it wrote past its file-size limit",
    signal.SIGKILL: "killed (SIGKILL): at its CPU-time limit, or out of memory",
    signal.SIGSEGV: "it crashed (SIGSEGV), possibly at its memory limit",
}


def main(argv: list[str] | None = None) -> int:
    """The launcher: fork the command confined, wait at most ``--timeout`` s, then kill all that is left."""
    parser = argparse.ArgumentParser(prog="sandbox", description=main.__doc__)
    parser.add_argument("--write", action="append", default=[], help="a directory or file that may be written")
    parser.add_argument("--read", action="append", default=None, help="a directory or file that may be read")
    parser.add_argument("--network", action="store_true", help="allow TCP/UDP (Unix sockets stay refused)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before everything is killed")
    parser.add_argument("--output", type=int, default=MAX_OUTPUT, help="bytes of output kept")
    parser.add_argument("--memory", type=int, default=Limits.memory, help="bytes of address space per process")
    parser.add_argument("--cpu", type=int, default=None, help="seconds of CPU time per process")
    parser.add_argument("--processes", type=int, default=Limits.processes, help="processes beyond the user's")
    parser.add_argument("--file-size", type=int, default=Limits.file_size, help="bytes per file written")
    parser.add_argument("--probe-mounts", action="store_true", help="exit 0 when read_only_mounts works here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    if args.probe_mounts:
        try:
            read_only_mounts([])
        except OSError:
            return 1
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    if not hasattr(os, "fork"):
        print("sandbox: model-written code can only be run on Linux or macOS", file=sys.stderr)
        return 126
    limits = Limits(args.memory, args.cpu, args.processes, args.file_size, args.output)
    plan = _Plan(args.write, args.read, args.network, limits, args.timeout)
    subreaper = False
    if sys.platform.startswith("linux"):
        subreaper = _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    cgroup = None
    parent = _pids_cgroup_parent()
    if parent is not None:
        with contextlib.suppress(OSError):  # then RLIMIT_NPROC alone, which does not bind root
            cgroup = _PidsCgroup(parent, limits.processes)
    try:
        return _supervise(command, plan, args.timeout, subreaper, cgroup)
    finally:
        if cgroup is not None:
            cgroup.remove()


def _supervise(command: list[str], plan: _Plan, timeout: float, subreaper: bool, cgroup: _PidsCgroup | None) -> int:
    """Fork the confined command, copy its output, wait, kill what is left; the exit code to report."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _exec_confined(command, plan, write_end, cgroup)
    os.close(write_end)
    output = _Output(read_end, plan.limits.output)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    try:
        status = _wait(pid, timeout, output)
    except _Stopped as stopped:
        _kill_tree(pid, subreaper=subreaper)
        return 128 + int(stopped.args[0])
    _kill_tree(pid, subreaper=subreaper)
    output.finish(time.monotonic() + 2)
    if status is None:
        print(
            f"\nTimeout: the code ran longer than {timeout:g} s and was stopped, with every process it started.",
            file=sys.stderr,
        )
        return TIMEOUT_EXIT
    code = os.waitstatus_to_exitcode(status)
    if code < 0 and -code in _SIGNAL_NOTES:
        print(f"\nsandbox: {_SIGNAL_NOTES[signal.Signals(-code)]}.", file=sys.stderr)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
