"""Options that could stall or mislead the server: non-finite numbers, huge integers, stop lists, thread counts."""

from __future__ import annotations

import math
import os

import pytest

from integrations.embedded.protocol import MAX_STOP, MAX_STOP_LENGTH, ApiError, parse_options


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("key", ["temperature", "top_p", "repeat_penalty"])
def test_non_finite_floats_are_refused(key: str, value: float) -> None:
    with pytest.raises(ApiError) as caught:
        parse_options({key: value})
    assert caught.value.status == 400
    assert f'"{key}"' in caught.value.message and "finite" in caught.value.message


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63])
def test_integers_beyond_64_bits_are_refused(value: int) -> None:
    with pytest.raises(ApiError, match=r'option "seed": .* out of range'):
        parse_options({"seed": value})
    assert parse_options({"seed": 2**63 - 1}).seed == 2**63 - 1


def test_stop_lists_are_capped_in_count_and_length() -> None:
    assert parse_options({"stop": ["x"] * MAX_STOP}).stop == ("x",) * MAX_STOP
    with pytest.raises(ApiError, match=rf'option "stop" has {MAX_STOP + 1} strings, the limit is {MAX_STOP}'):
        parse_options({"stop": ["x"] * (MAX_STOP + 1)})
    with pytest.raises(ApiError, match=rf"{MAX_STOP_LENGTH + 1} characters"):
        parse_options({"stop": ["y" * (MAX_STOP_LENGTH + 1)]})
    with pytest.raises(ApiError, match="1000000 strings"):
        parse_options({"stop": ["z"] * 1_000_000})


def test_num_thread_is_lowered_to_the_cpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # a process pinned to 3 of 64 CPUs (taskset, a container's cpuset) gets at most 3 threads
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert parse_options({"num_thread": 1000}).num_thread == 3
    assert parse_options({"num_thread": 3}).num_thread == 3
    assert parse_options({"num_thread": 1}).num_thread == 1
    assert parse_options({}).num_thread is None


def test_lone_surrogates_become_replacement_characters_as_in_go() -> None:
    import json

    from integrations.embedded.protocol import replace_lone_surrogates

    body = json.loads('{"a\\ud800": ["x\\udfffy", "\\ud83d\\ude00", 5]}')
    cleaned = replace_lone_surrogates(body)
    assert cleaned == {"a\ufffd": ["x\ufffdy", "\U0001f600", 5]}
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")  # encodable now
