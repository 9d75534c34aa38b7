"""The group chat's turn order and checks with scripted agents: the analyst speaks only after the chart is checked,
and a caption that does not give the printed changes is asked for again, once.

Scripted because a real model cannot be made to write a wrong caption on demand; the group chat
runs on real models in tests/integration/examples and benchmarks/agents.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import group_chat
import pytest

from integrations import OllamaSettings
from tests.unit.examples.test_nvda_tsla import GOOD_SCRIPT

SETTINGS = OllamaSettings(model="scripted", host="http://127.0.0.1:9", check=False)
BROKEN = GOOD_SCRIPT.replace('("NVDA", "TSLA")', '("NVDA", "TESLA")')


def scripted(monkeypatch: pytest.MonkeyPatch, scripts: dict[str, list[str]], seen: dict[str, Any] | None = None) -> None:
    """Every AssistantAgent the example builds answers from ``scripts[name]`` instead of a model (and is kept in
    ``seen``)."""
    import autogen

    class Scripted(autogen.AssistantAgent):  # type: ignore[misc]
        def __init__(self, name: str, **kwargs: Any) -> None:
            super().__init__(name, **kwargs)
            if seen is not None:
                seen[name] = self
            lines: Iterator[str] = iter(scripts[name])
            self.register_reply([autogen.Agent, None], lambda *a, **k: (True, next(lines)), position=0)

    monkeypatch.setattr(autogen, "AssistantAgent", Scripted)


def test_the_analyst_captions_only_a_checked_chart_and_is_asked_again_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted(
        monkeypatch,
        {
            "coder": [f"```python\n{BROKEN}\n```", f"```python\n{GOOD_SCRIPT}\n```"],
            "analyst": ["Both stocks moved.", "NVDA rose 75.22% and TSLA fell 33.07% since the first close."],
        },
    )
    result = group_chat.run(SETTINGS, work_dir=tmp_path, max_turns=4, timeout=30, live_data=False)

    assert result.speakers == ["user", "coder", "executor", "coder", "executor", "analyst", "chat_manager", "analyst"]
    assert result.exit_codes == [1, 0] and result.caption_ok and result.ok
    assert "must give NVDA" in str(result.messages[6]["content"])
    assert "The program printed:\nNVDA: 75.22\nTSLA: -33.07" in str(result.messages[6]["content"])
    assert (tmp_path / group_chat.CAPTION).read_text().startswith("NVDA rose 75.22%")


def test_a_caption_wrong_twice_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    scripted(monkeypatch, {"coder": [f"```python\n{GOOD_SCRIPT}\n```"], "analyst": ["Up.", "Down."]}, seen)
    result = group_chat.run(SETTINGS, work_dir=tmp_path, max_turns=4, timeout=30, live_data=False)

    analyst_read = [m["content"] for m in next(iter(seen["analyst"].chat_messages.values()))]
    assert analyst_read[0].startswith("Not yet") and "Up." not in analyst_read, "the retry starts from a clean slate"

    assert result.speakers.count("analyst") == group_chat.ANALYST_TRIES
    assert result.verdict is not None and result.verdict.met and not result.caption_ok and not result.ok
    assert not (tmp_path / group_chat.CAPTION).exists()


def test_after_three_failures_every_member_forgets_them_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    scripted(
        monkeypatch,
        {
            "coder": [f"```python\n{BROKEN}\n```"] * 3 + [f"```python\n{GOOD_SCRIPT}\n```"],
            "analyst": ["NVDA rose 75.22% and TSLA fell 33.07% since the first close."],
        },
        seen,
    )
    result = group_chat.run(SETTINGS, work_dir=tmp_path, max_turns=6, timeout=30, live_data=False)

    assert result.exit_codes == [1, 1, 1, 0] and result.ok
    coder_read = [m["content"] for m in next(iter(seen["coder"].chat_messages.values()))]
    assert coder_read[0].startswith("Start from scratch"), "the coder's model reads the fresh opening first"
    assert len(coder_read) == 4, "then only its new program, the result and the caption"
    assert result.speakers.count("coder") == 4, "the group's record keeps every turn"
