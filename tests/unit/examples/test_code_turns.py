"""Code mode's turn order: a reply's code runs before any end-of-chat check, and a reply without code is asked again.

These use scripted models (an AG2 agent with a canned reply function, AgentChat's
``ReplayChatCompletionClient``) because a real model cannot be made to refuse, or to put
``TERMINATE`` after its code, on demand. The examples themselves run on real models in
``tests/integration/examples``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import _chart_task
import nvda_tsla
import nvda_tsla_agentchat

from integrations import OllamaSettings
from tests.unit.examples.test_nvda_tsla import GOOD_SCRIPT

REFUSAL = "I'm sorry, but I can't assist with that."
BROKEN = GOOD_SCRIPT.replace('("NVDA", "TSLA")', '("NVDA", "TESLA")')
SETTINGS = OllamaSettings(model="scripted", host="http://127.0.0.1:9", check=False)  # never asked: scripted models


def fenced(code: str, tail: str = "") -> str:
    return f"Here is the program:\n```python\n{code}\n```\n{tail}"


def ag2_chat(tmp_path: Path, replies: list[str], max_turns: int = 6) -> tuple[nvda_tsla.Result, Any]:
    from autogen import Agent

    script = iter(replies)
    prices = _chart_task.stage_data(tmp_path, live=False)
    assistant = nvda_tsla.code_assistant(SETTINGS, prices, tmp_path)
    # The script stands in for the model: it answers before the LLM reply function would.
    assistant.register_reply([Agent, None], lambda *args, **kwargs: (True, next(script)), position=0)
    result = nvda_tsla.Result(mode="code", work_dir=tmp_path, executor="none", data_source="sample")
    proxy, turns = nvda_tsla.code_user_proxy(tmp_path, result, prices, timeout=30, max_turns=max_turns)
    nvda_tsla.converse(proxy, assistant, turns, task=nvda_tsla.TASK)
    return result, assistant


def test_code_followed_by_terminate_still_runs(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(GOOD_SCRIPT, "TERMINATE")])

    assert result.exit_codes == [0] and result.termination == "chart-written" and result.ok
    assert result.turns == 1 and result.openings == 1


def test_terminate_does_not_end_the_chat_before_the_task_is_done(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN, "TERMINATE"), "TERMINATE", fenced(GOOD_SCRIPT, "TERMINATE")])

    assert result.exit_codes == [1, 0] and result.turns == 3 and result.ok
    replies_to_model = [m["content"] for m in result.messages if m.get("name") == "user_proxy"][1:]
    assert "KeyError: 'TESLA'" in replies_to_model[0] and "no ```python block" in replies_to_model[1]


def test_a_refused_opening_is_asked_again_in_a_fresh_chat(tmp_path: Path) -> None:
    result, assistant = ag2_chat(tmp_path, [REFUSAL, fenced(GOOD_SCRIPT)])

    assert result.openings == 2 and result.turns == 2 and result.ok
    history = [m["content"] for m in next(iter(assistant.chat_messages.values()))]
    assert history[0] == _chart_task.opening_retry() and REFUSAL not in history, "the retry starts afresh"


def test_turns_are_bounded_and_the_last_reply_still_runs(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN)] * 5, max_turns=3)

    assert result.turns == 3 and result.exit_codes == [1, 1, 1] and result.termination == "max-turns"
    assert not result.ok


def test_agentchat_retries_a_refusal_and_runs_code_before_stopping(tmp_path: Path) -> None:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient([REFUSAL, fenced(BROKEN, "TERMINATE"), fenced(GOOD_SCRIPT, "TERMINATE")])
    result = asyncio.run(
        nvda_tsla_agentchat.run(SETTINGS, work_dir=tmp_path, max_turns=4, timeout=30, live_data=False, client=client)
    )

    assert result.openings == 2 and result.turns == 3 and result.exit_codes == [1, 0]
    assert result.termination == "chart-written" and result.ok
    coder_said = [text for source, _, text in result.messages if source == "coder"]
    assert coder_said[0] == REFUSAL and len(coder_said) == 3


def test_a_program_sent_again_unchanged_is_called_out(tmp_path: Path) -> None:
    """Small models resend a failing program as it was; the reply says so, and only then."""
    respaced = BROKEN.replace("import csv", "import csv  # the same program, commented")
    result, _ = ag2_chat(
        tmp_path, [fenced(BROKEN), fenced(respaced), fenced(BROKEN.replace("TESLA", "TSLAX")), fenced(GOOD_SCRIPT)]
    )

    replies = [m["content"] for m in result.messages if m.get("name") == "user_proxy"][1:]
    assert [r.startswith(_chart_task.REPEATED) for r in replies] == [False, True, False]
    assert result.ok and result.turns == 4


def test_agentchat_calls_out_a_program_sent_again(tmp_path: Path) -> None:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient([fenced(BROKEN), fenced(BROKEN), fenced(GOOD_SCRIPT)])
    result = asyncio.run(
        nvda_tsla_agentchat.run(SETTINGS, work_dir=tmp_path, max_turns=4, timeout=30, live_data=False, client=client)
    )

    executor_said = [text for source, _, text in result.messages if source == "executor"]
    assert [t.startswith(_chart_task.REPEATED) for t in executor_said] == [False, True, False]
    assert result.turns == 3 and result.exit_codes == [1, 1, 0] and result.ok


def test_after_three_failed_replies_the_chat_starts_over_once_from_a_clean_history(tmp_path: Path) -> None:
    result, assistant = ag2_chat(tmp_path, [fenced(BROKEN)] * 3 + [fenced(BROKEN), fenced(GOOD_SCRIPT)])

    assert result.ok and result.turns == 5 and result.openings == 2 and result.fresh_starts == 1
    history = [m["content"] for m in next(iter(assistant.chat_messages.values()))]
    assert history[0] == _chart_task.fresh_opening() and len(history) == 4, "the second chat holds only its own turns"
    replies = [m["content"] for m in result.messages if m.get("name") == "user_proxy"]
    assert not any(r.startswith(_chart_task.REPEATED) for r in replies[-2:]), "the clean chat has no 'previous' program"


def test_only_one_fresh_start_and_the_turn_bound_holds(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN)] * 9, max_turns=8)

    assert result.turns == 8 and result.openings == 2 and result.fresh_starts == 1
    assert result.termination == "max-turns" and not result.ok


def test_agentchat_starts_over_once_after_three_failed_replies(tmp_path: Path) -> None:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient([fenced(BROKEN)] * 3 + [fenced(GOOD_SCRIPT)])
    result = asyncio.run(
        nvda_tsla_agentchat.run(SETTINGS, work_dir=tmp_path, max_turns=6, timeout=30, live_data=False, client=client)
    )

    assert result.ok and result.turns == 4 and result.openings == 2 and result.fresh_starts == 1
    users = [text for source, kind, text in result.messages if source == "user"]
    assert users == [nvda_tsla_agentchat.TASK, _chart_task.fresh_opening()]
