"""Benchmark the embedded server's per-conversation prompt cache against one slot.

    python benchmarks/prompt_cache.py [--rounds 3] [--models-dir DIR] [--only agents,chat,ttft,rss]

Two servers run side by side in subprocesses on the same machine: one with the
prompt cache (``prompt_cache_slots=8``, the default) and the baseline with one
live context only (``prompt_cache_slots=0``). Every figure is measured against
that baseline in the same run:

* agents: eight threads, each an agent with its own ~500-token system prompt and a
  growing conversation (several turns, short answers), against the same requests
  run one after another; requests/s;
* chat: a four-agent group chat on ``qwen2.5-coder:1.5b`` (own system prompts,
  round robin, one shared growing transcript); median turn latency; each turn goes
  to both servers with the same messages (alternating which goes first), and the
  transcript grows with the cached server's reply;
* ttft: time to first token of a conversation's second turn after another
  conversation ran in between, against the uninterrupted second turn;
* rss: peak RSS (``VmHWM`` from ``/proc/<pid>/status``) of a fresh cached server
  after more long conversations than slots, against its RSS with the model loaded
  and the cache empty plus the cache budget ``/api/ps`` reports.

Requests go to the native ``/api/chat`` (greedy, fixed seed), whose
``prompt_eval_count`` counts the prompt tokens actually evaluated, so the table
can say how much each server read. Every run salts its system prompts, so no
run finds the previous run's conversations cached.

``qwen2.5-coder:1.5b`` must be in ``--models-dir`` or pullable into it (the
server pulls it at start); the default is the user's models directory.
Results are merged into ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from run import merge_results, record, results  # noqa: E402

SMALL = "smollm2:135m"
CHAT_MODEL = "qwen2.5-coder:1.5b"
PHASES = ("agents", "chat", "ttft", "rss")
_WORD_TEXT = (
    "river stone garden ledger copper signal harbor window lantern meadow engine folder valley pocket "
    "mirror thunder canvas orbit bridge cotton marble pepper silver anchor timber saddle quartz velvet "
    "ribbon compass beacon candle island jungle kettle ladder magnet needle oyster parcel puzzle rocket "
    "shadow tunnel violin walnut yellow zipper basket castle dragon feather glacier hammer"
)
WORDS = _WORD_TEXT.split()
OPTIONS = {"temperature": 0.0, "seed": 7}


def system_prompt(name: str, salt: str, tokens: int) -> str:
    """A deterministic prompt of about ``tokens`` tokens that differs from others from its first words."""
    rng = random.Random(f"{salt}/{name}")
    words = [rng.choice(WORDS) for _ in range(int(tokens / 1.45))]
    notes = " ".join(" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, len(words), 12))
    return f"{name} ({salt}). You take part in a planning discussion; answer in one short sentence. Notes: {notes}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """An embedded server in a subprocess (so its RSS is its own), with ``slots`` saved conversations per model."""

    def __init__(self, models_dir: str, models: list[str], slots: int, num_parallel: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.slots = slots
        code = (
            "import logging; logging.basicConfig(level=logging.WARNING);"
            "from integrations.embedded import EmbeddedServer;"
            f"EmbeddedServer(port={self.port}, models_dir={models_dir!r}, preload={models!r},"
            f" prompt_cache_slots={slots}).serve_forever()"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OLLAMA_NUM_PARALLEL": str(num_parallel)}
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        self.client = httpx.Client(base_url=self.url, timeout=1800, limits=httpx.Limits(max_connections=32))
        deadline = time.monotonic() + 1800  # a first pull of the 1.5b model can take minutes
        while time.monotonic() < deadline:
            try:
                if self.client.get("/api/version", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}")
            time.sleep(0.2)
        self.close()
        raise SystemExit("the server did not start")

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server process, MiB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
        return fields["VmRSS"], fields["VmHWM"]

    def cache(self, model: str) -> dict[str, int]:
        for entry in self.client.get("/api/ps").json()["models"]:
            if entry["name"] == model:
                return dict(entry.get("prompt_cache") or {})
        return {}

    def chat(self, model: str, messages: list[dict[str, str]], predict: int) -> tuple[float, dict[str, Any]]:
        body = {"model": model, "messages": messages, "stream": False, "keep_alive": -1,
                "options": {**OPTIONS, "num_predict": predict}}
        started = time.perf_counter()
        response = self.client.post("/api/chat", json=body)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, response.json()

    def first_token(self, model: str, messages: list[dict[str, str]], predict: int) -> tuple[float, dict[str, Any]]:
        """Seconds to the first content chunk of a streamed chat (read to the end), and the final chunk."""
        body = {"model": model, "messages": messages, "stream": True, "keep_alive": -1,
                "options": {**OPTIONS, "num_predict": predict}}
        first = float("nan")
        final: dict[str, Any] = {}
        started = time.perf_counter()
        with self.client.stream("POST", "/api/chat", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line:
                    continue
                chunk = json.loads(line)
                if first != first and chunk.get("message", {}).get("content"):
                    first = time.perf_counter() - started
                if chunk.get("done"):
                    final = chunk
        return first, final


@contextmanager
def servers(models_dir: str, models: list[str], num_parallel: int = 1) -> Iterator[tuple[Server, Server]]:
    """The cached server (default slots, ``num_parallel`` requests decoded together) and the one-slot baseline
    (one request at a time), both loaded with ``models``."""
    with ExitStack() as stack:
        cached = Server(models_dir, models, 8, num_parallel)
        stack.callback(cached.close)
        one = Server(models_dir, models, 0)
        stack.callback(one.close)
        yield cached, one


# -- (a) interleaved agents ---------------------------------------------------


def agents_run(server: Server, agents: int, turns: int, tokens: int, parallel: bool) -> tuple[float, int, int]:
    """Requests/s, errors, and prompt tokens the server evaluated, for ``agents`` conversations."""
    salt = uuid.uuid4().hex[:8]
    lock = threading.Lock()
    done = [0, 0, 0]  # requests, errors, evaluated prompt tokens

    def agent(index: int) -> None:
        history = [{"role": "system", "content": system_prompt(f"Agent {index}", salt, tokens)},
                   {"role": "user", "content": "Name a number."}]
        for _ in range(turns):
            try:
                _, out = server.chat(SMALL, history, 12)
            except httpx.HTTPError:
                with lock:
                    done[1] += 1
                return
            with lock:
                done[0] += 1
                done[2] += int(out.get("prompt_eval_count", 0))
            history += [{"role": "assistant", "content": out["message"]["content"]},
                        {"role": "user", "content": "Another one, different from the last."}]

    started = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(agents) as pool:
            list(pool.map(agent, range(agents)))
    else:
        for index in range(agents):
            agent(index)
    return done[0] / (time.perf_counter() - started), done[1], done[2]


def bench_agents(cached: Server, one: Server, agents: int, turns: int, tokens: int, num_parallel: int = 1) -> None:
    figures: dict[str, tuple[float, int, int]] = {}
    # ABBA order spreads background drift over both servers
    for label, server, parallel in (("seq cached", cached, False), ("par cached", cached, True),
                                    ("par one", one, True), ("seq one", one, False)):
        figures[label] = agents_run(server, agents, turns, tokens, parallel)
        rate, errors, evaluated = figures[label]
        print(f"  agents {label:<10} {rate:6.3f} req/s  errors {errors}  prompt tokens evaluated {evaluated}",
              flush=True)
    seq, par = figures["seq cached"][0], figures["par cached"][0]
    one_ratio = figures["par one"][0] / figures["seq one"][0]
    errors = sum(f[1] for f in figures.values())
    name = f"prompt cache: {agents} interleaved agents" + (
        f" (OLLAMA_NUM_PARALLEL={num_parallel})" if num_parallel > 1 else ""
    )
    record(f"{name}, errors", errors, "errors", 0, "0", errors == 0)
    record(f"{name}, throughput", par, "req/s", round(seq, 3), ">= sequential", par >= seq)
    record(f"{name} / sequential", par / seq, "x", round(one_ratio, 3), ">= 1.0 (baseline: one slot)",
           par / seq >= 1.0)


# -- (b) group chat ------------------------------------------------------------


def bench_group_chat(cached: Server, one: Server, rounds: int, tokens: int, predict: int) -> None:
    salt = uuid.uuid4().hex[:8]
    agents = 4
    names = ["Planner", "Coder", "Reviewer", "Tester"]
    systems = [system_prompt(f"You are the {n}", salt, tokens) for n in names]
    transcript: list[tuple[int, str]] = [(-1, "Task: design a small command-line tool that renames photos by date.")]
    latency: dict[str, list[float]] = {"cached": [], "one": []}
    evaluated = {"cached": 0, "one": 0}
    decoded = {"cached": 0, "one": 0}
    turn = 0
    for _ in range(rounds):
        for index in range(agents):
            messages = [{"role": "system", "content": systems[index]}]
            for who, text in transcript:
                if who == index:
                    messages.append({"role": "assistant", "content": text})
                else:
                    speaker = "Moderator" if who < 0 else names[who]
                    messages.append({"role": "user", "content": f"{speaker}: {text}"})
            order = [("cached", cached), ("one", one)]
            if turn % 2:
                order.reverse()
            reply = ""
            for label, server in order:
                seconds, out = server.chat(CHAT_MODEL, messages, predict)
                latency[label].append(seconds)
                evaluated[label] += int(out.get("prompt_eval_count", 0))
                decoded[label] += int(out.get("eval_count", 0))
                if label == "cached":
                    reply = out["message"]["content"]
            print(f"  chat turn {turn + 1:>2} ({names[index]:<8}) cached {latency['cached'][-1]:6.2f} s"
                  f"  one slot {latency['one'][-1]:6.2f} s", flush=True)
            transcript.append((index, reply))
            turn += 1
    print(f"  chat prompt tokens evaluated: cached {evaluated['cached']}, one slot {evaluated['one']};"
          f" tokens generated: cached {decoded['cached']}, one slot {decoded['one']}", flush=True)
    fast, slow = statistics.median(latency["cached"]), statistics.median(latency["one"])
    name = f"prompt cache: 4-agent group chat ({rounds} rounds), median turn"
    record(name, fast, "s", round(slow, 3), "<= one slot / 3", slow / fast >= 3)
    record("prompt cache: group chat speed-up over one slot", slow / fast, "x", 1.0, ">= 3", slow / fast >= 3)


# -- (c) time to first token after an interruption -----------------------------


def _ttft_pair(server: Server, salt: str, tokens: int) -> tuple[float, float]:
    """Second-turn TTFT of a conversation run straight through, and of one interrupted by another."""

    def first_turn(name: str) -> list[dict[str, str]]:
        history = [{"role": "system", "content": system_prompt(name, salt, tokens)},
                   {"role": "user", "content": "Name a colour."}]
        _, out = server.chat(SMALL, history, 8)
        return [*history, {"role": "assistant", "content": out["message"]["content"]},
                {"role": "user", "content": "And another one?"}]

    straight = first_turn("Agent X")
    uninterrupted, _ = server.first_token(SMALL, straight, 8)
    resumed = first_turn("Agent Y")
    first_turn("Agent Z")  # the conversation in between
    interrupted, _ = server.first_token(SMALL, resumed, 8)
    return uninterrupted, interrupted


def bench_ttft(cached: Server, one: Server, reps: int, tokens: int) -> None:
    times: dict[str, tuple[list[float], list[float]]] = {"cached": ([], []), "one": ([], [])}
    for rep in range(reps):
        order = [("cached", cached), ("one", one)]
        if rep % 2:
            order.reverse()
        for label, server in order:
            straight, interrupted = _ttft_pair(server, uuid.uuid4().hex[:8], tokens)
            times[label][0].append(straight)
            times[label][1].append(interrupted)
    med = {label: (statistics.median(a) * 1000, statistics.median(b) * 1000) for label, (a, b) in times.items()}
    for label, (a, b) in med.items():
        print(f"  ttft {label:<7} uninterrupted {a:8.1f} ms  interrupted {b:8.1f} ms", flush=True)
    ratio = med["cached"][1] / med["cached"][0]
    one_ratio = med["one"][1] / med["one"][0]
    record("prompt cache: turn-2 TTFT after another conversation", med["cached"][1], "ms",
           round(med["cached"][0], 2), "<= 1.5x uninterrupted", ratio <= 1.5)
    record("prompt cache: interrupted / uninterrupted TTFT", ratio, "x", round(one_ratio, 3),
           "<= 1.5 (baseline: one slot)", ratio <= 1.5)


# -- (d) memory with the cache full ------------------------------------------


def bench_rss(models_dir: str, conversations: int, tokens: int) -> None:
    server = Server(models_dir, [SMALL], 8)
    try:
        salt = uuid.uuid4().hex[:8]
        server.chat(SMALL, [{"role": "user", "content": "Hi"}], 4)  # touch the weights and the live context
        loaded, _ = server.memory_mib()
        budget = server.cache(SMALL).get("budget", 0) / 2**20
        largest = 0.0
        for index in range(conversations):
            history = [{"role": "system", "content": system_prompt(f"Reader {index}", salt, tokens)},
                       {"role": "user", "content": "Summarise the notes in five words."}]
            server.chat(SMALL, history, 4)
            state = server.cache(SMALL)
            largest = max(largest, state.get("size", 0) / 2**20)
            print(f"  rss after conversation {index + 1:>2}: {server.memory_mib()[0]:7.1f} MiB,"
                  f" cache {state.get('conversations')} conversations, {state.get('size', 0) / 2**20:6.1f} MiB",
                  flush=True)
        _, peak = server.memory_mib()
    finally:
        server.close()
    limit = loaded + budget
    record(f"prompt cache: peak RSS after {conversations} conversations", peak, "MiB", round(loaded, 1),
           f"<= loaded + budget ({limit:.0f} MiB)", peak <= limit)
    record("prompt cache: largest cache size in /api/ps", largest, "MiB", round(budget, 1), "<= budget",
           largest <= budget)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated subset of {', '.join(PHASES)}")
    parser.add_argument("--models-dir", default=None, help="models directory (default: the user's)")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--num-parallel", type=int, default=1,
                        help="OLLAMA_NUM_PARALLEL of the cached server (the baseline keeps 1)")
    parser.add_argument("--turns", type=int, default=4, help="turns per interleaved agent")
    parser.add_argument("--system-tokens", type=int, default=500, help="about how long each system prompt is")
    parser.add_argument("--rounds", type=int, default=3, help="group chat rounds (four turns each)")
    parser.add_argument("--chat-system-tokens", type=int, default=500, help="about how long each chat agent's is")
    parser.add_argument("--chat-predict", type=int, default=16, help="tokens per group chat answer")
    parser.add_argument("--ttft-reps", type=int, default=5)
    parser.add_argument("--rss-conversations", type=int, default=10, help="long conversations to fill the cache")
    parser.add_argument("--rss-tokens", type=int, default=3600, help="about how long each of them is")
    args = parser.parse_args()
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")

    from integrations.embedded.store import default_models_dir

    models_dir = args.models_dir or str(default_models_dir())
    small_dir = tempfile.mkdtemp(prefix="bench-models-")  # smollm2 comes from its installed wheel
    started = time.perf_counter()
    if phases & {"agents", "ttft"}:
        with servers(small_dir, [SMALL], args.num_parallel) as (cached, one):
            if "agents" in phases:
                bench_agents(cached, one, args.agents, args.turns, args.system_tokens, args.num_parallel)
            if "ttft" in phases:
                bench_ttft(cached, one, args.ttft_reps, args.system_tokens)
    if "chat" in phases:
        with servers(models_dir, [CHAT_MODEL]) as (cached, one):
            bench_group_chat(cached, one, args.rounds, args.chat_system_tokens, args.chat_predict)
    if "rss" in phases:
        bench_rss(small_dir, args.rss_conversations, args.rss_tokens)
    print(f"prompt cache benchmarks took {time.perf_counter() - started:.0f} s")
    merge_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
