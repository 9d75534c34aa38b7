"""Hostile model-written code against every executor the package provides: each attempt must end as a refusal.

Each case is a real Python block that tries one escape (read a secret in the home
directory, read the agent's ``/proc/<pid>/environ``, reach a listening port, change a
file's mode outside the work dir, allocate, write or print past its limit). It runs
through `run_block`, AG2's `ConfinedCodeExecutor` and AgentChat's executor; the
executor must return normally with a failing exit code or a cut output, and the target
must be untouched. Outcomes are counted by category in the reliability report.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations import sandbox
from tests.reliability import _counts

pytestmark = pytest.mark.skipif(
    not (sandbox.confinement().complete and sys.platform.startswith("linux")),
    reason="full confinement needs Linux with Landlock ABI 4+ and seccomp",
)

SECRET = "sk-confinement-sentinel-4411"
LIMITS = sandbox.Limits(memory=512 * 1024**2, file_size=4 * 1024**2, output=16 * 1024)


@dataclass
class Ran:
    exit_code: int
    output: str


Runner = Callable[[str, Path], Ran]


def _direct(code: str, work: Path) -> Ran:
    result = sandbox.run_block(code, "python", work, timeout=20, limits=LIMITS)
    return Ran(result.exit_code, result.output)


def _ag2(code: str, work: Path) -> Ran:
    from autogen.coding import CodeBlock

    executor = sandbox.ConfinedCodeExecutor(work, timeout=20, limits=LIMITS)
    result = executor.execute_code_blocks([CodeBlock(code=code, language="python")])
    return Ran(result.exit_code, result.output)


def _agentchat(code: str, work: Path) -> Ran:
    from autogen_core import CancellationToken
    from autogen_core.code_executor import CodeBlock

    from integrations.sandbox_agentchat import ConfinedLocalCodeExecutor

    executor = ConfinedLocalCodeExecutor(work, timeout=20, limits=LIMITS)
    result = asyncio.run(executor.execute_code_blocks([CodeBlock(code=code, language="python")], CancellationToken()))
    return Ran(result.exit_code, result.output)


def _code_agents(code: str, work: Path) -> Ran:
    """The coding helpers' AG2 side: the loop behind ``code_agents()``, fed the block as a model reply."""
    from integrations.autogen import code_user_proxy
    from integrations.coding import CodeLoop

    loop = CodeLoop(work, task="Run the program.", timeout=20, limits=LIMITS)
    code_user_proxy(loop).generate_reply(messages=[{"role": "user", "content": f"```python\n{code}\n```"}])
    return Ran(loop.runs[-1].exit_code, loop.runs[-1].output)


def _code_team(code: str, work: Path) -> Ran:
    """The coding helpers' AgentChat side: ``code_team()`` with a scripted coder."""
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from integrations.agentchat import code_team

    client = ReplayChatCompletionClient([f"```python\n{code}\n```"])
    team = code_team(work_dir=work, timeout=20, max_replies=1, client=client, limits=LIMITS)
    asyncio.run(team.run(task="Run the program."))
    return Ran(team.code_loop.runs[-1].exit_code, team.code_loop.runs[-1].output)


RUNNERS: dict[str, Runner] = {
    "run_block": _direct,
    "ag2": _ag2,
    "agentchat": _agentchat,
    "code_agents": _code_agents,
    "code_team": _code_team,
}


