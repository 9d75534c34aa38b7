"""The AgentChat executor agent runs a known-good plotting script in the work dir, judges it, and kills slow code."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import _chart_task
import nvda_tsla_agentchat

from tests.unit.examples.test_nvda_tsla import GOOD_SCRIPT


async def execute(work_dir: Path, code: str, timeout: int) -> tuple[Any, nvda_tsla_agentchat.Result]:
    prices = _chart_task.stage_data(work_dir, live=False)
    result = nvda_tsla_agentchat.Result(work_dir=work_dir, data_source=prices.source)
    executor, agent, _ = nvda_tsla_agentchat.executor_agent(work_dir, timeout=timeout, result=result, prices=prices)
    await executor.start()
    try:
        return await agent.run(task=f"```python\n{code}\n```"), result
    finally:
        await executor.stop()


def test_known_good_script_writes_the_chart_and_meets_the_criterion(tmp_path: Path) -> None:
    outcome, result = asyncio.run(execute(tmp_path, GOOD_SCRIPT, timeout=60))

    assert outcome.messages[-1].source == "executor" and "(checked)" in outcome.messages[-1].to_text()
    assert result.ok and result.termination == "chart-written" and result.exit_codes == [0]
    chart = tmp_path / nvda_tsla_agentchat.CHART
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 1024
    assert list(tmp_path.glob("code_*.py")), "the code file is kept in the work dir"


def test_slow_code_is_stopped_at_the_timeout_and_the_model_is_told_why(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, result = asyncio.run(execute(tmp_path, "import time\ntime.sleep(30)\nopen('late.txt', 'w')", timeout=2))
    assert time.monotonic() - started < 15
    assert result.exit_codes == [124] and "stopped after 2 s" in outcome.messages[-1].to_text()
    assert not (tmp_path / "late.txt").exists()
