"""Connections that never send a request are closed, and a flood of them cannot exhaust the file limit."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from integrations.embedded.connections import GuardedH11Protocol
from tests.reliability import _counts

pytestmark = pytest.mark.timeout(120)


def _closed_by_peer(conn: socket.socket) -> bool:
    conn.settimeout(0.01)
    try:
        return conn.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def _open(url: str, n: int) -> list[socket.socket]:
    parts = urlsplit(url)
    return [socket.create_connection((parts.hostname, parts.port)) for _ in range(n)]


def test_silent_connections_are_closed_at_the_header_timeout(ollama_server: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if not ollama_server.embedded:
        pytest.skip("inspects the embedded server's connection handling")
    monkeypatch.setattr(GuardedH11Protocol, "header_timeout", 0.5)
    silent = _open(ollama_server.url, 20)
    slow = _open(ollama_server.url, 1)[0]
    slow.sendall(b"GET /api/version HTTP/1.1\r\nHo")  # a request head that never completes
    try:
        deadline = time.monotonic() + 5
        while not all(_closed_by_peer(c) for c in [*silent, slow]):
            assert time.monotonic() < deadline, "idle connections were left open past the header timeout"
            time.sleep(0.05)
        for _ in silent:
            _counts.record("half-open connections", "closed by the server")
        assert httpx.get(f"{ollama_server.url}/api/version", timeout=10).status_code == 200
    finally:
        for conn in [*silent, slow]:
            conn.close()


def test_connections_beyond_the_cap_are_closed_on_accept(ollama_server: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if not ollama_server.embedded:
        pytest.skip("inspects the embedded server's connection handling")
    monkeypatch.setattr(GuardedH11Protocol, "limit", 10)
    held = _open(ollama_server.url, 40)
    try:
        time.sleep(0.5)
        closed = sum(_closed_by_peer(c) for c in held)
        assert closed >= 25, f"only {closed} of 40 connections over a cap of 10 were closed"
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    assert httpx.get(f"{ollama_server.url}/api/version", timeout=10).status_code == 200
