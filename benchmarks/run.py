"""Run every benchmark, print one table, write ``benchmarks/results.json``.

    python benchmarks/run.py [--quick]

Each figure is measured against a baseline in the same run, on the embedded server
with ``smollm2:135m`` (no Ollama needed). Entries: name, value, unit, baseline, target, met.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _proxy import CountingProxy  # noqa: E402

import integrations  # noqa: E402
from integrations import checks  # noqa: E402
from integrations.settings import OllamaSettings  # noqa: E402

MODEL = "smollm2:135m"
MESSAGES = [{"role": "user", "content": "Hi"}]
FRAMEWORKS = ["openai", "langchain_core", "autogen", "autogen_agentchat", "autogen_ext", "llama_cpp"]

results: list[dict[str, Any]] = []


def record(name: str, value: float, unit: str, baseline: float | None, target: str, met: bool) -> None:
    results.append(
        {"name": name, "value": round(value, 4), "unit": unit, "baseline": baseline, "target": target, "met": met}
    )
    base = "" if baseline is None else f"(baseline {baseline:g})"
    print(f"{'ok ' if met else 'MISS'} {name:<52} {value:>10.3f} {unit:<8} {base:<22} target {target}", flush=True)


def merge_results(entries: list[dict[str, Any]], path: Path = HERE / "results.json") -> None:
    """Write ``entries`` into the results file, replacing those of the same name and keeping the others.

    Each benchmark script measures its own figures; none should drop another's.
    """
    old = json.loads(path.read_text()) if path.exists() else []
    fresh = {entry["name"]: entry for entry in entries}
    merged = [fresh.pop(entry["name"], entry) for entry in old] + list(fresh.values())
    path.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {path.name}: {sum(e['met'] for e in entries)}/{len(entries)} targets met in this run")


def _median_run(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_import(runs: int) -> None:
    _median_run("pass", 2)  # warm the file cache
    _median_run("import integrations", 2)
    base = _median_run("pass", runs)
    ours = _median_run("import integrations", runs)
    extra_ms = (ours - base) * 1000
    record("import integrations: extra time", extra_ms, "ms", round(base * 1000, 1), "<= 60 ms", extra_ms <= 60)
    code = f"import sys, integrations; print(sum(m in sys.modules for m in {FRAMEWORKS!r}))"
    loaded = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    record("import integrations: framework modules loaded", loaded, "modules", 0, "0", loaded == 0)


def bench_check_overhead(proxy: CountingProxy, agents: int) -> None:
    from autogen import AssistantAgent

    settings = OllamaSettings(host=proxy.url, model=MODEL)

    def build(check: bool) -> float:
        checks.clear_cache()
        proxy.reset()
        started = time.perf_counter()
        for index in range(agents):
            AssistantAgent(f"a{index}", llm_config=integrations.llm_config(settings=settings, check=check))
        return time.perf_counter() - started

    build(False)
    off = build(False)
    on = build(True)
    requests = proxy.requests
    record(f"{agents} AG2 agents, checks on: requests to server", requests, "requests", 0, "<= 2", requests <= 2)
    record(f"{agents} AG2 agents: wall time checks on / off", on / off, "ratio", round(off, 3), "informative", True)


def _interleaved(first: Callable[[str], Any], second: Callable[[str], Any], rounds: int) -> tuple[float, float]:
    """Median latency of each, alternating which goes first.

    Every call gets its own prompt: the server reuses the KV cache of an identical
    prompt, which would make whichever client runs second look several times faster.
    """
    a: list[float] = []
    b: list[float] = []
    for index in range(rounds):
        pair = [(first, a), (second, b)] if index % 2 == 0 else [(second, b), (first, a)]
        for turn, (call, sink) in enumerate(pair):
            prompt = f"Say the number {2 * index + turn}."
            started = time.perf_counter()
            call(prompt)
            sink.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


def bench_request_overhead(url: str, rounds: int) -> None:
    import openai
    from langchain_openai import ChatOpenAI

    settings = OllamaSettings(host=url, model=MODEL, temperature=0.0, top_p=1.0, max_tokens=1)
    ours = integrations.openai_client(settings=settings)
    raw = openai.OpenAI(base_url=f"{url}/v1", api_key="ollama")
    def ask(prompt: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": prompt}]

    plain: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1}
    factory_s, raw_s = _interleaved(
        lambda p: ours.chat.completions.create(model=MODEL, messages=ask(p)),
        lambda p: raw.chat.completions.create(model=MODEL, messages=ask(p), **plain),
        rounds,
    )
    ratio = factory_s / raw_s
    record(
        "openai_client() vs openai.OpenAI: median latency",
        ratio,
        "ratio",
        round(raw_s * 1000, 2),
        "<= 1.02",
        ratio <= 1.02,
    )

    lc_ours = integrations.chat_openai(settings=settings)
    lc_raw = ChatOpenAI(model=MODEL, base_url=f"{url}/v1", api_key="ollama", temperature=0.0, top_p=1.0, max_tokens=1)
    factory_s, raw_s = _interleaved(lc_ours.invoke, lc_raw.invoke, rounds)
    ratio = factory_s / raw_s
    record(
        "chat_openai() vs ChatOpenAI: median latency", ratio, "ratio", round(raw_s * 1000, 2), "<= 1.02", ratio <= 1.02
    )


def bench_connection_reuse(proxy: CountingProxy, count: int) -> None:
    client = integrations.openai_client(settings=OllamaSettings(host=proxy.url, model=MODEL, max_tokens=1), check=False)
    proxy.reset()
    for _ in range(count):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    record(
        f"TCP connections for {count} requests", proxy.connections, "conns", float(count), "1", proxy.connections == 1
    )


def bench_concurrency(url: str, agents: int, turns: int) -> None:
    settings = OllamaSettings(host=url, model=MODEL, max_tokens=16, temperature=0.0)
    client = integrations.openai_client(settings=settings, check=False)
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def agent(index: int) -> None:
        history = [{"role": "user", "content": f"Agent {index}: name a number."}]
        for _ in range(turns):
            started = time.perf_counter()
            try:
                reply = client.chat.completions.create(model=MODEL, messages=history)
            except Exception as exc:  # a benchmark counts every failure, whatever it is
                with lock:
                    errors.append(exc)
                return
            with lock:
                latencies.append(time.perf_counter() - started)
            history += [{"role": "assistant", "content": reply.choices[0].message.content or ""}]
            history += [{"role": "user", "content": "Another."}]

    started = time.perf_counter()
    for index in range(agents):  # baseline: the same work, one agent after another
        agent(index)
    sequential = len(latencies) / (time.perf_counter() - started)
    latencies.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(agents) as pool:
        list(pool.map(agent, range(agents)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] * 1000
    record(f"{agents} parallel agents: errors", len(errors), "errors", 0, "0", not errors)
    throughput = len(latencies) / elapsed
    record(f"{agents} parallel agents: throughput", throughput, "req/s", round(sequential, 3), "informative", True)
    record(f"{agents} parallel agents: p50 latency", p50, "ms", None, "informative", True)
    record(f"{agents} parallel agents: p95 latency", p95, "ms", None, "informative", True)


def bench_embedded(quick: bool) -> None:
    """Per catalogue model: the server against llama-cpp-python in-process (the script merges its own entries)."""
    args = [sys.executable, str(HERE / "embedded.py")] + (["--reps", "2", "--pull-cache", "skip"] if quick else [])
    subprocess.run(args, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke run)")
    args = parser.parse_args()
    from integrations.embedded import EmbeddedServer

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    bench_import(5 if args.quick else 15)
    with tempfile.TemporaryDirectory() as models, EmbeddedServer(models_dir=models).start() as server:
        checks.ensure_model(MODEL, pull=True, settings=OllamaSettings(host=server.url))
        checks.warm_model(MODEL, keep_alive="30m", settings=OllamaSettings(host=server.url))
        port = int(server.url.rsplit(":", 1)[1])
        proxy = CountingProxy("127.0.0.1", port).start()
        try:
            bench_check_overhead(proxy, 50)
            bench_connection_reuse(proxy, 100)
        finally:
            proxy.stop()
        bench_request_overhead(server.url, 40 if args.quick else 200)
        bench_concurrency(server.url, 8, 2 if args.quick else 4)
    bench_embedded(args.quick)
    merge_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
