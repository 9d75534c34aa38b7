from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(autouse=True)
def forced_calls_are_marked_plumbing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test, unless it is marked ``plumbing``, in which the test model's rule made a tool call.

    A model whose template knows no tool calls (``smollm2:135m``) calls a tool whenever
    tools are offered under ``auto``: such a test shows wiring, not a model's choice, and
    ``-m "not plumbing"`` must leave it out. Watched in the embedded server of this
    process (the plan of each chat turn); a server in a child process is not watched.
    """
    try:
        from integrations.embedded import planning
    except ImportError:  # no embedded extra: no server in this process either
        yield
        return
    import threading

    choice = threading.local()
    forced: list[str] = []
    tool_mode, plan = planning.tool_mode, planning.Plan

    def watched_mode(tools: Any, tool_choice: Any, messages: Any) -> Any:
        choice.value = tool_choice
        return tool_mode(tools, tool_choice, messages)

    def watched_plan(*args: Any, **kwargs: Any) -> Any:
        made = plan(*args, **kwargs)
        # a forced call although the client left the choice to the model: the rule decided it
        if made.forced and getattr(choice, "value", "unset") in (None, "auto"):
            forced.append(", ".join(t.name for t in made.tools))
        return made

    monkeypatch.setattr(planning, "tool_mode", watched_mode)
    monkeypatch.setattr(planning, "Plan", watched_plan)
    yield
    if forced and request.node.get_closest_marker("plumbing") is None:
        pytest.fail(
            f"{request.node.nodeid}: the test model's forced tool-call rule made {len(forced)} call(s) "
            f"(tools offered: {forced[0]}); mark the test @pytest.mark.plumbing",
            pytrace=False,
        )
