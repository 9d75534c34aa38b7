"""The group chat on the embedded server: fixed speaker order, bounded turns, code run in the work dir.

The 135M test double cannot write the program, so this checks the wiring; the success rate on
a model that writes code is a benchmark figure (benchmarks/agents.py).
"""

from __future__ import annotations

from pathlib import Path

import group_chat
import pytest

from integrations import OllamaSettings
from integrations.coding import python_blocks

pytestmark = pytest.mark.slow


def test_roles_speak_in_order_and_every_program_runs(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=128, seed=1)

    result = group_chat.run(settings, work_dir=tmp_path, max_turns=2, timeout=20, live_data=False)

    assert result.speakers[:3] == ["user", "coder", "executor"]
    assert result.messages[0]["content"] == group_chat.TASK
    assert (tmp_path / group_chat.DATA).is_file()
    coder = [m["content"] for m in result.messages if m.get("name") == "coder"]
    with_code = [c for c in coder if python_blocks(str(c))]
    assert result.turns == len(coder) == 2, "the coder speaks until the bound, the executor after each reply"
    assert result.speakers[1:5] == ["coder", "executor", "coder", "executor"]
    assert len(result.exit_codes) == len(with_code), "every reply that carried code was run"
    assert result.termination == "max-turns" and not result.ok and "analyst" not in result.speakers
    if result.code_blocks:
        assert list(tmp_path.glob("code_*.py")), "the coder's code was saved and run in the work dir"
