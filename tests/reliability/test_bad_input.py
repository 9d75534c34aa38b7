"""Bad input, fixed and generated: each ends in a `ConfigError` naming the value, never anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from integrations.cli import app
from integrations.errors import ConfigError
from integrations.hosts import parse_host, parse_hosts
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
    assert "secret" not in str(caught.value)


CREDENTIAL_HOSTS = [
    "http://user:secret@host",
    "http://u:secret@127.0.0.1:1",
    "user:secret@host:11434",
    "http://:secret@host",
    "http://secret@host",
    "https://user:se/cret@host",
    "http://user:sec@ret@host",
    " 'http://u:secret@h' ",
    "ftp://u:secret@host",
    "http://u:secret@host:99999",
    "a:1,http://u:secret@b:2",
]


@pytest.mark.parametrize("value", CREDENTIAL_HOSTS)
def test_a_rejected_host_never_shows_its_credentials(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = []
    for attempt in (lambda: OllamaSettings(host=value), lambda: parse_hosts(value)):
        with pytest.raises(ConfigError) as caught:
            attempt()
        messages.append(str(caught.value))
    monkeypatch.setenv("OLLAMA_HOST", value)
    with pytest.raises(ConfigError) as caught:
        OllamaSettings()
    messages.append(str(caught.value))
    cli = CliRunner().invoke(app, ["config"])
    assert cli.exit_code == 1
    messages.append(cli.output)
    for message in messages:
        assert "OLLAMA_HOST" in message and "***@" in message, message
        assert not any(secret in message for secret in ("secret", "se/cret", "sec@ret")), message


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["", "http://", "https://", "ftp://"]),
    user=st.text(alphabet="abc", max_size=4),
    password=st.text(alphabet="QXZ:/@!", min_size=1, max_size=10).map(lambda pw: f"PW{pw}"),
    rest=st.text(alphabet="abc.:[]1 ?#/", max_size=10),
)
def test_fuzzed_credentials_never_reach_the_message(scheme: str, user: str, password: str, rest: str) -> None:
    value = f"{scheme}{user}:{password}@host{rest}"
    try:
        parse_host(value)
    except ConfigError as exc:
        documented = "PW" not in str(exc)
    else:
        documented = False  # credentials are always refused
    _counts.fuzz(documented)
    assert documented, value


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


# Path-shaped names: segments such as "..", "." and "" joined by "/", with a tag, so that the path-traversal
# property below is reached (arbitrary text almost never contains a "/" that parses), mixed with arbitrary text.
_segment = st.one_of(
    st.sampled_from(["..", ".", "", "a", "ns", "a.b", ".hidden", "_x", "-x", "x y", "host:5000", "m\x00"]),
    st.text(alphabet="ab._-:/ \\", max_size=6),
)
name_like = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda segments, tag: "/".join(segments) + tag,
        st.lists(_segment, min_size=1, max_size=4),
        st.sampled_from(["", ":latest", ":7b", ":..", ":.", ":", ":a/b", ": x"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(value=name_like)
def test_fuzzed_model_names_parse_or_raise_config_error(value: str) -> None:
    try:
        parsed = parse_model_name(value)
    except ConfigError as exc:
        documented = "model" in str(exc)
        _counts.record("model names", "refused")
    else:
        parts = (parsed.host, parsed.namespace, parsed.model, parsed.tag)
        # every part becomes a directory or file name in the models directory: none may climb out of it
        documented = all(p not in {".", ".."} and "/" not in p for p in parts) and not any(c.isspace() for c in value)
        _counts.record("model names", "parsed, with a '/'" if "/" in value else "parsed")
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
