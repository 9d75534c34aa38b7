from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations import checks
from integrations.settings import ENV_PREFIX, OllamaSettings, env_name
from tests.stub import Stub, running_stub

# What the OpenAI SDK reads when a client is built without explicit values.
_OPENAI_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


def _settings_variables() -> set[str]:
    """Every variable a settings class reads, derived from the classes themselves."""
    from integrations.embedded.settings import EmbeddedSettings

    return {env_name(field) for field in OllamaSettings.model_fields} | {
        env_name(field, EmbeddedSettings) for field in EmbeddedSettings.model_fields
    }


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's settings (environment, ``.env``, ``configs/``) or another test's cached answers.

    Each test runs in an empty working directory, so a ``.env`` or ``configs/`` in the checkout is never read.
    """
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name in _settings_variables() or name in _OPENAI_ENV:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    checks.clear_cache()
    yield
    checks.clear_cache()


@pytest.fixture
def stub() -> Iterator[Stub]:
    yield from running_stub()
