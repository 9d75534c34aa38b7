"""The mutation list (`tests/mutants.py`) stays applicable: a mutant whose edit no longer matches the code tests nothing.

Plumbing of a development tool: the mutants themselves run outside the suite.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mutants() -> object:
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "tests" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutants", module)
    spec.loader.exec_module(module)
    return module


MUTANTS = _mutants().MUTANTS  # type: ignore[attr-defined]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_mutant_edits_exactly_one_place_and_names_tests_that_exist(mutant: object) -> None:
    source = (ROOT / mutant.path).read_text()  # type: ignore[attr-defined]
    assert source.count(mutant.old) == 1, f"{mutant.name}: its text occurs {source.count(mutant.old)} times"  # type: ignore[attr-defined]
    for test in mutant.tests:  # type: ignore[attr-defined]
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), test
        if name:
            assert f"def {name.split('[')[0]}(" in (ROOT / path).read_text(), test