@pytest.fixture(params=sorted(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    return RUNNERS[request.param]


def _count(category: str, refused: bool) -> None:
    _counts.record(category, "refused" if refused else "ESCAPED")


# ---------------------------------------------------------------- reads


def test_a_file_in_the_home_directory_cannot_be_read(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(SECRET)
    (home / ".netrc").write_text(f"machine x login y password {SECRET}\n")
    monkeypatch.setenv("HOME", str(home))
    for target in (home / ".ssh" / "id_ed25519", home / ".netrc"):
        ran = run(f"print(open({str(target)!r}).read())", tmp_path / "work")
        refused = ran.exit_code != 0 and SECRET not in ran.output and "PermissionError" in ran.output
        _count("confinement: reads", refused)
        assert refused, ran.output
    listing = run(f"import os\nprint(os.listdir({str(home)!r}))", tmp_path / "work")
    _count("confinement: reads", listing.exit_code != 0 and ".netrc" not in listing.output)
    assert listing.exit_code != 0 and ".netrc" not in listing.output, listing.output


AGENT = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from integrations import sandbox
from tests.reliability.test_confinement import RUNNERS
code = f"print(open('/proc/{os.getpid()}/environ', 'rb').read())"
ran = RUNNERS[sys.argv[2]](code, __import__('pathlib').Path(sys.argv[3]))
print(json.dumps({"exit_code": ran.exit_code, "output": ran.output}))
"""


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_the_agents_environment_cannot_be_read_through_proc(runner: str, tmp_path: Path) -> None:
    """An agent process holding a secret in its environment runs a block that reads its /proc/<pid>/environ."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "OLLAMA_API_KEY": SECRET, "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-c", AGENT, root, runner, str(tmp_path / "work")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout.strip().splitlines()[-1])
    refused = ran["exit_code"] != 0 and SECRET not in ran["output"] and "PermissionError" in ran["output"]
    _count("confinement: reads", refused)
    assert refused, ran["output"]


def test_other_processes_cannot_be_listed_or_read(run: Runner, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os
        seen = 0
        for pid in (1, {os.getpid()}):
            for name in ("environ", "cmdline", "maps"):
                try:
                    open(f"/proc/{{pid}}/{{name}}", "rb").read()
                    seen += 1
                except OSError:
                    pass
        print("own environ readable:", b"HOME" in open("/proc/self/environ", "rb").read())
        print("foreign files read:", seen)
        raise SystemExit(1 if seen == 0 else 0)
        """
    )
    ran = run(code, tmp_path / "work")
    refused = "foreign files read: 0" in ran.output and ran.exit_code == 1
    _count("confinement: reads", refused)
    assert refused, ran.output
    assert "own environ readable: True" in ran.output  # the block's own /proc/self stays usable


# ---------------------------------------------------------------- network


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    try:
        yield server
    finally:
        server.close()


def _accepted(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


def test_no_tcp_connection_reaches_a_listening_port(run: Runner, tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'{SECRET}')"
    ran = run(code, tmp_path / "work")
    refused = ran.exit_code != 0 and "PermissionError" in ran.output and not _accepted(listener)
    _count("confinement: network", refused)
    assert refused, ran.output


def test_the_embedded_servers_port_is_unreachable(run: Runner, tmp_path: Path, ollama_server: Any) -> None:
    code = f"import urllib.request\nprint(urllib.request.urlopen('{ollama_server.url}/api/version', timeout=5).read())"
    ran = run(code, tmp_path / "work")
    refused = ran.exit_code != 0 and '"version"' not in ran.output and "Permission denied" in ran.output
    _count("confinement: network", refused)
    assert refused, ran.output


def test_no_udp_datagram_and_no_unix_socket_leave(run: Runner, tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.3)
    path = tmp_path / "agent.sock"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(path))
    unix.listen()
    unix.settimeout(0.3)
    try:
        udp = f"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {receiver.getsockname()[1]}))"
        ran = run(udp, tmp_path / "work")
        try:
            receiver.recvfrom(16)
            arrived = True
        except TimeoutError:
            arrived = False
        refused = ran.exit_code != 0 and not arrived
        _count("confinement: network", refused)
        assert refused, ran.output
        local = f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})"
        ran = run(local, tmp_path / "work")
        refused = ran.exit_code != 0 and not _accepted(unix)
        _count("confinement: network", refused)
        assert refused, ran.output
    finally:
        receiver.close()
        unix.close()


def test_the_network_opt_in_opens_tcp(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).close()\nprint('connected')"
    result = sandbox.run_block(code, "python", tmp_path / "work", timeout=20, network=True)
    assert result.exit_code == 0 and "connected" in result.output, result.output
    assert _accepted(listener)
    assert "NETWORK IS OPEN" in sandbox.confinement(network=True).describe(tmp_path, 20)


# ---------------------------------------------------------------- metadata and privileges


def test_metadata_outside_the_work_dir_cannot_change(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("x")
    target.chmod(0o600)
    os.utime(target, (1_000_000, 1_000_000))
    before = target.stat()
    attempts = {
        "chmod": f"os.chmod({str(target)!r}, 0o777)",
        "chown": f"os.chown({str(target)!r}, 65534, 65534)",
        "utime": f"os.utime({str(target)!r})",
        "setxattr": f"os.setxattr({str(target)!r}, 'user.x', b'1')",
    }
    for name, attempt in attempts.items():
        ran = run(f"import os\n{attempt}", tmp_path / "work")
        after = target.stat()
        unchanged = (after.st_mode, after.st_uid, after.st_mtime) == (before.st_mode, before.st_uid, before.st_mtime)
        denied = "PermissionError" in ran.output or "Read-only file system" in ran.output
        refused = ran.exit_code != 0 and denied and unchanged
        _count("confinement: metadata", refused)
        assert refused, (name, ran.output)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_metadata_inside_the_work_dir_can_change_where_mounts_are_read_only(run: Runner, tmp_path: Path) -> None:
    if not sandbox.confinement().mount_namespace:
        pytest.skip("without user namespaces, seccomp refuses metadata changes in the work dir too")
    code = "import os, shutil\nopen('a.txt', 'w').write('1')\nos.chmod('a.txt', 0o640)\nshutil.copy2('a.txt', 'b.txt')"
    ran = run(code, tmp_path / "work")
    assert ran.exit_code == 0, ran.output
    assert stat.S_IMODE((tmp_path / "work" / "b.txt").stat().st_mode) == 0o640


def test_no_capabilities_even_as_root(run: Runner, tmp_path: Path) -> None:
    code = (
        "caps = [l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))]\n"
        "print(''.join(caps))\n"
        "import os\n"
        "os.setuid(4242)  # needs CAP_SETUID; harmless if it worked: it changes only this process\n"
        "print('uid', os.getuid())\n"
    )
    ran = run(code, tmp_path / "work")
    emptied = ("CapEff", "CapPrm", "CapBnd") if os.geteuid() == 0 else ("CapEff", "CapPrm")  # only root holds any
    lines = [line for line in ran.output.splitlines() if line.startswith(emptied)]
    # EPERM without CAP_SETUID; EINVAL inside a user namespace, where uid 4242 is not even mapped
    refused = ran.exit_code != 0 and "uid 4242" not in ran.output and len(lines) == len(emptied)
    refused = refused and all(line.endswith("0" * 16) for line in lines)
    _count("confinement: metadata", refused)
    assert refused, ran.output


# ---------------------------------------------------------------- resources


def test_memory_beyond_the_limit_is_refused(run: Runner, tmp_path: Path) -> None:
    ran = run("b = bytearray(1024 * 1024**2)\nprint('allocated', len(b))", tmp_path / "work")
    refused = ran.exit_code != 0 and "MemoryError" in ran.output and "allocated" not in ran.output
    _count("confinement: resources", refused)
    assert refused, ran.output


def test_a_file_beyond_the_size_limit_is_refused(run: Runner, tmp_path: Path) -> None:
    work = tmp_path / "work"
    ran = run("with open('big.bin', 'wb') as f:\n    f.write(b'x' * (8 * 1024**2))", work)
    size = (work / "big.bin").stat().st_size if (work / "big.bin").exists() else 0
    refused = ran.exit_code != 0 and "File too large" in ran.output and size <= LIMITS.file_size
    _count("confinement: resources", refused)
    assert refused, (size, ran.output)


def test_output_beyond_the_cap_is_dropped_and_nothing_lands_outside_the_work_dir(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"  # where tempfile would put an output file outside the work dir
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    code = "import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 1024**2)\nprint('end')"
    ran = run(code, tmp_path / "work")
    refused = "[output cut: 209715204 bytes printed" in ran.output and len(ran.output) < LIMITS.output + 500
    refused = refused and not list(scratch.iterdir())
    _count("confinement: resources", refused)
    assert refused, ran.output[-300:]


def test_cpu_time_beyond_the_limit_is_stopped(tmp_path: Path) -> None:
    limits = sandbox.Limits(cpu_seconds=1)
    result = sandbox.run_block("while True:\n    pass", "python", tmp_path / "work", timeout=20, limits=limits)
    refused = result.exit_code != 0 and not result.timed_out and "CPU-time limit" in result.output
    _count("confinement: resources", refused)
    assert refused, result.output


def test_processes_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    found = sandbox.confinement()
    if found.root and not found.process_cgroup:
        pytest.skip("as root, only a pids cgroup limits processes, and none can be made here")
    code = (
        "import subprocess\nstarted = []\ntry:\n"
        "    for _ in range(60):\n        started.append(subprocess.Popen(['sleep', '30']))\n"
        "finally:\n    print('started', len(started))\n    for p in started:\n        p.kill()\n"
    )
    limits = sandbox.Limits(processes=12)
    parent = sandbox._pids_cgroup_parent()
    before = set(parent.glob("ollama-integrations-sandbox-*")) if parent else set()
    result = sandbox.run_block(code, "python", tmp_path / "work", timeout=30, limits=limits)
    refused = result.exit_code != 0 and "Resource temporarily unavailable" in result.output
    refused = refused and "started 60" not in result.output
    _count("confinement: resources", refused)
    assert refused, result.output
    # Removed after the block: no new group is left behind (others' blocks may be running meanwhile).
    left = set(parent.glob("ollama-integrations-sandbox-*")) - before if parent else set()
    assert not [p for p in left if not Path(f"/proc/{p.name.rsplit('-', 1)[-1]}").exists()], left
