"""The one place that turns ``OLLAMA_HOST`` values into URLs.

The rules follow the official ollama-python client, so a value that works there
works here, with two kindnesses taken from the Go server: surrounding quotes and
whitespace are stripped, and a bare IPv6 literal such as ``::1`` is accepted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.errors import ConfigError

__all__ = ["DEFAULT_PORT", "OllamaHost", "mask_credentials", "parse_host", "parse_hosts"]

DEFAULT_PORT = 11434
_SCHEME_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class OllamaHost:
    """One Ollama server: the native API base and the OpenAI-compatible base."""

    url: str

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def __str__(self) -> str:
        return self.url


def parse_host(value: str | None, *, setting: str = "host") -> OllamaHost:
    """Parse one ``OLLAMA_HOST`` value (or another URL setting, named in messages by ``setting``).

    >>> parse_host(None).url
    'http://127.0.0.1:11434'
    >>> parse_host("example.com").url
    'http://example.com:11434'
    >>> parse_host("example.com:5678").url
    'http://example.com:5678'
    >>> parse_host(":56789").url
    'http://127.0.0.1:56789'
    >>> parse_host("https://example.com").url
    'https://example.com:443'
    >>> parse_host("http://example.com").url
    'http://example.com:80'
    >>> parse_host("https://example.com:56789/path/").url
    'https://example.com:56789/path'
    >>> parse_host("[0001:002:003:0004::1]:56789").url
    'http://[0001:002:003:0004::1]:56789'
    >>> parse_host("::1").url
    'http://[::1]:11434'
    >>> parse_host(' "localhost:11435" ').base_url
    'http://localhost:11435/v1'
    """
    text = (value or "").strip().strip("\"'").strip()
    shown = repr(mask_credentials(value or ""))  # every message below shows the value with credentials masked
    variable = _env(setting)
    if "@" in text:  # first: any later message (a bad scheme, urlsplit's errors) could quote part of a password
        raise ConfigError(f"{variable} {shown} may not carry credentials; use {_env('api_key')} for keys")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    scheme = scheme.lower()
    if scheme not in _SCHEME_PORTS:
        raise ConfigError(
            f"{variable} {shown} has scheme {scheme!r}: use http:// or https://, e.g. 'http://localhost:11434'"
        )
    default_port = _SCHEME_PORTS[scheme] if sep else DEFAULT_PORT
    rest = _bracket_bare_ipv6(rest)
    try:
        split = urlsplit(f"{scheme}://{rest}")
        port = split.port or default_port
    except ValueError as exc:
        raise ConfigError(
            f"{variable} {shown} is not a valid host ({exc}); write it as 'host', 'host:port' or 'scheme://host:port'"
        ) from exc
    if split.query or split.fragment or split.username or split.password:
        raise ConfigError(
            f"{variable} {shown} may not carry credentials, a query or a fragment; use {_env('api_key')} for keys"
        )
    hostname = split.hostname or "127.0.0.1"
    if any(ch.isspace() for ch in hostname):
        raise ConfigError(f"{variable} {shown} contains whitespace inside the host name")
    if _is_ipv6(hostname):
        hostname = f"[{hostname}]"
    path = split.path.strip("/")
    url = f"{scheme}://{hostname}:{port}"
    return OllamaHost(f"{url}/{path}" if path else url)


def parse_hosts(value: str | None) -> tuple[OllamaHost, ...]:
    """Parse a comma-separated list of hosts, in failover order, without duplicates.

    >>> [h.url for h in parse_hosts("a:1, b:2,a:1")]
    ['http://a:1', 'http://b:2']
    >>> [h.url for h in parse_hosts("")]
    ['http://127.0.0.1:11434']
    """
    items = [item for item in (value or "").split(",") if item.strip()]
    hosts: list[OllamaHost] = []
    for item in items or [""]:
        host = parse_host(item)
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def mask_credentials(value: str) -> str:
    """``value`` with the secrets a host may carry replaced by ``***``: safe to show or log.

    Whatever precedes an ``@`` (user and password) and the value of each query
    parameter and fragment (``?token=...``). A host never keeps any of them
    (`parse_host` refuses them), but the value a user typed still reaches error
    messages, ``doctor`` and ``config``; this is the one function that masks it.

    >>> mask_credentials("http://user:secret@127.0.0.1:1")
    'http://***@127.0.0.1:1'
    >>> mask_credentials(" 'user:p/w@d@host', https://t@b:2 ,c:3")
    " '***@host', https://***@b:2 ,c:3"
    >>> mask_credentials("http://example.com:11434")
    'http://example.com:11434'
    >>> mask_credentials("http://host/?token=abc&x=1#frag, b:2?k")
    'http://host/?token=***&x=***#***, b:2?***'
    """
    parts = []
    for part in value.split(","):
        at = part.rfind("@")
        if at >= 0:
            # Keep what precedes the credentials: spaces, quotes and a real scheme (``user:pw://`` is none).
            start = _BEFORE_CREDENTIALS.match(part)
            part = f"{part[: start.end() if start and start.end() <= at else 0]}***{part[at:]}"
        part, hash_, _ = part.partition("#")
        part, question, query = part.partition("?")
        if question:
            masked = [f"{name}=***" if sep else "***" for name, sep, _ in (p.partition("=") for p in query.split("&"))]
            part = f"{part}?{'&'.join(masked)}"
        parts.append(f"{part}#***" if hash_ else part)
    return ",".join(parts)


_BEFORE_CREDENTIALS = re.compile(r"[\s\"']*(?:[A-Za-z][A-Za-z0-9+.-]*://)?")


def _env(field: str) -> str:
    from integrations.settings import env_name  # settings imports this module: the names are derived there

    return env_name(field)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _bracket_bare_ipv6(rest: str) -> str:
    """``::1`` means an address, not host ``:`` and port ``:1``: bracket it as Go does."""
    hostport = rest.split("/", 1)
    if not hostport[0].startswith("[") and hostport[0].count(":") >= 2 and _is_ipv6(hostport[0]):
        hostport[0] = f"[{hostport[0]}]"
    return "/".join(hostport)
