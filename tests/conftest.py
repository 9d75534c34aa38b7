from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations import checks
from tests.stub import Stub, running_stub

_LEAKY_ENV = (
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's Ollama settings, and no test leaks cached answers into another."""
    import os

    for name in list(os.environ):
        if name.startswith("OLLAMA_INTEGRATIONS_") and name != "OLLAMA_INTEGRATIONS_MODELS_DIR":
            monkeypatch.delenv(name)
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    checks.clear_cache()
    yield
    checks.clear_cache()


@pytest.fixture
def stub() -> Iterator[Stub]:
    yield from running_stub()
