"""Bad input, fixed and generated: each ends in a `ConfigError` naming the value, never anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.errors import ConfigError
from integrations.hosts import parse_host
from integrations.names import parse_model_name
from integrations.settings import OllamaSettings
from tests.reliability import _counts

HOST_TABLE = [
    "ftp://host",
    "host:99999",
    "host:-1",
    "host:port",
    "http://user:secret@host",
    "host?query=1",
    "host#frag",
    "ho st",
    "http://[::1",
    "gopher://x:70",
]


@pytest.mark.parametrize("value", HOST_TABLE)
def test_malformed_host_table(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OllamaSettings(host=value)
    assert "OLLAMA_HOST" in str(caught.value)
    assert "secret" not in str(caught.value) or "user:secret" in value


host_like = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
        st.sampled_from(["", "http://", "https://", "ftp://", "://", "HTTP://"]),
        st.text(alphabet="abc.-_:[]1 @?#/", max_size=12),
        st.sampled_from(["", ":1", ":65535", ":65536", ":x", ":"]),
        st.sampled_from(["", "/", "/p", "//", "/p/q/"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(value=host_like)
def test_fuzzed_hosts_parse_or_raise_config_error(value: str) -> None:
    try:
        parsed = parse_host(value)
    except ConfigError as exc:
        documented = "OLLAMA_HOST" in str(exc)
    else:
        documented = parsed.url.startswith(("http://", "https://")) and parse_host(parsed.url) == parsed
    _counts.fuzz(documented)
    assert documented


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40))
def test_fuzzed_model_names_parse_or_raise_config_error(value: str) -> None:
    try:
        parsed = parse_model_name(value)
    except ConfigError as exc:
        documented = "model" in str(exc)
    else:
        parts = (parsed.namespace, parsed.model, parsed.tag)
        documented = all(p not in {".", ".."} and "/" not in p for p in parts) and not any(c.isspace() for c in value)
    _counts.fuzz(documented)
    assert documented


@pytest.mark.parametrize(
    "name", ["my model", "../../etc/passwd", "/etc/passwd", "a/../../b", "model:tag/evil", "m\x00", "m\nx", "..:latest"]
)
def test_model_names_with_spaces_or_path_tricks(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OllamaSettings(model=name)
    assert repr(name).strip("'") in str(caught.value) or repr(name) in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_ctx", -4096), ("num_ctx", 0), ("num_ctx", 10**12), ("timeout", -1), ("timeout", 10**9), ("connect_timeout", 0)],
)
def test_absurd_numbers(field: str, value: int) -> None:
    with pytest.raises(ConfigError) as caught:
        OllamaSettings(**{field: value})
    assert field in str(caught.value) and str(value) in str(caught.value)
