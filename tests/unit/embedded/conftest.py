"""Fixtures for store and pull tests: a fake carrier split across local wheels, and stores that use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from integrations.embedded.store import Store
from tests.unit.embedded.fakes import FakeCarrier, build_carrier


@pytest.fixture
def carrier(tmp_path: Path) -> FakeCarrier:
    return build_carrier(tmp_path)


@pytest.fixture
def make_store(tmp_path: Path, carrier: FakeCarrier) -> Callable[..., Store]:
    def make(root: Path | None = None, **fetcher_overrides: object) -> Store:
        return Store(root or tmp_path / "models", registry={carrier.entry.name: carrier.entry},
                     fetcher=carrier.fetcher(**fetcher_overrides))

    return make


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()
