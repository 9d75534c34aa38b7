"""Both engines through the one protocol layer; runner processes that die without taking the server down.

Tests marked ``engines`` run on the configured engine and again on the other one
where it is installed (see the pytest plugin). The crash tests need the runner
processes of the ``xllamacpp`` engine.
"""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.embedded import EmbeddedServer

CITY = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "city": {"type": "string", "maxLength": 20}},
    "required": ["n", "city"],
}
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def http(ollama_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ollama_server.url, timeout=300) as client:
        yield client


def _engine(ollama_server: Any) -> str:
    return str(ollama_server.server.runtime.engine.name) if ollama_server.embedded else "ollama"


@pytest.mark.engines
def test_generation_streams_pieces_and_honours_stop(http: httpx.Client, ollama_model: str) -> None:
    def run(stop: list[str]) -> list[dict[str, Any]]:
        body = {
            "model": ollama_model,
            "prompt": "Tell me about the sea.",
            "options": {"temperature": 0, "num_predict": 40, "stop": stop},
        }
        with http.stream("POST", "/api/generate", json=body) as response:
            assert response.status_code == 200
            return [json.loads(line) for line in response.iter_lines() if line]

    full = run([])
    text = "".join(line["response"] for line in full if not line["done"])
    assert len(full) > 3 and full[-1]["done_reason"] == "length" and full[-1]["eval_count"] == 40
    words = text.split()
    stop = " ".join(words[len(words) // 2 : len(words) // 2 + 2])  # two words from the middle of the answer
    cut = run([stop])
    assert "".join(line["response"] for line in cut if not line["done"]) == text[: text.index(stop)]
    assert cut[-1]["done_reason"] == "stop"


@pytest.mark.engines
def test_a_json_schema_constrains_the_output(http: httpx.Client, ollama_model: str) -> None:
    r = http.post(
        "/api/chat",
        json={
            "model": ollama_model,
            "stream": False,
            "format": CITY,
            "messages": [{"role": "user", "content": "Name a city and a number."}],
            "options": {"temperature": 0, "num_predict": 80},
        },
    )
    assert r.status_code == 200, r.text
    answer = json.loads(r.json()["message"]["content"])
    assert set(answer) == {"n", "city"}  # no property the schema does not list
    assert isinstance(answer["n"], int) and isinstance(answer["city"], str) and len(answer["city"]) <= 20


@pytest.mark.engines
def test_logprobs_come_with_each_token(http: httpx.Client, ollama_model: str) -> None:
    r = http.post(
        "/api/generate",
        json={
            "model": ollama_model,
            "prompt": "Hello",
            "stream": False,
            "logprobs": True,
            "top_logprobs": 3,
            "options": {"temperature": 0, "repeat_penalty": 1.0, "num_predict": 6},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    scored = body["logprobs"]
    assert len(scored) == body["eval_count"] > 0
    assert "".join(e["token"] for e in scored) == body["response"]
    for entry in scored:
        assert entry["logprob"] <= 0 and 1 <= len(entry["top_logprobs"]) <= 3
        assert entry["top_logprobs"][0]["logprob"] >= entry["top_logprobs"][-1]["logprob"]
        assert entry["top_logprobs"][0]["token"] == entry["token"]  # greedy, no penalty: the likeliest is taken


@pytest.mark.engines
def test_embeddings_are_unit_vectors_that_tell_texts_apart(http: httpx.Client, ollama_model: str) -> None:
    r = http.post("/api/embed", json={"model": ollama_model, "input": ["the cat sat on the mat", "quantum physics"]})
    assert r.status_code == 200, r.text
    a, b = r.json()["embeddings"]
    assert len(a) == len(b) > 0
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-3)
    assert sum(x * y for x, y in zip(a, b, strict=True)) < 0.99
    assert r.json()["prompt_eval_count"] > 4


@pytest.mark.engines
@pytest.mark.plumbing
def test_a_forced_tool_call_parses(http: httpx.Client, ollama_model: str) -> None:
    r = http.post(
        "/api/chat",
        json={
            "model": ollama_model,
            "stream": False,
            "tools": WEATHER,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "options": {"temperature": 0},
        },
    )
    assert r.status_code == 200, r.text
    (call,) = r.json()["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"]["city"] in ("Paris", "Oslo")


@pytest.mark.engines
@pytest.mark.decider
def test_a_deciding_model_calls_through_its_template_tag(http: httpx.Client, decider_model: str) -> None:
    """qwen2.5-coder's template opens calls with <tool_call>; a required call comes back parsed, on /v1."""
    r = http.post(
        "/v1/chat/completions",
        json={
            "model": decider_model,
            "temperature": 0,
            "max_tokens": 64,
            "tools": WEATHER,
            "tool_choice": "required",
            "messages": [{"role": "user", "content": "What is the weather in Oslo?"}],
        },
    )
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"])["city"] in ("Paris", "Oslo")


def _system(name: str) -> str:
    return f"You are the {name} agent. " + " ".join(f"Note {i}: the {name} agent tracks item {i}." for i in range(30))


def _chat(http: httpx.Client, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    r = http.post(
        "/api/chat",
        json={"model": model, "messages": messages, "stream": False, "options": {"num_predict": 3, "temperature": 0}},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.engines
def test_the_prompt_cache_keeps_an_interrupted_conversation(http: httpx.Client, ollama_model: str) -> None:
    a = [{"role": "system", "content": _system("planner")}, {"role": "user", "content": "Start."}]
    first = _chat(http, ollama_model, a)
    _chat(http, ollama_model, [{"role": "system", "content": _system("critic")}, {"role": "user", "content": "Go."}])
    again = _chat(http, ollama_model, [*a, first["message"], {"role": "user", "content": "Next."}])
    assert first["prompt_eval_count"] > 300
    assert again["prompt_eval_count"] < 60, f"A's second turn read {again['prompt_eval_count']} tokens again"


# -- runner processes ---------------------------------------------------------------------------------------------


@pytest.fixture
def runner_server(ollama_server: Any, ollama_model: str) -> Iterator[EmbeddedServer]:
    """A server of its own on the xllamacpp engine (its runners are killed here), with an alias of the test model
    at another context size (so another runner)."""
    if not ollama_server.embedded:
        pytest.skip("runner processes are the embedded server's")
    with EmbeddedServer(models_dir=ollama_server.models_dir, engine="xllamacpp") as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            r = http.post(
                "/api/create",
                json={"model": "other", "from": ollama_model, "stream": False, "parameters": {"num_ctx": 1024}},
            )
            assert r.status_code == 200, r.text
        yield server
        with httpx.Client(base_url=server.url, timeout=120) as http:
            http.request("DELETE", "/api/delete", json={"model": "other"})


def _runner_pid(server: EmbeddedServer, name: str) -> int:
    (lm,) = [m for m in server.runtime.loaded() if m.record.short.startswith(name)]
    return int(lm.model.runner.pid)  # type: ignore[attr-defined]


def test_a_runner_killed_mid_stream_fails_only_its_request(runner_server: EmbeddedServer, ollama_model: str) -> None:
    with httpx.Client(base_url=runner_server.url, timeout=120) as http:
        warm = http.post(
            "/api/generate", json={"model": "other", "prompt": "Hi", "stream": False, "options": {"num_predict": 1}}
        )
        assert warm.status_code == 200
        body = {
            "model": ollama_model,
            "prompt": "Write a very long story about a lighthouse.",
            "options": {"num_predict": 2000},
        }
        lines: list[dict[str, Any]] = []
        with http.stream("POST", "/api/generate", json=body) as response:
            for raw in response.iter_lines():
                lines.append(json.loads(raw))
                if len(lines) == 3:
                    victim = _runner_pid(runner_server, ollama_model)
                    os.kill(victim, signal.SIGKILL)
        assert lines[-1] == {"error": "llama runner process has terminated: signal: killed"}, lines[-3:]

        started = time.monotonic()
        other = http.post(
            "/api/generate", json={"model": "other", "prompt": "Hi", "stream": False, "options": {"num_predict": 2}}
        )
        elapsed = time.monotonic() - started
        assert other.status_code == 200 and other.json()["response"]
        assert "load_duration" not in other.json(), "the other model's runner was untouched"
        print(f"the other model answered {elapsed:.3f} s after the crash")

        again = http.post(
            "/api/generate",
            json={"model": ollama_model, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}},
        )
        assert again.status_code == 200 and again.json()["response"]
        assert again.json()["load_duration"] > 0  # loaded again, in a new runner
        assert _runner_pid(runner_server, ollama_model) != victim


def _crafted(source: Path, target: Path, blocks: int) -> Path:
    data = bytearray(source.read_bytes())
    at = data.index(b"llama.block_count") + len(b"llama.block_count")
    assert struct.unpack_from("<I", data, at)[0] == 4  # a uint32 follows
    struct.pack_into("<I", data, at + 4, blocks)
    target.write_bytes(data)
    return target


def _model_file(ollama_server: Any, model: str) -> Path:
    from integrations.embedded.store import Store

    return Store(ollama_server.models_dir).require(model).model_path


@pytest.mark.parametrize("blocks", [0, 100000])
def test_a_crafted_block_count_is_refused_at_create(
    ollama_server: Any, ollama_model: str, tmp_path: Path, blocks: int
) -> None:
    """The files that abort llama.cpp on their first batch never become models."""
    if not ollama_server.embedded:
        pytest.skip("checks the embedded server's /api/create")
    crafted = _crafted(_model_file(ollama_server, ollama_model), tmp_path / "crafted.gguf", blocks)
    import hashlib

    digest = "sha256:" + hashlib.sha256(crafted.read_bytes()).hexdigest()
    with (
        EmbeddedServer(models_dir=tmp_path / "models") as server,
        httpx.Client(base_url=server.url, timeout=120) as http,
    ):
        assert http.post(f"/api/blobs/{digest}", content=crafted.read_bytes()).status_code == 201
        r = http.post("/api/create", json={"model": "crafted", "files": {"crafted.gguf": digest}, "stream": False})
        assert r.status_code == 400
        assert f"llama.block_count is {blocks}" in r.json()["error"]
        assert http.get("/api/tags").json()["models"] == []


def test_a_runner_that_dies_loading_marks_the_model_broken(
    runner_server: EmbeddedServer, ollama_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model registered before the metadata check (or past it) aborts its runner while loading: it is reported
    with llama.cpp's reason, once, and the server keeps serving the others."""
    from integrations.embedded.store import Store

    monkeypatch.setattr("integrations.embedded.store.check_loadable", lambda info: None)
    source = Store(runner_server.store.root).require(ollama_model).model_path
    crafted = _crafted(source, tmp_path / "zero.gguf", 0)
    import hashlib

    digest = "sha256:" + hashlib.sha256(crafted.read_bytes()).hexdigest()
    with httpx.Client(base_url=runner_server.url, timeout=120) as http:
        assert http.post(f"/api/blobs/{digest}", content=crafted.read_bytes()).status_code == 201
        made = http.post("/api/create", json={"model": "zero", "files": {"zero.gguf": digest}, "stream": False})
        assert made.status_code == 200, made.text
        first = http.post("/api/generate", json={"model": "zero", "prompt": "Hi", "stream": False})
        assert first.status_code == 500
        error = first.json()["error"]
        assert error.startswith("llama runner process has terminated: signal: aborted")
        assert "GGML_ASSERT" in error
        started = time.monotonic()
        second = http.post("/api/generate", json={"model": "zero", "prompt": "Hi", "stream": False})
        assert second.status_code == 500 and second.json()["error"] == error
        assert time.monotonic() - started < 0.5, "the broken model was loaded again"
        fine = http.post(
            "/api/generate",
            json={"model": ollama_model, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}},
        )
        assert fine.status_code == 200
        http.request("DELETE", "/api/delete", json={"model": "zero"})


def test_loaded_models_are_bounded_and_aliases_share_a_runner(
    ollama_server: Any, ollama_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OLLAMA_MAX_LOADED_MODELS=1: a second model unloads the first (its runner stopped); an alias of the loaded
    file (same context) is served by the same runner."""
    if not ollama_server.embedded:
        pytest.skip("checks the embedded server's runners")
    monkeypatch.setenv("OLLAMA_MAX_LOADED_MODELS", "1")
    with (
        EmbeddedServer(models_dir=ollama_server.models_dir, engine="xllamacpp") as server,
        httpx.Client(base_url=server.url, timeout=120) as http,
    ):
        for name, params in (("same", {}), ("small", {"num_ctx": 1024})):
            made = http.post(
                "/api/create", json={"model": name, "from": ollama_model, "stream": False, "parameters": params}
            )
            assert made.status_code == 200, made.text

        def ask(model: str) -> None:
            r = http.post(
                "/api/generate", json={"model": model, "prompt": "Hi", "stream": False, "options": {"num_predict": 1}}
            )
            assert r.status_code == 200, r.text

        ask(ollama_model)
        first = _runner_pid(server, ollama_model)
        ask("same")
        assert _runner_pid(server, "same") == first  # one runner for both names
        assert sorted(m["name"] for m in http.get("/api/ps").json()["models"]) == sorted([ollama_model, "same:latest"])
        ask("small")  # another context: another engine model, so the least recently used file goes
        assert [m["name"] for m in http.get("/api/ps").json()["models"]] == ["small:latest"]
        deadline = time.monotonic() + 10
        while _alive(first):
            assert time.monotonic() < deadline, "the evicted runner kept running"
            time.sleep(0.05)
        for name in ("same", "small"):
            http.request("DELETE", "/api/delete", json={"model": name})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0


def test_parallel_requests_generate_at_once(ollama_server: Any, ollama_model: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """OLLAMA_NUM_PARALLEL=2: two streams of one model are both mid-generation at the same moment (one batch)
    instead of taking turns, and each gets its own complete answer."""
    if not ollama_server.embedded:
        pytest.skip("checks the embedded server's slots")
    import threading

    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "2")
    with EmbeddedServer(models_dir=ollama_server.models_dir, engine="xllamacpp") as server:
        started = threading.Barrier(3, timeout=120)
        counts: list[int] = []

        def stream(topic: str) -> None:
            body = {"model": ollama_model, "prompt": f"Write a long story about {topic}.",
                    "options": {"num_predict": 48, "temperature": 0}}
            with httpx.Client(base_url=server.url, timeout=120) as http, \
                    http.stream("POST", "/api/generate", json=body) as response:
                lines = response.iter_lines()
                next(lines)
                started.wait()  # both have a first token
                started.wait()  # the main thread has looked
                counts.append(json.loads(list(lines)[-1])["eval_count"])

        threads = [threading.Thread(target=stream, args=(t,)) for t in ("the sea", "a forest")]
        for t in threads:
            t.start()
        started.wait()
        (lm,) = server.runtime.loaded()
        busy = lm.model.slots.busy()  # type: ignore[attr-defined]
        started.wait()
        for t in threads:
            t.join(timeout=120)
        assert busy == 2, "the second request waited for the first"
        assert counts == [48, 48]
