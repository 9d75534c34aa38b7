"""The AgentChat coder/executor team on the embedded server: bounded turns, code run in the work dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nvda_tsla_agentchat
import pytest

from integrations import OllamaSettings
from integrations.coding import python_blocks

# No warning filter: the example runs model code through the library's confined loop, so autogen-ext's
# warnings about its unconfined local executor would fail this test (pytest turns warnings into errors).
pytestmark = pytest.mark.slow


def test_team_runs_every_program_and_stops_at_the_turn_bound(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    result = asyncio.run(
        nvda_tsla_agentchat.run(tiny_settings, work_dir=tmp_path, max_turns=2, timeout=20, live_data=False)
    )

    sources = [source for source, _, _ in result.messages]
    assert sources[:3] == ["user", "coder", "executor"]
    coder = [text for source, _, text in result.messages if source == "coder"]
    assert result.turns == len(coder) <= 2
    assert result.code_runs == len([c for c in coder if python_blocks(c)]), "every program was run"
    assert result.termination in {"chart-written", "max-turns"}
    assert (tmp_path / nvda_tsla_agentchat.DATA).is_file()
    if result.code_runs:
        assert list(tmp_path.glob("code_*.py")), "the model's code was saved and run in the work dir"
    assert all(path.resolve().is_relative_to(tmp_path.resolve()) for path in result.files)
