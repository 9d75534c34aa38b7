from __future__ import annotations

import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.errors import ConfigError
from integrations.hosts import parse_host, parse_hosts

official_parse_host = importlib.import_module("ollama._client")._parse_host

# Values the official ollama-python client accepts: ours must agree with it exactly.
AGREED = [
    None,
    "",
    "1.2.3.4",
    "1.2.3.4:56789",
    ":56789",
    "http://1.2.3.4",
    "https://1.2.3.4",
    "https://1.2.3.4:56789",
    "example.com",
    "example.com:56789",
    "http://example.com",
    "https://example.com",
    "https://example.com:56789",
    "example.com/",
    "example.com:56789/",
    "example.com/path",
    "example.com:56789/path",
    "https://example.com:56789/path",
    "example.com:56789/path/",
    "[0001:002:003:0004::1]",
    "[0001:002:003:0004::1]:56789",
    "http://[0001:002:003:0004::1]",
    "https://[0001:002:003:0004::1]",
    "https://[0001:002:003:0004::1]:56789",
    "[0001:002:003:0004::1]/path",
    "https://[0001:002:003:0004::1]:56789/path/",
    "0.0.0.0",
    "ollama.com",
    "localhost:11435",
]


@pytest.mark.parametrize("value", AGREED)
def test_agrees_with_the_official_client(value: str | None) -> None:
    assert parse_host(value).url == official_parse_host(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("::1", "http://[::1]:11434"),  # the official client raises; the Go server brackets it
        (' "example.com:1" ', "http://example.com:1"),  # quotes and spaces stripped, as Go does
        ("HTTPS://Example.com", "https://example.com:443"),
    ],
)
def test_kindnesses_beyond_the_official_client(value: str, expected: str) -> None:
    assert parse_host(value).url == expected


def test_base_url_is_the_v1_endpoint() -> None:
    assert parse_host("https://h/ollama/").base_url == "https://h:443/ollama/v1"


@pytest.mark.parametrize(
    "value",
    [
        "ftp://example.com",
        "example.com:99999",
        "example.com:port",
        "http://user:pw@example.com",
        "exa mple.com",
        "h?x=1",
    ],
)
def test_malformed_hosts_name_the_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_host(value)
    shown = value.replace("user:pw@", "***@").replace("=1", "=***")  # credentials and query values are masked
    assert repr(shown) in str(caught.value) and "pw@" not in str(caught.value)


def test_several_hosts_keep_their_order_without_duplicates() -> None:
    hosts = parse_hosts("b:2, a:1 ,b:2,,")
    assert [h.url for h in hosts] == ["http://b:2", "http://a:1"]


hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535)
schemes = st.sampled_from(["", "http://", "https://"])


@given(scheme=schemes, host=hostnames, port=ports)
def test_explicit_ports_survive_and_parsing_is_idempotent(scheme: str, host: str, port: int) -> None:
    parsed = parse_host(f"{scheme}{host}:{port}")
    assert parsed.url.endswith(f"{host}:{port}")
    assert parse_host(parsed.url) == parsed
    assert parsed.url == official_parse_host(f"{scheme}{host}:{port}")


@given(value=st.text(max_size=40))
def test_any_text_parses_or_raises_config_error(value: str) -> None:
    try:
        parsed = parse_host(value)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert parsed.url.startswith(("http://", "https://"))
        assert parse_host(parsed.url) == parsed
        return
    assert "OLLAMA_HOST" in message
