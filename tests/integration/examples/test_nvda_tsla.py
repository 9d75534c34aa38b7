"""The announcement's NVDA/TSLA workflow end to end on the embedded server with smollm2:135m."""

from __future__ import annotations

from pathlib import Path

import _common
import nvda_tsla
import pytest

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


def test_tools_mode_saves_the_chart(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    result = nvda_tsla.run(tiny_settings, work_dir=tmp_path, mode="auto", max_turns=3, live_data=False)

    assert result.mode == "tools", "auto picks tools for a tiny model"
    assert result.tool_calls[0] == "plot_price_change"
    assert result.chart is not None and result.chart.parent == tmp_path
    assert result.chart.read_bytes()[:8] == _common.PNG_SIGNATURE and result.chart.stat().st_size > 1024
    assert result.chart in result.files and result.data_source == "sample"
    roles = [m.get("role") for m in result.messages]
    assert len(result.messages) >= 4 and "tool" in roles, roles
    assert result.termination in {"text-reply", "TERMINATE"}
    assert result.ok


def test_code_mode_runs_the_model_code_in_the_work_dir(tiny_settings: OllamaSettings, tmp_path: Path) -> None:
    # The tiny model's code is not expected to work; the plumbing is: data staged, code run there, bounded.
    result = nvda_tsla.run(tiny_settings, work_dir=tmp_path, mode="code", max_turns=2, timeout=20, live_data=False)

    assert result.mode == "code" and result.executor == "local"
    assert (tmp_path / nvda_tsla.DATA).read_text().startswith("date,NVDA,TSLA,note")
    assert len(result.messages) >= 2 and result.messages[0]["content"] == nvda_tsla.TASK
    if result.termination == "max-turns":
        assert len(result.messages) == 4, "two turns: task, reply, execution output or nudge, reply"
    else:
        assert result.termination == "TERMINATE"
    assert len(result.exit_codes) <= 2
    if result.code_blocks:
        assert list(tmp_path.glob("tmp_code_*")), "executed code is saved and run in the work dir"


def test_main_prints_where_the_chart_is(
    ollama_settings: OllamaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", ollama_settings.model, "--host", ollama_settings.host, "--max-tokens", "256", "--seed", "1"]
    code = nvda_tsla.main([*argv, "--max-turns", "3", "--offline", "--work-dir", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert str(tmp_path / nvda_tsla.CHART) in out and "mode tools" in out
