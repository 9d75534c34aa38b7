"""The tool-calling example without a model: its functions, and the refusal of a model without tools."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import tool_calling

from integrations import CapabilityMissing, OllamaSettings
from tests.stub import Reply, Stub

# What Ollama's /api/show says about a model without tool support (codellama's real answer, trimmed).
SHOW_WITHOUT_TOOLS = {
    "details": {"family": "llama", "parameter_size": "7B", "quantization_level": "Q4_0"},
    "model_info": {"general.architecture": "llama", "llama.context_length": 16384},
    "capabilities": ["completion"],
}


def without_tools(stub: Stub) -> OllamaSettings:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(body=SHOW_WITHOUT_TOOLS))
    return OllamaSettings(host=stub.url, model="codellama")


def test_a_model_without_tools_is_refused_before_any_chat(stub: Stub, tmp_path: Path) -> None:
    settings = without_tools(stub)

    with pytest.raises(CapabilityMissing) as caught:
        asyncio.run(tool_calling.run(settings, work_dir=tmp_path))

    assert caught.value.model == "codellama" and caught.value.capability == "tools"
    assert "does not support tools" in str(caught.value)
    assert not stub.bodies("/v1/chat/completions"), "no chat request is sent"


def test_main_reports_the_missing_capability_in_one_line(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without_tools(stub)
    code = tool_calling.main(["--host", stub.url, "--model", "codellama", "--work-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "'codellama' does not support tools" in err and len(err.strip().splitlines()) == 1


def test_functions_answer_from_the_sample_and_stay_in_the_work_dir(tmp_path: Path) -> None:
    result = tool_calling.Result(work_dir=tmp_path)
    lookup, plot = tool_calling.stock_tools(tmp_path, result, live=False)

    assert "SYNTHETIC" in lookup("NVDA") and "closed at" in lookup("TSLA", "2026-03-02")
    assert "must look like" in lookup("NVDA", "yesterday")
    assert "Saved chart.png" in plot(["TSLA"], "../chart.jpg")
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert result.tool_calls == ["lookup_price", "lookup_price", "lookup_price", "plot_prices"]
