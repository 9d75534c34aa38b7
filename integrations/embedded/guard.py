"""Browser protections as Ollama has them: the Host-header check (loopback binds) and the CORS allow-list."""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

__all__ = ["Guard", "host_allowed", "is_loopback", "origin_allowed"]

DEFAULT_ORIGINS = (
    *(f"{scheme}://{host}{port}" for host in ("localhost", "127.0.0.1", "0.0.0.0")
      for scheme in ("http", "https") for port in ("", ":*")),
    "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
)
_CORS_HEADERS = {"authorization", "content-type", "user-agent", "accept", "x-requested-with", "openai-beta"}


def origin_allowed(origin: str, extra: Sequence[str] = ()) -> bool:
    """``origin`` matches Ollama's default origins or one of ``extra`` (``OLLAMA_ORIGINS``)."""
    return any(fnmatch.fnmatchcase(origin, pattern) for pattern in (*DEFAULT_ORIGINS, *extra))


def host_allowed(host: str) -> bool:
    """Ollama's DNS-rebinding guard for loopback binds: loopback/private IPs and local names only."""
    if not host:
        return True
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    name = name.lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    if name == socket.gethostname().lower():
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the Host check when ``check_host``, and CORS for requests with an ``Origin``.

    Requests without an ``Origin`` header (SDKs, curl) are unaffected by CORS.
    """

    def __init__(self, app: Any, check_host: bool, origins: Sequence[str] = ()) -> None:
        self.app = app
        self.check_host = check_host
        self.origins = tuple(origins)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.check_host and not host_allowed(headers.get("host", "")):
            await self._empty(send, 403)
            return
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not origin_allowed(origin, self.origins):
            await self._empty(send, 403)
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            wanted = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
            allowed = [h for h in wanted if h in _CORS_HEADERS or h.startswith("x-stainless-")]
            cors += [
                (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
                (b"access-control-allow-headers", ", ".join(allowed).encode("latin-1")),
                (b"access-control-max-age", b"43200"),
            ]
            await self._empty(send, 204, cors)
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _empty(send: Any, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"0"), *(headers or [])]})
        await send({"type": "http.response.body", "body": b""})
