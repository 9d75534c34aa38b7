"""The coding helpers end to end on the embedded server: AG2's pair and AgentChat's team, as a user's script runs them.

The 135M test double cannot write working programs, so its runs check the plumbing (every
reply judged, the chat bounded, nothing ends it but the loop); the decider model
(qwen2.5-coder:0.5b) writes a real program that the loop runs and checks. Success rates
on the task set are a benchmark figure (``benchmarks/agents.py --tasks``), not a test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

HIST = "Plot a histogram of 1,000 normal samples drawn with seed 0 and save hist.png."
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 1024


def test_code_agents_are_bounded_and_judge_every_reply_on_the_test_model(ollama_settings: Any, tmp_path: Path) -> None:
    from integrations.autogen import code_agents

    assistant, user_proxy = code_agents(settings=ollama_settings.merged(seed=1), work_dir=tmp_path, max_replies=3)
    chat = user_proxy.initiate_chat(assistant, message=HIST, silent=True)
    loop = user_proxy.code_loop
    replies = [m for m in chat.chat_history if m.get("name") == "assistant"]
    assert loop.replies == 3 == len(replies)  # each model reply judged, none beyond the bound
    assert loop.ending == "max-replies" and not loop.finished
    assert loop.task == HIST and loop.outputs == ["hist.png"]


@pytest.mark.slow
def test_code_agents_write_a_histogram_with_the_decider_model(
    ollama_settings: Any, decider_model: str, tmp_path: Path
) -> None:
    from integrations.autogen import code_agents

    settings = ollama_settings.merged(model=decider_model, seed=1, temperature=0.0)
    assistant, user_proxy = code_agents(HIST, settings=settings, work_dir=tmp_path)
    user_proxy.initiate_chat(assistant, message=HIST, silent=True)
    loop = user_proxy.code_loop
    assert loop.finished, [(r.exit_code, r.output[-300:]) for r in loop.runs]
    assert loop.runs[-1].exit_code == 0 and _is_png(tmp_path / "hist.png")


@pytest.mark.slow
def test_code_team_writes_a_histogram_with_the_decider_model(
    ollama_settings: Any, decider_model: str, tmp_path: Path
) -> None:
    from integrations.agentchat import code_team

    settings = ollama_settings.merged(model=decider_model, seed=1, temperature=0.0)

    async def run() -> Any:
        team = code_team(settings=settings, work_dir=tmp_path)
        try:
            return team, await team.run(task=HIST)
        finally:
            await team.code_client.close()

    team, result = asyncio.run(run())
    loop = team.code_loop
    assert loop.finished, [(r.exit_code, r.output[-300:]) for r in loop.runs]
    assert _is_png(tmp_path / "hist.png")
    assert result.messages[-1].source == "executor" and result.messages[-1].content.startswith("Done")
