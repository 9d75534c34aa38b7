"""The AgentChat executor agent runs a known-good plotting script in the work dir, and kills slow code."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import _market
import nvda_tsla_agentchat
import pytest

from tests.unit.examples.test_nvda_tsla import GOOD_SCRIPT

# autogen-ext warns that local execution is unsafe and unapproved; the example accepts that on purpose
# (model code is confined to the work dir with a timeout), so the warnings are expected here.
EXPECTED_WARNINGS = [
    pytest.mark.filterwarnings("ignore:Using LocalCommandLineCodeExecutor:UserWarning"),
    pytest.mark.filterwarnings("ignore:No approval function set:UserWarning"),
]
pytestmark = EXPECTED_WARNINGS


async def execute(work_dir: Path, code: str, timeout: int) -> Any:
    executor, agent = nvda_tsla_agentchat.executor_agent(work_dir, timeout=timeout)
    await executor.start()
    try:
        return await agent.run(task=f"```python\n{code}\n```")
    finally:
        await executor.stop()


def test_known_good_script_writes_the_chart(tmp_path: Path) -> None:
    _market.load_sample().write_csv(tmp_path / nvda_tsla_agentchat.DATA)

    outcome = asyncio.run(execute(tmp_path, GOOD_SCRIPT, timeout=60))

    assert outcome.messages[-1].source == "executor" and "saved" in outcome.messages[-1].to_text()
    chart = tmp_path / nvda_tsla_agentchat.CHART
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 1024
    assert list(tmp_path.glob("tmp_code_*.py")), "the code file is kept in the work dir"


def test_slow_code_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = asyncio.run(execute(tmp_path, "import time\ntime.sleep(30)\nopen('late.txt', 'w')", timeout=2))
    assert time.monotonic() - started < 15
    assert "timed out" in outcome.messages[-1].to_text().lower() or "timeout" in outcome.messages[-1].to_text().lower()
    assert not (tmp_path / "late.txt").exists()
