"""The NVDA/TSLA example's parts that need no model: code execution, the timeout, data, and the mode rule."""

from __future__ import annotations

import doctest
import os
import time
from pathlib import Path

import _chart_task
import _common
import _market
import nvda_tsla
import pytest

from integrations import OllamaSettings
from integrations.coding import CodeLoop

# What a capable model writes for the task, given the brief.
GOOD_SCRIPT = f"""
import csv
import matplotlib.pyplot as plt

with open("{nvda_tsla.DATA}", newline="") as handle:
    rows = list(csv.DictReader(handle))
dates = [row["date"] for row in rows]
for ticker in ("NVDA", "TSLA"):
    closes = [float(row[ticker]) for row in rows]
    change = [(c / closes[0] - 1) * 100 for c in closes]
    plt.plot(dates, change, label=ticker)
    print(ticker, round(change[-1], 2))
plt.title("NVDA vs TSLA YTD change (%) - sample data")
plt.legend()
plt.savefig("{nvda_tsla.CHART}")
plt.show()
"""


def ask_to_run(tmp_path: Path, code: str, *, timeout: int, max_turns: int = 6) -> tuple[str | None, nvda_tsla.Result]:
    """Give ``code`` to code mode's loop as if the assistant had written it; None means the chat ends."""
    prices = _chart_task.stage_data(tmp_path, live=False)
    verdicts: list[_chart_task.Verdict] = []
    done = _chart_task.check(prices, verdicts)
    loop = CodeLoop(tmp_path, task=nvda_tsla.TASK, done=done, timeout=timeout, max_replies=max_turns)
    step = loop.step(f"```python\n{code}\n```")
    result = nvda_tsla.Result(mode="code", work_dir=tmp_path, executor="local", data_source="sample")
    nvda_tsla.record(result, loop, verdicts)
    return step.message, result


def test_known_good_script_writes_the_chart_and_ends_the_chat(tmp_path: Path) -> None:
    reply, result = ask_to_run(tmp_path, GOOD_SCRIPT, timeout=60)

    assert reply is None, "the success criterion ends the chat: nothing more to say to the model"
    assert result.termination == "chart-written" and result.verdict is not None and result.verdict.met
    assert result.executor == "local" and result.exit_codes == [0] and len(result.code_blocks) == 1
    chart = tmp_path / nvda_tsla.CHART
    assert chart.read_bytes()[:8] == _common.PNG_SIGNATURE and chart.stat().st_size > 1024
    assert list(tmp_path.glob("code_*.py")), "the executed code is saved in the work dir"


def test_generated_code_plots_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With a display, matplotlib would pick an interactive backend and plt.show() would wait for a window.
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    script = "import os\nimport matplotlib\nprint('backend', os.environ.get('MPLBACKEND'), matplotlib.get_backend())"
    reply, result = ask_to_run(tmp_path, script, timeout=30)

    assert result.exit_codes == [0] and reply is not None
    assert "backend agg agg" in reply.lower()


def test_day_over_day_changes_are_not_a_success(tmp_path: Path) -> None:
    script = GOOD_SCRIPT.replace(
        "change = [(c / closes[0] - 1) * 100 for c in closes]",
        "change = [0.0] + [(b / a - 1) * 100 for a, b in zip(closes, closes[1:])]",
    )
    reply, result = ask_to_run(tmp_path, script, timeout=60)

    assert result.exit_codes == [0] and _common.is_png(tmp_path / nvda_tsla.CHART)
    assert result.verdict is not None and result.verdict.quantity == "other" and not result.ok
    assert reply is not None and "not the percent change since the first row" in reply


def test_a_wrong_column_gets_the_column_names_back(tmp_path: Path) -> None:
    reply, result = ask_to_run(tmp_path, GOOD_SCRIPT.replace('("NVDA", "TSLA")', '("NVDA", "TESLA")'), timeout=60)

    assert result.exit_codes == [1] and reply is not None
    assert "KeyError: 'TESLA'" in reply and "prices.csv: date,NVDA,TSLA" in reply
    assert "Traceback" not in reply.splitlines()[1], "only the traceback's last lines"


