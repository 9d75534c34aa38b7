"""Collection rules for modules that run a framework's own standard suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--standard-suites",
        choices=("ci", "full"),
        default="ci",
        help="how much of the frameworks' standard suites to run: the CI slice (default) or all of it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the inherited tests a module's ``left_out(cls, name)`` names (tests of the suite that do not
    apply to the model or server): deselected, they are neither run nor counted as skips."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    full = config.getoption("--standard-suites", default="ci") == "full"
    for item in items:
        module = getattr(item, "module", None)
        if hasattr(module, "FULL"):
            module.FULL = full
        left_out = getattr(module, "left_out", None)
        name = getattr(item, "originalname", item.name)
        if callable(left_out) and left_out(getattr(item, "cls", None), name):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
