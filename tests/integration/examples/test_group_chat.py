"""The four-agent group chat on the embedded server: fixed speaker order, bounded turns, code run in the work dir."""

from __future__ import annotations

from pathlib import Path

import _chart_task
import group_chat
import pytest

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


def test_roles_speak_in_order_and_every_program_runs(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=128, seed=1)

    result = group_chat.run(settings, work_dir=tmp_path, max_turns=1, timeout=20, live_data=False)

    assert result.speakers[:3] == ["user", "planner", "coder"]
    assert result.messages[0]["content"] == group_chat.TASK
    assert (tmp_path / group_chat.DATA).is_file()
    coder = [m["content"] for m in result.messages if m.get("name") == "coder"]
    with_code = [c for c in coder if _chart_task.python_blocks(str(c))]
    assert result.turns == len(coder) <= 2, "one coder reply, plus one more when the first had no code"
    assert len(result.exit_codes) == len(with_code), "every reply that carried code was run"
    assert result.termination in {"chart-written", "max-turns"} and result.ok == (result.termination == "chart-written")
    if result.code_blocks:
        assert list(tmp_path.glob("code_*.py")), "the coder's code was saved and run in the work dir"
