"""The AgentChat example's team runs a known-good plotting script in the work dir, judges it, and kills slow code.

The coder is scripted (``ReplayChatCompletionClient``): what is tested is the example's
wiring of the library's ``code_team`` to its task, not a model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nvda_tsla_agentchat

from integrations import OllamaSettings
from tests.unit.examples.test_nvda_tsla import GOOD_SCRIPT

SETTINGS = OllamaSettings(model="scripted", host="http://127.0.0.1:9", check=False)


def execute(work_dir: Path, code: str, timeout: int) -> nvda_tsla_agentchat.Result:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    client = ReplayChatCompletionClient([f"```python\n{code}\n```"])
    return asyncio.run(
        nvda_tsla_agentchat.run(
            SETTINGS, work_dir=work_dir, max_turns=1, timeout=timeout, live_data=False, client=client
        )
    )


def test_known_good_script_writes_the_chart_and_meets_the_criterion(tmp_path: Path) -> None:
    result = execute(tmp_path, GOOD_SCRIPT, timeout=60)

    assert result.messages[-1][0] == "executor" and result.messages[-1][2].startswith("Done")
    assert result.ok and result.termination == "chart-written" and result.exit_codes == [0]
    chart = tmp_path / nvda_tsla_agentchat.CHART
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 1024
    assert list(tmp_path.glob("code_*.py")), "the code file is kept in the work dir"


def test_slow_code_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    result = execute(tmp_path, "import time\ntime.sleep(30)\nopen('late.txt', 'w')", timeout=2)
    assert time.monotonic() - started < 15
    assert result.exit_codes == [124] and not result.ok
    assert not (tmp_path / "late.txt").exists()
