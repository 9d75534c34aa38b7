"""CI's pytest plugin (``-p tests.ci_no_skips``): a run with a skipped test fails.

CI installs every extra and the embedded model, so a skip there means something it
installed did not work, and a green run would hide it. Only skips for what CI does
not install are allowed, each named below with the reason.
"""

from __future__ import annotations

import re

import pytest

ALLOWED = {
    r"need Node\.js and npm": "CI installs Python packages only; the JavaScript examples run where Node.js is",
    r"Landlock": "the kernel decides which Landlock ABI there is, not the install",
    r"are Linux's|is fcntl\.flock": "a platform the run is not on",
    r"x86-64 and arm64": "a processor the seccomp filter has no system call numbers for",
    r"user namespaces|pids cgroup": "the kernel and the container decide, not the install",
    r"the second engine '[\w-]+' is not installed here": "CI installs the prebuilt engine only (no compiling); "
    "the tests marked 'engines' run on llama-cpp-python where its extra is installed",
    r"could not import 'llama_cpp'": "llama-cpp-python's own grammar converter: the compiled engine is the "
    "'llama-cpp' extra, which CI does not install",
}


def _refused(config: pytest.Config) -> list[tuple[str, str]]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    refused = []
    for report in reporter.stats.get("skipped", []) if reporter is not None else []:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(re.search(pattern, reason) for pattern in ALLOWED):
            refused.append((report.nodeid, reason))
    return refused


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.OK and _refused(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    refused = _refused(terminalreporter.config)
    if refused:
        terminalreporter.write_sep("=", f"{len(refused)} skipped test(s): CI fails on skips", red=True)
        for nodeid, reason in refused:
            terminalreporter.write_line(f"{nodeid}: {reason}")
