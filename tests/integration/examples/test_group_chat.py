"""The four-agent group chat on the embedded server: fixed speaker order, bounded rounds, code run in the work dir."""

from __future__ import annotations

from pathlib import Path

import group_chat
import pytest

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


def test_each_role_speaks_in_order_within_max_round(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=128, seed=1)

    result = group_chat.run(settings, work_dir=tmp_path, max_turns=5, timeout=20, live_data=False)

    order = ["user", "planner", "coder", "executor", "critic"]
    if result.termination == "max-rounds":
        assert result.speakers == order
    else:
        assert result.termination == "TERMINATE" and result.speakers == order[: len(result.speakers)]
    assert result.messages[0]["content"] == group_chat.TASK
    assert (tmp_path / group_chat.DATA).is_file()
    assert len(result.exit_codes) <= 1, "the executor speaks once in five rounds"
    if result.code_blocks:
        assert list(tmp_path.glob("tmp_code_*")), "the coder's code was saved and run in the work dir"
