"""Slow clients cannot starve prompt ones: unfinished bodies, half-open waves, stalled uploads, keep-alive slowloris.

A scaled-down but real version of the attack (hundreds of raw sockets against the
embedded server, the open-connection cap lowered so they exceed it);
``benchmarks/slow_clients.py`` runs the full 1,100 connections for 60 s.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from integrations.embedded.connections import GuardedH11Protocol, uvicorn_options
from tests.reliability import _counts

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server(ollama_server: Any) -> Iterator[Any]:
    """The embedded server; it must still answer after each test."""
    if not ollama_server.embedded:
        pytest.skip("inspects the embedded server's connection handling")
    yield ollama_server
    assert httpx.get(f"{ollama_server.url}/api/version", timeout=10).status_code == 200


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _head(url: str, path: str, length: int) -> bytes:
    host, port = _address(url)
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _closed_by_peer(conn: socket.socket, wait: float = 0.01) -> bool:
    conn.settimeout(wait)
    try:
        return conn.recv(1 << 16) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def _slow_bodies(url: str, n: int) -> list[socket.socket]:
    """``n`` connections that send a complete head and the first bytes of a 1 MB body, then nothing."""
    opened = []
    for _ in range(n):
        try:
            conn = socket.create_connection(_address(url), timeout=5)
            conn.sendall(_head(url, "/api/show", 1_000_000) + b'{"model": "')
        except OSError:
            continue
        opened.append(conn)
    return opened


def _prompt_requests(url: str, n: int) -> list[str]:
    """``n`` requests from a well-behaved client, each on a new connection; how each ended."""
    ends = []
    for _ in range(n):
        try:
            with httpx.Client(timeout=10) as client:
                ends.append(str(client.get(f"{url}/api/version").status_code))
        except httpx.HTTPError as exc:
            ends.append(type(exc).__name__)
    return ends


@pytest.fixture
def low_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(GuardedH11Protocol, "limit", 60)
    return 60


def test_uvicorn_never_answers_503_for_concurrency() -> None:
    assert uvicorn_options()["limit_concurrency"] is None


def test_hundreds_of_unfinished_bodies_do_not_fail_a_prompt_client(server: Any, low_cap: int) -> None:
    held: list[socket.socket] = []
    ends: list[str] = []
    stop = threading.Event()

    def attack() -> None:  # keeps opening slow bodies while the prompt client works
        while not stop.is_set() and len(held) < 400:
            held.extend(_slow_bodies(server.url, 20))

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        time.sleep(0.5)
        ends = _prompt_requests(server.url, 30)
    finally:
        stop.set()
        attacker.join()
        for conn in held:
            closed = _closed_by_peer(conn)
            _counts.record("slow bodies: unfinished bodies", "closed by the server" if closed else "still open")
            conn.close()
    for end in ends:
        _counts.record("slow bodies: prompt client's requests", end)
    assert len(held) > 3 * low_cap
    assert ends == ["200"] * 30


def test_waves_of_half_open_connections_cause_no_refusals(server: Any, low_cap: int) -> None:
    for _ in range(3):
        wave = [socket.create_connection(_address(server.url), timeout=5) for _ in range(4 * low_cap)]
        try:
            started = time.monotonic()
            ends = _prompt_requests(server.url, 5)
            elapsed = time.monotonic() - started
        finally:
            for conn in wave:
                conn.close()
        for end in ends:
            _counts.record("half-open waves: prompt client's requests", end)
        assert ends == ["200"] * 5 and elapsed < 5, (ends, elapsed)


@pytest.fixture
def short_body_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GuardedH11Protocol, "body_idle_timeout", 1.0)
    monkeypatch.setattr(GuardedH11Protocol, "body_grace", 1.0)
    monkeypatch.setattr(GuardedH11Protocol, "min_body_rate", 1024)


def _seconds_until_closed(conn: socket.socket, bound: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if _closed_by_peer(conn, 0.05):
            return time.monotonic() - started
    return None


def test_a_stalled_body_is_closed_within_its_bound(server: Any, short_body_deadlines: None) -> None:
    conn = _slow_bodies(server.url, 1)[0]
    try:
        closed_after = _seconds_until_closed(conn, 10)
    finally:
        conn.close()
    _counts.record("slow bodies: stalled body", "closed by the server" if closed_after is not None else "HELD OPEN")
    assert closed_after is not None and closed_after < 3, closed_after


def test_a_trickling_body_is_closed_at_the_minimum_rate(server: Any, short_body_deadlines: None) -> None:
    conn = socket.create_connection(_address(server.url), timeout=5)
    conn.sendall(_head(server.url, "/api/show", 1_000_000))
    started, closed = time.monotonic(), False
    try:
        while time.monotonic() - started < 10 and not closed:
            try:
                conn.sendall(b" ")  # one byte every 0.3 s: never idle, far below 1 KiB/s
            except OSError:
                closed = True
                break
            closed = _closed_by_peer(conn, 0.3)
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    _counts.record("slow bodies: trickling body", "closed by the server" if closed else "HELD OPEN")
    assert closed and elapsed < 5, elapsed


def test_a_body_that_keeps_its_pace_is_served(server: Any, short_body_deadlines: None) -> None:
    body = b'{"model": "no-such-model"}'.ljust(3000)
    conn = socket.create_connection(_address(server.url), timeout=5)
    try:
        conn.sendall(_head(server.url, "/api/show", len(body)))
        for start in range(0, len(body), 500):  # 3000 bytes over ~2.5 s: above 1 KiB/s after the grace
            conn.sendall(body[start : start + 500])
            time.sleep(0.4)
        reply = conn.recv(1 << 16)
    finally:
        conn.close()
    assert reply.startswith(b"HTTP/1.1 404"), reply[:80]


def _uploads(models_dir: Path) -> list[Path]:
    return list((models_dir / "blobs").glob(".*upload*"))


def test_a_stalled_blob_upload_is_dropped_with_its_temporary_file(server: Any, short_body_deadlines: None) -> None:
    assert server.models_dir is not None
    digest = "sha256:" + hashlib.sha256(b"never sent").hexdigest()
    conn = socket.create_connection(_address(server.url), timeout=5)
    try:
        conn.sendall(_head(server.url, f"/api/blobs/{digest}", 50_000_000) + b"\0" * 300_000)
        deadline = time.monotonic() + 5
        while not _uploads(server.models_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _uploads(server.models_dir), "the upload never started"
        closed_after = _seconds_until_closed(conn, 10)
    finally:
        conn.close()
    deadline = time.monotonic() + 3
    while _uploads(server.models_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    dropped = closed_after is not None and not _uploads(server.models_dir)
    _counts.record("slow bodies: stalled blob upload", "dropped with its file" if dropped else "KEPT")
    assert dropped, (closed_after, _uploads(server.models_dir))


def test_a_keep_alive_connection_cannot_hold_a_half_sent_head(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GuardedH11Protocol, "header_timeout", 0.5)
    host, port = _address(server.url)
    conn = socket.create_connection((host, port), timeout=5)
    try:
        conn.sendall(f"GET /api/version HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        assert conn.recv(1 << 16).startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET /api/version HTTP/1.1\r\nHo")  # the next head never completes
        closed_after = _seconds_until_closed(conn, 4)
    finally:
        conn.close()
    _counts.record("slow bodies: keep-alive half head", "closed by the server" if closed_after else "HELD OPEN")
    assert closed_after is not None and closed_after < 2, closed_after
