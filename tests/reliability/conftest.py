"""Counts what the reliability suite tried and prints it with pytest's summary."""

from __future__ import annotations

import pytest

from tests.reliability import _counts


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid.replace("\\\\", "/"):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _counts.faults["cases"] += 1
        _counts.faults["documented"] += int(report.passed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    cases, fuzzed = _counts.faults, _counts.fuzzed
    if not cases["cases"]:
        return
    terminalreporter.write_line(
        f"reliability: {cases['cases']} fault cases, {cases['documented']} ended in the documented outcome; "
        f"{fuzzed['inputs']} fuzzed inputs, {fuzzed['documented']} ended in the documented outcome"
    )
