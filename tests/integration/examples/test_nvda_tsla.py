"""The announcement's NVDA/TSLA workflow end to end on the embedded server with smollm2:135m."""

from __future__ import annotations

import re
from pathlib import Path

import _common
import nvda_tsla
import pytest

from integrations import OllamaSettings
from integrations.coding import python_blocks

pytestmark = pytest.mark.slow


@pytest.mark.plumbing
def test_tools_mode_saves_the_chart(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    result = nvda_tsla.run(tiny_settings, work_dir=tmp_path, mode="auto", max_turns=3, live_data=False)

    assert result.mode == "tools", "auto picks tools for a tiny model"
    assert result.tool_calls[0] == "plot_price_change"
    assert result.chart is not None and result.chart.parent == tmp_path
    assert result.chart.read_bytes()[:8] == _common.PNG_SIGNATURE and result.chart.stat().st_size > 1024
    assert result.chart in result.files and result.data_source == "sample"
    roles = [m.get("role") for m in result.messages]
    assert len(result.messages) >= 4 and "tool" in roles, roles
    assert result.termination == "text-reply" and result.turns >= 1
    assert result.ok


def test_code_mode_runs_every_reply_with_code_then_stops(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    # The tiny model's code is not expected to work; the flow is: data staged, each reply's code run, bounded.
    result = nvda_tsla.run(tiny_settings, work_dir=tmp_path, mode="code", max_turns=2, timeout=20, live_data=False)

    assert result.mode == "code" and result.executor == "local"
    assert (tmp_path / nvda_tsla.DATA).read_text().startswith("date,NVDA,TSLA\n")
    assert result.messages[0]["content"] == nvda_tsla.TASK
    assert 1 <= result.turns <= 2 and result.openings in (1, 2)
    replies = [m["content"] for m in result.messages if m.get("name") == "assistant"]
    with_code = [r for r in replies if python_blocks(str(r))]
    assert len(result.exit_codes) == len(with_code), "every reply that carried code was run"
    assert result.termination in {"chart-written", "max-turns"}
    assert result.ok == (result.termination == "chart-written")
    if result.code_blocks:
        assert list(tmp_path.glob("code_*.py")), "executed code is saved and run in the work dir"


@pytest.mark.plumbing
def test_main_prints_where_the_chart_is(
    ollama_settings: OllamaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", ollama_settings.model, "--host", ollama_settings.host, "--max-tokens", "256", "--seed", "1"]
    code = nvda_tsla.main([*argv, "--max-turns", "3", "--offline", "--work-dir", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 0, out
    match = re.search(r"chart: (\S+\.png)", out)  # the model names the file; the tool keeps it in the work dir
    assert match and "mode tools" in out, out
    chart = Path(match.group(1))
    assert chart.parent == tmp_path and chart.read_bytes()[:8] == _common.PNG_SIGNATURE
