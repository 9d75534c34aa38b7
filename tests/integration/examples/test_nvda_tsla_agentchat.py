"""The AgentChat coder/executor team on the embedded server: bounded turns, code run in the work dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nvda_tsla_agentchat
import pytest

from integrations import OllamaSettings

# autogen-ext warns that local execution is unsafe and unapproved; the example accepts that on purpose
# (model code is confined to the work dir with a timeout), so the warnings are expected here.
EXPECTED_WARNINGS = [
    pytest.mark.filterwarnings("ignore:Using LocalCommandLineCodeExecutor:UserWarning"),
    pytest.mark.filterwarnings("ignore:No approval function set:UserWarning"),
]
pytestmark = [pytest.mark.slow, *EXPECTED_WARNINGS]


def test_team_takes_turns_and_stops_at_the_message_bound(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    # task, coder, executor: three messages, then MaxMessageTermination stops the team.
    result = asyncio.run(
        nvda_tsla_agentchat.run(tiny_settings, work_dir=tmp_path, max_turns=3, timeout=20, live_data=False)
    )

    sources = [source for source, _, _ in result.messages]
    assert sources[:3] == ["user", "coder", "executor"]
    assert "Maximum number of messages 3 reached" in result.stop_reason or "TERMINATE" in result.stop_reason
    assert (tmp_path / nvda_tsla_agentchat.DATA).is_file()
    if result.code_runs:
        assert list(tmp_path.glob("tmp_code_*")), "the model's code was saved and run in the work dir"
    assert all(path.resolve().is_relative_to(tmp_path.resolve()) for path in result.files)
