"""The chart task's brief, data, success check and what it says when unmet; the hints it gets from the library."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import _chart_task
import _market
import pytest

from integrations.coding import hint, traceback_tail


@pytest.fixture
def staged(tmp_path: Path) -> _market.Prices:
    return _chart_task.stage_data(tmp_path, live=False)


def test_doctests() -> None:
    assert doctest.testmod(_chart_task).failed == 0


def test_brief_names_the_file_its_columns_rows_and_the_quantity(tmp_path: Path, staged: _market.Prices) -> None:
    text = _chart_task.brief(staged, tmp_path)
    first_rows = (tmp_path / _chart_task.DATA).read_text().splitlines()[:4]

    assert str(tmp_path / _chart_task.DATA) in text
    assert "date, NVDA, TSLA" in text and "TSLA" in text and "TESLA's ticker is TSLA" in text
    assert "\n".join(first_rows) in text
    assert "(close / first close - 1) * 100" in text and "pct_change" in text
    assert "(df[ticker] / df[ticker].iloc[0] - 1) * 100" in text
    assert f'plt.savefig("{_chart_task.CHART}")' in text and "sample data" in text
    assert "TERMINATE" not in text and "matplotlib.use" not in text
    assert "Start the program with: import pandas as pd; import matplotlib.pyplot as plt." in text


def test_staged_data_is_numbers_only_so_whole_table_arithmetic_works(tmp_path: Path, staged: _market.Prices) -> None:
    import pandas

    frame = pandas.read_csv(tmp_path / _chart_task.DATA, index_col="date")
    change = (frame / frame.iloc[0] - 1) * 100  # what small models often write; a text column made it raise
    assert list(frame.columns) == ["NVDA", "TSLA"]
    assert change.iloc[-1].round(2).to_dict() == staged.change_pct()


def chart(work_dir: Path) -> None:
    _market.plot_change(_market.load_sample(), work_dir / _chart_task.CHART)


def test_success_needs_the_png_and_the_change_since_the_first_row(tmp_path: Path, staged: _market.Prices) -> None:
    expected = staged.change_pct()
    right = "\n".join(f"{t} {v:.2f}" for t, v in expected.items())

    assert not _chart_task.judge(tmp_path, right, staged).met, "no chart yet"
    chart(tmp_path)
    verdict = _chart_task.judge(tmp_path, right, staged)
    assert verdict.chart and verdict.quantity == "since-start" and verdict.met
    day_over_day = _chart_task.judge(tmp_path, "NVDA 0.12\nTSLA -0.4", staged)
    assert day_over_day.quantity == "other" and not day_over_day.met
    assert _chart_task.judge(tmp_path, "saved", staged).quantity == "not-printed"
    (tmp_path / _chart_task.CHART).write_bytes(b"not a png")
    assert not _chart_task.judge(tmp_path, right, staged).met


@pytest.mark.parametrize(
    ("output", "exit_code", "says"),
    [
        ("Traceback (most recent call last):\n  File x\nKeyError: 'TESLA'", 1, "prices.csv: date,NVDA,TSLA"),
        ("Traceback (most recent call last):\nNameError: name 'matplotlib' is not defined", 1, "'matplotlib'"),
        ("Traceback (most recent call last):\nNameError: name 'change' is not defined", 1, "the whole program"),
        ("Traceback (most recent call last):\n  File x\nKeyError: -1", 1, ".iloc[-1]"),
        ("Traceback (most recent call last):\nFileNotFoundError: [Errno 2] 'NVDA.csv'", 1, "prices.csv"),
        ("Timeout", 124, "plt.show()"),
        ("Traceback (most recent call last):\nModuleNotFoundError: No module named 'yfinance'", 1, "installed"),
        ("ValueError: x and y must have same first dimension, but have shapes (233,) and (232,)", 1, "one y value"),
    ],
)
def test_the_chart_tasks_common_failures_get_the_librarys_hints(
    tmp_path: Path, staged: _market.Prices, output: str, exit_code: int, says: str
) -> None:
    # The loop's hints are the library's (integrations.coding); the staged file is what makes them specific.
    assert says in hint(output, exit_code, 60, tmp_path)


def test_the_programs_own_line_is_shown_not_the_librarys(tmp_path: Path) -> None:
    output = (
        "Traceback (most recent call last):\n"
        f'  File "{tmp_path}/code_ab.py", line 12, in <module>\n'
        "    plt.plot(dates, change)\n"
        '  File "/venv/lib/python3.11/site-packages/matplotlib/axes/_base.py", line 509, in _plot_args\n'
        '    raise ValueError(f"x and y must have same first dimension, but "\n'
        "ValueError: x and y must have same first dimension, but have shapes (233,) and (232,)"
    )
    text = traceback_tail(output)
    assert "plt.plot(dates, change)" in text and "_base.py" not in text and text.endswith("(232,)")


def test_a_chart_of_the_wrong_quantity_is_sent_back(tmp_path: Path, staged: _market.Prices) -> None:
    chart(tmp_path)
    text = _chart_task.shortfall(_chart_task.judge(tmp_path, "NVDA 0.1\nTSLA 0.2", staged))
    assert "not the percent change since the first row" in text and "pct_change" in text
    assert "(df[ticker] / df[ticker].iloc[0] - 1) * 100" in text and "NVDA, TSLA" in text
    assert "NVDA and TSLA (NVDA 0.1, TSLA 0.2)" in text and "keep that part" not in text


def test_the_one_wrong_ticker_is_named_and_the_right_one_kept(tmp_path: Path, staged: _market.Prices) -> None:
    chart(tmp_path)
    right = staged.change_pct()["NVDA"]
    text = _chart_task.shortfall(_chart_task.judge(tmp_path, f"NVDA: {right}\nTSLA: -12.5", staged))
    assert "last change of TSLA (TSLA -12.5)" in text and "NVDA is right: keep that part" in text


def test_the_check_is_the_verdict_and_records_it(tmp_path: Path, staged: _market.Prices) -> None:
    seen: list[_chart_task.Verdict] = []
    done = _chart_task.check(staged, seen)
    right = "\n".join(f"{t} {v:.2f}" for t, v in staged.change_pct().items())
    assert "was not saved" in str(done(tmp_path, right))
    chart(tmp_path)
    assert done(tmp_path, right) is True
    assert [v.met for v in seen] == [False, True]


def test_a_ratio_instead_of_a_change_is_named_as_such(tmp_path: Path, staged: _market.Prices) -> None:
    chart(tmp_path)
    ratios = "\n".join(f"{t} {v + 100:.2f}" for t, v in staged.change_pct().items())
    text = _chart_task.shortfall(_chart_task.judge(tmp_path, ratios, staged))
    assert "NVDA and TSLA is 100 too high" in text and "subtract 1 before multiplying by 100" in text


@pytest.mark.parametrize(
    ("printed", "fix"),
    [
        (lambda change: change / 100 + 1 - 100, "in `... - 1 * 100` only the 1 is multiplied"),
        (lambda change: change / 100, "a fraction, not a percent"),
    ],
    ids=["minus-one-times-a-hundred", "fraction"],
)
def test_other_near_misses_are_named_with_their_fix(
    tmp_path: Path, staged: _market.Prices, printed: Any, fix: str
) -> None:
    chart(tmp_path)
    output = "\n".join(f"{t}: {printed(v):.2f}" for t, v in staged.change_pct().items())
    text = _chart_task.shortfall(_chart_task.judge(tmp_path, output, staged))
    assert "NVDA and TSLA is" in text and fix in text and "(close / first close - 1) * 100" in text
    right = staged.change_pct()["NVDA"]
    one = _chart_task.shortfall(
        _chart_task.judge(tmp_path, f"NVDA: {right}\nTSLA: {printed(staged.change_pct()['TSLA']):.2f}", staged)
    )
    assert "TSLA (NVDA is right: keep that part) is" in one and fix in one
