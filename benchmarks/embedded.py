"""Benchmark the embedded Ollama server against llama-cpp-python in-process.

Measures, in one run and on the same GGUF with the same settings (greedy,
repeat_penalty 1.1, n_ctx 4096, the server's default thread count):

* decode throughput through ``POST /v1/chat/completions`` (stream off, fixed
  prompt, max_tokens 128, median of several runs) vs ``Llama.create_chat_completion``;
* time to first token through the streamed endpoint vs the in-process stream;
* peak RSS (VmHWM) of the server process with smollm2:135m loaded.

The server runs in a subprocess (``serve`` via ``python -c``) so its RSS is its own.
Runs alternate server/in-process to spread background noise evenly.

Usage: python benchmarks/embedded.py [--reps 5] [--max-tokens 128]
Writes benchmarks/results-embedded.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL = "smollm2:135m"
PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
MESSAGES = [{"role": "user", "content": PROMPT}]
N_CTX = 4096


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(models_dir: str, port: int) -> subprocess.Popen[bytes]:
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING);"
        "from integrations.embedded import serve;"
        f"serve(port={port}, models_dir={models_dir!r}, models=[{MODEL!r}])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/version", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_tps(client: httpx.Client, max_tokens: int) -> tuple[float, int]:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, "top_p": 1.0}
    start = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    tokens = int(response.json()["usage"]["completion_tokens"])
    return tokens / elapsed, tokens


def _server_ttft(client: httpx.Client) -> float:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 8, "temperature": 0, "top_p": 1.0, "stream": True}
    start = time.perf_counter()
    first = float("nan")
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and first != first:
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    first = time.perf_counter() - start
    return first


def _inproc_tps(llm: Any, max_tokens: int) -> tuple[float, int]:
    start = time.perf_counter()
    out = llm.create_chat_completion(messages=MESSAGES, max_tokens=max_tokens, temperature=0.0, top_p=1.0,
                                     repeat_penalty=1.1)
    elapsed = time.perf_counter() - start
    tokens = int(out["usage"]["completion_tokens"])
    return tokens / elapsed, tokens


def _inproc_ttft(llm: Any) -> float:
    start = time.perf_counter()
    first = float("nan")
    for chunk in llm.create_chat_completion(messages=MESSAGES, max_tokens=8, temperature=0.0, top_p=1.0,
                                            repeat_penalty=1.1, stream=True):
        if first != first and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            first = time.perf_counter() - start
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--out", default=str(HERE / "results-embedded.json"))
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import llama_cpp

    from integrations.embedded.runtime import default_threads
    from integrations.embedded.store import Store

    models_dir = tempfile.mkdtemp(prefix="bench-models-")
    port = _free_port()
    server = _start_server(models_dir, port)
    try:
        record = Store(models_dir).resolve(MODEL)
        assert record is not None
        threads = default_threads()  # what the server uses
        llm = llama_cpp.Llama(model_path=str(record.model_path), n_ctx=N_CTX, n_threads=threads,
                              n_threads_batch=threads, n_batch=512, verbose=False)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            _server_tps(client, 16)  # load the model and warm both paths up
            _inproc_tps(llm, 16)
            s_tps, i_tps, s_ttft, i_ttft = [], [], [], []
            s_tokens = i_tokens = 0
            for _ in range(args.reps):
                tps, s_tokens = _server_tps(client, args.max_tokens)
                s_tps.append(tps)
                tps, i_tokens = _inproc_tps(llm, args.max_tokens)
                i_tps.append(tps)
            for _ in range(args.reps * 3):  # first-token runs are short: take more of them
                s_ttft.append(_server_ttft(client))
                i_ttft.append(_inproc_ttft(llm))
            rss = _vm_hwm_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    server_tps, inproc_tps = statistics.median(s_tps), statistics.median(i_tps)
    server_ttft, inproc_ttft = statistics.median(s_ttft) * 1000, statistics.median(i_ttft) * 1000
    overhead = server_ttft - inproc_ttft
    results = [
        {"name": "decode_tokens_per_s_v1_chat", "value": round(server_tps, 2), "unit": "tokens/s",
         "baseline": round(inproc_tps, 2), "target": round(0.9 * inproc_tps, 2), "met": server_tps >= 0.9 * inproc_tps},
        {"name": "decode_speed_ratio_vs_in_process", "value": round(server_tps / inproc_tps, 3), "unit": "x",
         "baseline": 1.0, "target": 0.9, "met": server_tps / inproc_tps >= 0.9},
        {"name": "time_to_first_token_v1_stream", "value": round(server_ttft, 2), "unit": "ms",
         "baseline": round(inproc_ttft, 2), "target": round(inproc_ttft + 20, 2), "met": overhead <= 20},
        {"name": "time_to_first_token_overhead", "value": round(overhead, 2), "unit": "ms",
         "baseline": 0.0, "target": 20.0, "met": overhead <= 20},
        {"name": "server_peak_rss_smollm2_loaded", "value": round(rss, 1), "unit": "MiB",
         "baseline": None, "target": 512.0, "met": rss <= 512},
    ]
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'metric':<36} {'value':>10} {'unit':<9} {'baseline':>10} {'target':>10}  met")
    for r in results:
        base = "-" if r["baseline"] is None else f"{r['baseline']:.2f}"
        print(f"{r['name']:<36} {r['value']:>10} {r['unit']:<9} {base:>10} {r['target']:>10}  {r['met']}")
    print(f"completion tokens per run: server {s_tokens}, in-process {i_tokens}; reps {args.reps}; "
          f"raw server tok/s {[round(x, 1) for x in s_tps]}, in-process {[round(x, 1) for x in i_tps]}")


if __name__ == "__main__":
    main()
