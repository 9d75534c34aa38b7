"""keep_alive / Go durations, options validation and the parameters listing (no model needed)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.embedded.protocol import (
    FOREVER,
    ApiError,
    format_parameters,
    parse_go_duration,
    parse_keep_alive,
    parse_options,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("10m", 600.0), ("1h30m", 5400.0), ("1.5s", 1.5), ("300ms", 0.3), ("-1m", -60.0),
     ("24h", 86400.0), ("2h45m30.5s", 9930.5), ("+5s", 5.0), ("1us", 1e-6), ("1\u00b5s", 1e-6)],
)
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [("300", 'time: missing unit in duration "300"'), ("", 'time: invalid duration ""'),
     ("abc", 'time: invalid duration "abc"'), ("5x", 'time: unknown unit "x" in duration "5x"'),
     ("1h5", 'time: missing unit in duration "1h5"')],
)
def test_go_duration_errors_match_go(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        parse_go_duration(text)


def test_keep_alive_numbers_are_seconds_and_negative_is_forever():
    assert parse_keep_alive(3600) == 3600
    assert parse_keep_alive(0.5) == 0.5
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive("0") == 0
    assert parse_keep_alive(-1) == FOREVER
    assert parse_keep_alive("-1m") == FOREVER
    assert parse_keep_alive("10m") == 600


def test_keep_alive_default_and_env(monkeypatch):
    monkeypatch.delenv("OLLAMA_KEEP_ALIVE", raising=False)
    assert parse_keep_alive(None) == 300
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "1h")
    assert parse_keep_alive(None) == 3600
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "120")  # the variable also accepts bare seconds
    assert parse_keep_alive(None) == 120
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "-1")
    assert parse_keep_alive(None) == FOREVER


def test_keep_alive_without_unit_is_a_400():
    with pytest.raises(ApiError) as err:
        parse_keep_alive("300")
    assert err.value.status == 400
    assert err.value.message == 'time: missing unit in duration "300"'
    with pytest.raises(ApiError):
        parse_keep_alive(True)
    with pytest.raises(ApiError):
        parse_keep_alive([1])


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["h", "m", "s", "ms"]))
def test_go_duration_round_trip(n, unit):
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3}[unit]
    assert math.isclose(parse_go_duration(f"{n}{unit}"), n * scale)


def test_options_merge_later_layers_win_and_validate():
    opts = parse_options({"num_ctx": 8192, "temperature": 0.2, "stop": "x"}, {"temperature": 0.9, "seed": 3})
    assert opts.num_ctx == 8192 and opts.temperature == 0.9 and opts.seed == 3 and opts.stop == ("x",)
    assert parse_options({"num_predict": -1}).num_predict == -1
    assert parse_options({"num_predict": -2}).num_predict == -2
    assert parse_options({"num_ctx": 2048.0}).num_ctx == 2048


@pytest.mark.parametrize(
    ("options", "message"),
    [({"num_predict": -3}, "num_predict"), ({"num_ctx": "8192"}, 'option "num_ctx" must be of type integer'),
     ({"temperature": "hot"}, 'option "temperature" must be of type float'),
     ({"stop": [1]}, 'option "stop" must be of type array'), ({"num_ctx": 0}, "num_ctx")],
)
def test_bad_options_are_400(options, message):
    with pytest.raises(ApiError) as err:
        parse_options(options)
    assert err.value.status == 400
    assert message in err.value.message


def test_parameters_listing_uses_go_format():
    text = format_parameters({"num_ctx": 8192, "stop": ["<|im_end|>", "END"], "temperature": 0.7, "top_k": 40.0})
    assert text.splitlines() == [
        "num_ctx                        8192",
        'stop                           "<|im_end|>"',
        'stop                           "END"',
        "temperature                    0.7",
        "top_k                          40",
    ]