def test_generated_code_runs_in_the_work_dir_and_is_killed_at_the_timeout(tmp_path: Path) -> None:
    script = (
        "import os, pathlib, time\n"
        "pathlib.Path('where.txt').write_text(os.getcwd() + '\\n' + str(os.getpid()))\n"
        "time.sleep(30)\n"
        "pathlib.Path('survived.txt').write_text('should never happen')\n"
    )
    started = time.monotonic()
    reply, result = ask_to_run(tmp_path, script, timeout=2)
    elapsed = time.monotonic() - started

    assert elapsed < 15, f"a 2 s timeout took {elapsed:.1f} s"
    assert result.exit_codes == [124] and reply is not None and "stopped after 2 s" in reply
    cwd, pid = (tmp_path / "where.txt").read_text().splitlines()
    assert Path(cwd).resolve() == tmp_path.resolve()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
    time.sleep(0.5)
    assert not (tmp_path / "survived.txt").exists()


def test_failing_code_reports_its_exit_code(tmp_path: Path) -> None:
    reply, result = ask_to_run(tmp_path, "raise SystemExit(3)", timeout=10)
    assert result.exit_codes == [3] and reply is not None and "exit code 3" in reply


def test_sample_data_is_labelled_synthetic_and_starts_in_january() -> None:
    prices = _market.load_sample()
    assert prices.is_sample and "SYNTHETIC" in prices.note
    assert prices.dates[0].month == 1 and prices.dates[0].day <= 5
    assert prices.dates == sorted(prices.dates) and len(prices.dates) > 100
    assert set(prices.closes) == {"NVDA", "TSLA"}
    header = _market.SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[:2]
    assert header[0] == "date,NVDA,TSLA,note" and "SYNTHETIC" in header[1]


def test_offline_prices_fall_back_to_the_sample(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_market, "network_answers", lambda *args, **kwargs: False)  # offline, whatever the machine
    prices = _market.load_prices(["TSLA"], live=True)
    assert prices.is_sample and list(prices.closes) == ["TSLA"]
    printed = capsys.readouterr().out
    assert "live prices unavailable" in printed and "SYNTHETIC sample" in printed


def test_tool_writes_png_only_inside_the_work_dir(tmp_path: Path) -> None:
    result = nvda_tsla.Result(mode="tools", work_dir=tmp_path, executor="none", data_source="sample")
    plot, _ = nvda_tsla.price_tools(tmp_path, result, live=False)[0]

    answer = plot(["NVDA", "TSLA"], "../../escape.svg")

    assert result.chart == tmp_path / "escape.png"
    assert result.chart.read_bytes()[:8] == _common.PNG_SIGNATURE
    assert "SYNTHETIC" in answer and not (tmp_path.parent.parent / "escape.svg").exists()


@pytest.mark.parametrize(
    ("model", "requested", "task", "expected"),
    [
        ("smollm2:135m", "auto", nvda_tsla.TASK, "tools"),
        ("qwen2.5:0.5b", "auto", nvda_tsla.TASK, "tools"),
        ("qwen2.5-coder:0.5b", "auto", nvda_tsla.TASK, "code"),
        ("smollm2:135m", "code", nvda_tsla.TASK, "code"),
        ("codellama", "tools", nvda_tsla.TASK, "tools"),
        ("qwen2.5-coder:7b", "auto", "Write a Python script that plots NVDA.", "code"),
    ],
)
def test_mode_rule(model: str, requested: nvda_tsla.Mode, task: str, expected: str) -> None:
    settings = OllamaSettings(model=model, host="http://127.0.0.1:9")  # no server is asked in these cases
    assert nvda_tsla.choose_mode(requested, settings, task) == expected


def test_doctests() -> None:
    assert doctest.testmod(nvda_tsla).failed == 0


def test_unreachable_server_is_one_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = nvda_tsla.main(["--host", "http://127.0.0.1:9", "--mode", "tools", "--work-dir", str(tmp_path)])
    assert code == 2
    assert "not reachable" in capsys.readouterr().err


def test_the_main_job_is_the_code_flow_on_a_catalogue_model() -> None:
    """``run nvda-tsla --embedded`` (no --model) uses the example's model, which the server can pull, in code mode."""
    from integrations.embedded.catalogue import lookup
    from integrations.runner import find_examples

    model = find_examples()["nvda-tsla"].embedded_model
    assert model == nvda_tsla.EMBEDDED_MODEL
    entry = lookup(model)
    assert entry is not None and entry.decides_tool_calls, "a real model from the catalogue, not the test double"
    assert nvda_tsla.choose_mode("auto", OllamaSettings(model=model, check=False)) == "code"
