"""Counts what the reliability suite tried and how each input ended, printed with pytest's summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability import _counts
from tests.reliability._server import ChildServer


@pytest.fixture(scope="session")
def child_server(ollama_server: Any, ollama_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    """The embedded server in a child process, serving the models the ``ollama_server`` fixture pulled."""
    if not ollama_server.embedded:
        pytest.skip("crash-counting runs the embedded server in a child process")
    server = ChildServer(ollama_server.models_dir, ollama_model, tmp_path_factory.mktemp("child") / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid.replace("\\\\", "/"):
        return
    module = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    if report.when == "call":
        _counts.record(f"test cases ({module})", "skipped" if report.skipped else report.outcome)
    elif report.when == "setup" and not report.passed:
        _counts.record(f"test cases ({module})", "skipped" if report.skipped else "setup error")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _counts.outcomes:
        return
    terminalreporter.write_line("reliability: inputs tried per category and how each ended")
    for line in _counts.lines():
        terminalreporter.write_line(line)
