"""The tool-calling agent end to end on the embedded server: real calls to the registered functions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import tool_calling

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


@pytest.mark.plumbing
def test_each_question_is_answered_after_a_function_call(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=128, seed=1)

    result = asyncio.run(tool_calling.run(settings, work_dir=tmp_path, max_turns=2, live_data=False))

    kinds = [kind for _, kind, _ in result.messages]
    assert kinds.count("ToolCallRequestEvent") == 2 and kinds.count("ToolCallExecutionEvent") == 2, kinds
    assert len(result.tool_calls) == 2 and set(result.tool_calls) <= {"lookup_price", "plot_prices"}
    assert result.tool_errors == 0
    assert len(result.answers) == 2 and all(answer.strip() for answer in result.answers)
    assert kinds[-1] == "TextMessage", "the run ends with a text answer after the tool result"
    if "plot_prices" in result.tool_calls:
        assert any(p.suffix == ".png" and p.read_bytes()[:4] == b"\x89PNG" for p in result.files)
    assert result.ok
