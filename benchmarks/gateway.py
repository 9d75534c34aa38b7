"""Two embedded servers behind the LiteLLM gateway against one server alone: throughput, spread, failover, latency.

    python benchmarks/gateway.py [--model qwen2.5-coder:0.5b] [--agents 8] [--requests 5] [--no-write]

Two embedded servers with one llama.cpp thread each (``OLLAMA_INTEGRATIONS_THREADS=1``) and the
real LiteLLM proxy started by `integrations.litellm.Gateway` from the settings (least-busy routing).
Every phase sends the same chat request (a short prompt, ``max_tokens`` capped, temperature 0) from
``--agents`` threads, each making ``--requests`` requests one after another with the OpenAI SDK:

1. one server alone, direct: the baseline wall time;
2. the same load through the gateway over both servers: the throughput ratio, and the share of
   requests each host served (from the ``x-litellm-model-api-base`` header the proxy sets);
3. failover: the same load, the second server stopped once 10 requests have completed and started
   again on its port once 30 have: failed requests counted, and where requests went while it was
   down and after it returned (the gateway's ``cooldown_time`` is set to 5 s for this phase);
4. added latency: one request at a time, ``max_tokens=1``, direct to an idle server against through the
   idle gateway, alternating; the difference of the medians in ms.

Results are merged into ``benchmarks/results.json``. On a shared machine the load average is printed
with the figures: two one-thread servers can only be twice as fast as one when two cores are free.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Write one sentence about the sea."
BASE_HEADER = "x-litellm-model-api-base"
PREFIX = "gateway: "


def _client(base_url: str, key: str) -> Any:
    import openai

    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=600)


def _ask(client: Any, model: str, max_tokens: int) -> str:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens, temperature=0
    )
    raw.parse()
    return str(raw.headers.get(BASE_HEADER) or "direct")


def load(
    client: Any, model: str, agents: int, requests: int, max_tokens: int, after: Callable[[int], None] | None = None
) -> tuple[float, list[str], list[str]]:
    """``agents`` threads x ``requests`` each: wall seconds, the host of each completed request in order, failures."""
    hosts: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def agent(_: int) -> None:
        for _ in range(requests):
            try:
                host = _ask(client, model, max_tokens)
            except Exception as exc:  # counted, with its kind: a reliability figure
                with lock:
                    failures.append(type(exc).__name__)
                continue
            with lock:
                hosts.append(host)
                done = len(hosts)
            if after is not None:
                after(done)

    started = time.perf_counter()
    with ThreadPoolExecutor(agents) as pool:
        list(pool.map(agent, range(agents)))
    return time.perf_counter() - started, hosts, failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder:0.5b")
    p.add_argument("--agents", type=int, default=8)
    p.add_argument("--requests", type=int, default=5, help="requests per agent")
    p.add_argument("--max-tokens", type=int, default=24)
    p.add_argument("--latency-rounds", type=int, default=10)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("OLLAMA_INTEGRATIONS_THREADS", "1")

    from integrations import OllamaSettings, ensure_model
    from integrations.embedded import EmbeddedServer
    from integrations.litellm import Gateway

    load_before = os.getloadavg()
    dirs = [Path(tempfile.mkdtemp(prefix="bench-gateway-")) for _ in range(2)]
    servers = [EmbeddedServer(models_dir=d).start() for d in dirs]
    gateway = None
    try:
        settings = OllamaSettings(host=",".join(s.url for s in servers), model=args.model, cooldown_time=5)
        ensure_model(args.model, pull=True, settings=settings)  # on both hosts
        for server in servers:  # loaded before any timing
            _ask(_client(f"{server.url}/v1", "ollama"), args.model, 1)
        gateway = Gateway(settings).start()
        through = _client(gateway.base_url, gateway.key)
        direct = _client(f"{servers[0].url}/v1", "ollama")
        _ask(through, args.model, 1)
        total = args.agents * args.requests

        print(f"load average before: {load_before[0]:.2f}; {total} requests per phase", flush=True)
        alone, _, alone_failed = load(direct, args.model, args.agents, args.requests, args.max_tokens)
        print(f"one server alone: {alone:.1f} s ({len(alone_failed)} failed)", flush=True)
        spread, hosts, spread_failed = load(through, args.model, args.agents, args.requests, args.max_tokens)
        per_host = Counter(hosts)
        shares = [per_host.get(f"{s.url}/v1", 0) / total for s in servers]
        print(f"gateway, two servers: {spread:.1f} s ({len(spread_failed)} failed); per host {dict(per_host)}")

        killed = servers[1]
        killed_base = f"{killed.url}/v1"
        marks: dict[str, int] = {}

        def after(done: int) -> None:
            if done == 10 and "stopped" not in marks:
                marks["stopped"] = done
                killed.stop()
            elif done == 30 and "back" not in marks:
                servers[1] = EmbeddedServer(port=killed.port, models_dir=dirs[1]).start()
                marks["back"] = done

        _, order, failover_failed = load(through, args.model, args.agents, args.requests, args.max_tokens, after)
        down = order[10:30]
        back = order[30:]
        to_killed_down = sum(h == killed_base for h in down)
        to_killed_back = sum(h == killed_base for h in back)
        print(
            f"failover: {len(failover_failed)} of {total} failed {Counter(failover_failed)}; to the stopped host "
            f"while down: {to_killed_down} of {len(down)}; after it returned: {to_killed_back} of {len(back)}",
            flush=True,
        )

        direct_ms: list[float] = []
        gateway_ms: list[float] = []
        for round_ in range(args.latency_rounds):
            pairs = [(direct, direct_ms), (through, gateway_ms)]
            for client, into in pairs if round_ % 2 == 0 else reversed(pairs):
                started = time.perf_counter()
                _ask(client, args.model, 1)
                into.append((time.perf_counter() - started) * 1000)
        added = statistics.median(gateway_ms) - statistics.median(direct_ms)
        load_after = os.getloadavg()
        print(
            f"latency: direct median {statistics.median(direct_ms):.0f} ms, through the gateway "
            f"{statistics.median(gateway_ms):.0f} ms: added {added:.0f} ms; load average after: {load_after[0]:.2f}"
        )
    finally:
        if gateway is not None:
            gateway.stop()
        for server in servers:
            server.stop()

    ratio = alone / spread
    conditions = f"{args.model}, {args.agents} agents x {args.requests} requests, load {load_before[0]:.1f}"
    results = [
        _entry(
            f"throughput ratio gateway over two servers / one server ({conditions})",
            round(ratio, 3),
            "x",
            round(alone, 2),
            ">= 1.6",
            ratio >= 1.6,
        ),
        _entry(
            "smaller share of requests served by one of the two hosts",
            round(min(shares), 3),
            "share",
            None,
            ">= 0.35",
            min(shares) >= 0.35,
        ),
        _entry(
            "failed agent requests with one host stopped after 10 requests",
            len(failover_failed),
            "requests",
            None,
            "0",
            not failover_failed,
        ),
        _entry(
            "requests completed by the stopped host while it was down (in flight when stopped)",
            to_killed_down,
            "requests",
            None,
            "informative",
            True,
        ),
        _entry(
            "requests served by the stopped host after it returned",
            to_killed_back,
            "requests",
            None,
            "> 0",
            to_killed_back > 0,
        ),
        _entry(
            "added latency per request through the gateway (max_tokens 1, idle hosts)",
            round(added, 1),
            "ms",
            round(statistics.median(direct_ms), 1),
            "informative",
            True,
        ),
    ]
    for r in results:
        print(f"{r['name']}: {r['value']} {r['unit']} (target {r['target']}: {'met' if r['met'] else 'NOT met'})")
    if not args.no_write:
        path = HERE / "results.json"
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        kept = [e for e in old if not str(e.get("name", "")).startswith(PREFIX)]
        path.write_text(json.dumps(kept + results, indent=2) + "\n", encoding="utf-8")
        print(f"merged {len(results)} entries into {path}")
    return 0


def _entry(name: str, value: float, unit: str, baseline: float | None, target: str, met: bool) -> dict[str, Any]:
    return {"name": f"{PREFIX}{name}", "value": value, "unit": unit, "baseline": baseline, "target": target, "met": met}


if __name__ == "__main__":
    raise SystemExit(main())
