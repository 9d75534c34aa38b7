"""The generation core through every encoder: log-probabilities, and the prompt cache per conversation."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("ollama_server")


@pytest.fixture
def http(ollama_server: Any) -> httpx.Client:
    with httpx.Client(base_url=ollama_server.url, timeout=120) as client:
        yield client


def _check_entry(entry: dict[str, Any], top: int) -> None:
    assert isinstance(entry["token"], str)
    assert entry["logprob"] <= 0.0 and math.isfinite(entry["logprob"])
    assert isinstance(entry["bytes"], list)
    assert len(entry["top_logprobs"]) == top
    best = [t["logprob"] for t in entry["top_logprobs"]]
    assert best == sorted(best, reverse=True)
    if top:
        assert entry["logprob"] <= best[0] + 1e-4


def test_native_generate_returns_logprobs_per_token(http: httpx.Client, ollama_model: str) -> None:
    r = http.post("/api/generate", json={"model": ollama_model, "prompt": "Count: 1, 2, 3,", "stream": False,
                                         "logprobs": True, "top_logprobs": 3,
                                         "options": {"num_predict": 6, "temperature": 0}})
    body = r.json()
    assert r.status_code == 200, body
    assert len(body["logprobs"]) == body["eval_count"]
    assert "".join(e["token"] for e in body["logprobs"]) == body["response"]
    for entry in body["logprobs"]:
        _check_entry(entry, 3)
    # greedy sampling picks the likeliest token, so its logprob is the top one
    assert all(abs(e["logprob"] - e["top_logprobs"][0]["logprob"]) < 1e-4 for e in body["logprobs"])


def test_openai_chat_returns_logprobs_streamed_and_whole(http: httpx.Client, ollama_model: str) -> None:
    request = {"model": ollama_model, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 5,
               "temperature": 0, "logprobs": True, "top_logprobs": 2}
    whole = http.post("/v1/chat/completions", json=request).json()
    content = whole["choices"][0]["logprobs"]["content"]
    assert len(content) == whole["usage"]["completion_tokens"]
    for entry in content:
        _check_entry(entry, 2)
    streamed: list[dict[str, Any]] = []
    with http.stream("POST", "/v1/chat/completions", json={**request, "stream": True}) as response:
        import json

        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                for choice in chunk["choices"]:
                    streamed += (choice.get("logprobs") or {}).get("content") or []
    assert [e["token"] for e in streamed] == [e["token"] for e in content]


def test_completions_logprobs_use_the_legacy_columns(http: httpx.Client, ollama_model: str) -> None:
    body = http.post("/v1/completions", json={"model": ollama_model, "prompt": "Hello", "max_tokens": 4,
                                              "temperature": 0, "logprobs": 2}).json()
    lp = body["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == body["usage"]["completion_tokens"] > 0
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
    assert all(len(alts) <= 2 for alts in lp["top_logprobs"])


@pytest.mark.parametrize("bad", [{"top_logprobs": 21}, {"top_logprobs": "3"}, {"logprobs": "yes"}])
def test_bad_logprobs_requests_are_400(http: httpx.Client, ollama_model: str, bad: dict[str, Any]) -> None:
    r = http.post("/api/generate", json={"model": ollama_model, "prompt": "Hi", "stream": False, **bad})
    assert r.status_code == 400
    assert "logprobs" in r.json()["error"]


def _system(name: str) -> str:
    facts = " ".join(f"Fact {i}: the {name} agent keeps note number {i} about its task." for i in range(40))
    return f"You are the {name} agent. {facts}"


def _turn(http: httpx.Client, model: str, messages: list[dict[str, str]], num_ctx: int = 4096) -> dict[str, Any]:
    r = http.post("/api/chat", json={"model": model, "messages": messages, "stream": False,
                                     "options": {"num_predict": 3, "temperature": 0, "num_ctx": num_ctx}})
    assert r.status_code == 200, r.text
    return r.json()


def _interleave(url: str, model: str) -> tuple[int, int]:
    """Conversation A, then B, then A again: (prompt tokens of A's second turn, of which evaluated)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        a = [{"role": "system", "content": _system("planner")}, {"role": "user", "content": "Start."}]
        first = _turn(http, model, a)
        _turn(http, model, [{"role": "system", "content": _system("critic")}, {"role": "user", "content": "Go."}])
        a += [first["message"], {"role": "user", "content": "Next."}]
        again = _turn(http, model, a)
        with httpx.Client(base_url=url, timeout=30) as ps:
            loaded = ps.get("/api/ps").json()["models"]
        assert loaded and loaded[0]["prompt_cache"]["budget"] >= 0
        return first["prompt_eval_count"], again["prompt_eval_count"]


def test_an_interrupted_conversation_resumes_without_rereading_its_prefix(ollama_server: Any,
                                                                          ollama_model: str, tmp_path: Any) -> None:
    if not ollama_server.embedded:
        pytest.skip("the prompt cache is the embedded server's")
    from integrations.embedded import EmbeddedServer

    first, again = _interleave(ollama_server.url, ollama_model)
    assert first > 400
    assert again < 60, f"A's second turn evaluated {again} of its tokens again"
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=0) as one_slot:
        first, again = _interleave(one_slot.url, ollama_model)
    assert again > first, "with one slot, B's turn evicts A's prefix and A is read again in full"


def test_the_cache_stays_within_its_budget(ollama_server: Any, ollama_model: str) -> None:
    if not ollama_server.embedded:
        pytest.skip("the prompt cache is the embedded server's")
    from integrations.embedded import EmbeddedServer

    # one slot's budget is one full context's KV: 1,024 tokens here, and each conversation holds ~600
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=1) as server, \
            httpx.Client(base_url=server.url, timeout=120) as http:
        for name in ("a", "b", "c", "d"):
            _turn(http, ollama_model, [{"role": "system", "content": _system(name)},
                                       {"role": "user", "content": "Hi"}], num_ctx=1024)
        cache = http.get("/api/ps").json()["models"][0]["prompt_cache"]
    assert cache["conversations"] == 1, cache
    assert 0 < cache["size"] <= cache["budget"]
