"""Client overhead where it is visible: factory-built clients against the raw ones, on an instant server.

    python benchmarks/overhead.py [--requests 3000] [--e2e-rounds 200] [--no-e2e]

A tiny threaded HTTP server (no model, in its own process so it never competes
for this process's GIL) answers every request at once with a fixed chat
completion, so a request's time is the client's own work plus a loopback round
trip. Against it, ``integrations.openai_client()`` is timed against a raw
``openai.OpenAI`` and ``integrations.chat_openai()`` against a raw
``langchain_openai.ChatOpenAI`` (both factories with ``check=False``: the stub
has no models to check). The raw clients send the same sampling fields the
factories add, so both sides send equivalent bodies. Calls alternate A/B and
B/A to cancel drift; each figure is the difference of the medians, in
microseconds, of wall time and of the calling thread's CPU time (on a busy
machine the wall time carries the scheduler's wake-up delays, the CPU time does
not). Next to it, the end-to-end latency ratio on the embedded server with
``smollm2:135m`` (``run.py``'s measurement), where a model call takes about a
hundred milliseconds and the overhead is inside its noise.

Results are merged into ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run import MODEL, bench_request_overhead, merge_results, record, results  # noqa: E402

import integrations  # noqa: E402
from integrations import checks  # noqa: E402
from integrations.settings import OllamaSettings  # noqa: E402

ANSWER = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"smollm2:135m",'
    b'"system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
)
TARGET_US = 200.0


class _Instant(BaseHTTPRequestHandler):
    """Reads the request, answers the fixed completion in one write, keeps the connection open."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a split header/body write would wait on delayed ACKs
    paths: ClassVar[dict[str, int]] = {}

    def _send(self, body: bytes) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.paths[self.path] = self.paths.get(self.path, 0) + 1
        self._send(ANSWER)

    def do_GET(self) -> None:
        if self.path == "/_paths":  # what the clients asked for, so the run can show no extra requests
            self._send(json.dumps(self.paths).encode())
            return
        self.paths[self.path] = self.paths.get(self.path, 0) + 1
        self._send(ANSWER)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(ready: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Instant)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


@contextmanager
def instant_server() -> Iterator[str]:
    """The instant server in a child process; yields its URL."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(child,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        process.terminate()
        process.join(timeout=10)


def added_us(ours: Callable[[], Any], raw: Callable[[], Any], requests: int) -> dict[str, float]:
    """Medians per request in us (wall and CPU, ours and raw), calls interleaved A/B, B/A."""
    for _ in range(200):  # warm connections, caches and lazy imports on both sides
        ours()
        raw()
    times: dict[str, list[float]] = {"ours": [], "raw": [], "ours_cpu": [], "raw_cpu": []}
    wall, cpu = time.perf_counter, time.thread_time
    for index in range(requests):
        pair = (("ours", ours), ("raw", raw)) if index % 2 == 0 else (("raw", raw), ("ours", ours))
        for label, call in pair:
            started, started_cpu = wall(), cpu()
            call()
            times[label].append(wall() - started)
            times[label + "_cpu"].append(cpu() - started_cpu)
    return {label: statistics.median(values) * 1e6 for label, values in times.items()}


def _record(name: str, m: dict[str, float]) -> None:
    print(f"  {name}: wall {m['ours']:.1f} vs {m['raw']:.1f} us, CPU {m['ours_cpu']:.1f} vs {m['raw_cpu']:.1f} us",
          flush=True)
    added = m["ours"] - m["raw"]
    record(f"{name}: added wall time per request", added, "us", round(m["raw"], 1), f"<= {TARGET_US:g} us",
           added <= TARGET_US)
    added = m["ours_cpu"] - m["raw_cpu"]
    record(f"{name}: added CPU time per request", added, "us", round(m["raw_cpu"], 1), f"<= {TARGET_US:g} us",
           added <= TARGET_US)


def bench_instant(requests: int) -> None:
    import openai
    from langchain_openai import ChatOpenAI

    with instant_server() as url:
        settings = OllamaSettings(host=url, model=MODEL, temperature=0.0, top_p=1.0, max_tokens=1)
        sampling: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1}
        messages: Any = [{"role": "user", "content": "Hi"}]
        ours = integrations.openai_client(settings=settings, check=False)
        raw = openai.OpenAI(base_url=f"{url}/v1", api_key="ollama")
        _record("openai_client() over openai.OpenAI", added_us(
            lambda: ours.chat.completions.create(model=MODEL, messages=messages),
            lambda: raw.chat.completions.create(model=MODEL, messages=messages, **sampling),
            requests,
        ))
        lc_ours = integrations.chat_openai(settings=settings, check=False)
        lc_raw = ChatOpenAI(model=MODEL, base_url=f"{url}/v1", api_key="ollama", **sampling)
        _record("chat_openai() over ChatOpenAI", added_us(lambda: lc_ours.invoke("Hi"), lambda: lc_raw.invoke("Hi"),
                                                          requests))
        paths = json.loads(urllib.request.urlopen(f"{url}/_paths").read())
        print(f"  requests the instant server saw, by path: {paths}", flush=True)


def bench_end_to_end(rounds: int) -> None:
    from integrations.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory() as models, EmbeddedServer(models_dir=models).start() as server:
        settings = OllamaSettings(host=server.url)
        checks.ensure_model(MODEL, pull=True, settings=settings)
        checks.warm_model(MODEL, keep_alive="30m", settings=settings)
        bench_request_overhead(server.url, rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per client against the stub")
    parser.add_argument("--e2e-rounds", type=int, default=200, help="requests per client on the embedded server")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end ratio on the embedded server")
    args = parser.parse_args()
    bench_instant(args.requests)
    if not args.no_e2e:
        bench_end_to_end(args.e2e_rounds)
    merge_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
