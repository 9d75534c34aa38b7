"""Benchmark the embedded server's availability while slow clients hold unfinished request bodies.

The figure of the hardening pass: 1,100 connections that send a complete request
head and the first bytes of a body, then nothing, held for 60 s (each one the server
closes is opened again at once). Meanwhile a well-behaved client sends requests
(``GET /api/version`` and ``GET /api/tags``, alternately on a new connection and on a
keep-alive one). Printed: how each of its requests ended and its latency, under
attack and in a baseline measured in the same run without the attack (ratio of the
95th percentiles), and how many slow connections the server closed.

The server runs in a subprocess (``serve`` via ``python -c``), so the attack's file
descriptors and the server's event loop are separate, as on a real host. No model
is needed.

Usage: python benchmarks/slow_clients.py [--connections 1100] [--seconds 60] [--baseline 10]
"""

from __future__ import annotations

import argparse
import collections
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

SERVER = "from integrations.embedded.server import serve; serve(port={port}, models_dir={models!r})"


def _raise_file_limit(wanted: int) -> int:
    """This process's soft open-file limit, lifted towards ``wanted`` (the attack's sockets are ours)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(models: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (models / "server.log").open("wb")  # the server's warnings stay out of the figures
    process = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port, models=str(models))], stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/version", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the embedded server did not start within 60 s")


class Attack:
    """Holds ``n`` connections with unfinished bodies, reopening each one the server closes."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.head = (
            f"POST /api/show HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000000\r\n\r\n{"model": "'
        ).encode()
        self.open: list[socket.socket] = []
        self.opened = self.closed_by_server = self.failed_to_open = 0
        self.held_samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> None:
        try:
            conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            conn.sendall(self.head)
            conn.setblocking(False)
        except OSError:
            self.failed_to_open += 1
            return
        self.open.append(conn)
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            alive = []
            for conn in self.open:
                try:
                    gone = conn.recv(1 << 16) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self.closed_by_server += 1
                    conn.close()
                else:
                    alive.append(conn)
            self.open = alive
            while len(self.open) < self.n and not self._stop.is_set():
                self._connect()
            self.held_samples.append(len(self.open))
            self._stop.wait(0.5)

    def start(self) -> None:
        self._thread.start()
        while len(self.open) < self.n and self._thread.is_alive():
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.open:
            conn.close()


def _client(url: str, seconds: float) -> tuple[collections.Counter[str], list[float]]:
    """A well-behaved client for ``seconds``: how each request ended, and the latencies of the 200s."""
    ends: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as keep_alive:
        i = 0
        while time.monotonic() < deadline:
            path = "/api/version" if i % 2 else "/api/tags"
            started = time.perf_counter()
            try:
                fresh = i % 4 < 2  # half the requests on a new connection, half on a kept-alive one
                response = httpx.get(f"{url}{path}", timeout=10) if fresh else keep_alive.get(f"{url}{path}")
                ends[str(response.status_code)] += 1
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
            except httpx.HTTPError as exc:
                ends[type(exc).__name__] += 1
            i += 1
            time.sleep(0.05)
    return ends, latencies


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _line(label: str, ends: collections.Counter[str], latencies: list[float]) -> str:
    outcome = ", ".join(f"{k} x {v}" for k, v in ends.most_common())
    return (
        f"{label}: {sum(ends.values())} requests ({outcome}); latency p50 {_p(latencies, 50) * 1000:.1f} ms, "
        f"p95 {_p(latencies, 95) * 1000:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1100, help="slow connections held open")
    parser.add_argument("--seconds", type=float, default=60, help="how long the attack lasts")
    parser.add_argument("--baseline", type=float, default=10, help="seconds of the baseline without attack")
    args = parser.parse_args()
    if _raise_file_limit(4 * args.connections + 256) < 2 * args.connections + 64:
        raise SystemExit("the open-file limit is too low for that many connections (ulimit -n)")
    with tempfile.TemporaryDirectory() as models:
        process, url = _start_server(Path(models))
        try:
            base_ends, base_latencies = _client(url, args.baseline)
            attack = Attack(int(url.rsplit(":", 1)[1]), args.connections)
            attack.start()
            ends, latencies = _client(url, args.seconds)
            attack.stop()
        finally:
            process.terminate()
            process.wait(10)
    print(_line("baseline (no attack)", base_ends, base_latencies))
    print(_line(f"under attack ({args.connections} unfinished bodies, {args.seconds:g} s)", ends, latencies))
    held = attack.held_samples
    print(
        f"attack: {attack.opened} connections opened, {attack.closed_by_server} closed by the server, "
        f"{attack.failed_to_open} failed to open; held open: min {min(held)}, median {statistics.median(held):g}"
    )
    failed = sum(v for k, v in ends.items() if k != "200")
    ratio = _p(latencies, 95) / _p(base_latencies, 95)
    print(f"prompt client's failures under attack: {failed}; p95 latency under attack / baseline: {ratio:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
