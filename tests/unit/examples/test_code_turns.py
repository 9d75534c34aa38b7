"""Code mode's turn order on the library's loop: a reply's code runs before any end-of-chat check, words never end it.

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
from integrations.coding import REPEATED
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
    assistant, proxy, verdicts = nvda_tsla.code_pair(
        SETTINGS, prices, tmp_path, task=nvda_tsla.TASK, max_turns=max_turns, timeout=30
    )
    # The script stands in for the model: it answers before the LLM reply function would.
    assistant.register_reply([Agent, None], lambda *args, **kwargs: (True, next(script)), position=0)
    proxy.initiate_chat(assistant, message=nvda_tsla.TASK, silent=True)
    result = nvda_tsla.Result(mode="code", work_dir=tmp_path, executor="local", data_source="sample")
    nvda_tsla.record(result, proxy.code_loop, verdicts)
    return result, assistant


def agentchat_run(tmp_path: Path, replies: list[str], max_turns: int) -> nvda_tsla_agentchat.Result:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient(replies)
    return asyncio.run(
        nvda_tsla_agentchat.run(
            SETTINGS, work_dir=tmp_path, max_turns=max_turns, timeout=30, live_data=False, client=client
        )
    )


def proxy_said(result: nvda_tsla.Result) -> list[str]:
    return [m["content"] for m in result.messages if m.get("name") == "user_proxy"][1:]  # after the task


def test_code_followed_by_terminate_still_runs(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(GOOD_SCRIPT, "TERMINATE")])

    assert result.exit_codes == [0] and result.termination == "chart-written" and result.ok
    assert result.turns == 1 and result.openings == 1


def test_terminate_does_not_end_the_chat_before_the_task_is_done(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN, "TERMINATE"), "TERMINATE", fenced(GOOD_SCRIPT, "TERMINATE")])

    assert result.exit_codes == [1, 0] and result.turns == 3 and result.ok
    said = proxy_said(result)
    assert "KeyError: 'TESLA'" in said[0] and "not done yet" in said[1] and "was not saved" in said[1]


def test_a_refused_opening_is_asked_again(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [REFUSAL, fenced(GOOD_SCRIPT)])

    assert result.turns == 2 and result.exit_codes == [0] and result.ok
    assert proxy_said(result)[0].startswith("Write the program now") and nvda_tsla.TASK in proxy_said(result)[0]


def test_turns_are_bounded_and_the_last_reply_still_runs(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN)] * 5, max_turns=3)

    assert result.turns == 3 and result.exit_codes == [1, 1, 1] and result.termination == "max-turns"
    assert not result.ok


def test_agentchat_retries_a_refusal_and_runs_code_before_stopping(tmp_path: Path) -> None:
    result = agentchat_run(tmp_path, [REFUSAL, fenced(BROKEN, "TERMINATE"), fenced(GOOD_SCRIPT, "TERMINATE")], 4)

    assert result.turns == 3 and result.exit_codes == [1, 0]
    assert result.termination == "chart-written" and result.ok
    coder_said = [text for source, _, text in result.messages if source == "coder"]
    assert coder_said[0] == REFUSAL and len(coder_said) == 3


def test_a_program_sent_again_unchanged_is_called_out(tmp_path: Path) -> None:
    """Small models resend a failing program as it was; the reply says so, and only then."""
    respaced = BROKEN.replace("import csv", "import csv  # the same program, commented")
    result, _ = ag2_chat(
        tmp_path, [fenced(BROKEN), fenced(respaced), fenced(BROKEN.replace("TESLA", "TSLAX")), fenced(GOOD_SCRIPT)]
    )

    # The third failure starts the chat over; the fresh opening restates the task instead of calling out.
    assert [r.startswith(REPEATED) for r in proxy_said(result)] == [False, True, False]
    assert result.ok and result.turns == 4


def test_agentchat_calls_out_a_program_sent_again(tmp_path: Path) -> None:
    result = agentchat_run(tmp_path, [fenced(BROKEN), fenced(BROKEN), fenced(GOOD_SCRIPT)], 4)

    executor_said = [text for source, _, text in result.messages if source == "executor"]
    assert len(executor_said) == 3 and executor_said[-1].startswith("Done")
    assert [t.startswith(REPEATED) for t in executor_said] == [False, True, False]


def test_after_three_failed_replies_the_chat_starts_over_once_from_a_clean_history(tmp_path: Path) -> None:
    result, assistant = ag2_chat(tmp_path, [fenced(BROKEN)] * 3 + [fenced(BROKEN), fenced(GOOD_SCRIPT)])

    assert result.ok and result.turns == 5 and result.openings == 2 and result.fresh_starts == 1
    history = [m["content"] for m in next(iter(assistant.chat_messages.values()))]
    assert history[0].startswith("Start from scratch") and nvda_tsla.TASK in history[0]
    assert len(history) == 4, "the second chat holds only its own turns"
    assert not any(r.startswith(REPEATED) for r in proxy_said(result)[-2:]), "the clean chat has no 'previous' program"


def test_only_one_fresh_start_and_the_turn_bound_holds(tmp_path: Path) -> None:
    result, _ = ag2_chat(tmp_path, [fenced(BROKEN)] * 9, max_turns=8)

    assert result.turns == 8 and result.openings == 2 and result.fresh_starts == 1
    assert result.termination == "max-turns" and not result.ok


def test_agentchat_starts_over_once_after_three_failed_replies(tmp_path: Path) -> None:
    result = agentchat_run(tmp_path, [fenced(BROKEN)] * 3 + [fenced(GOOD_SCRIPT)], 6)

    assert result.ok and result.turns == 4 and result.openings == 2 and result.fresh_starts == 1
    executor_said = [text for source, _, text in result.messages if source == "executor"]
    assert executor_said[2].startswith("Start from scratch") and nvda_tsla_agentchat.TASK in executor_said[2]
