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


def _turn(http: httpx.Client, model: str, messages: list[dict[str, str]], num_ctx: int = 4096,
          num_predict: int = 3) -> dict[str, Any]:
    r = http.post("/api/chat", json={"model": model, "messages": messages, "stream": False,
                                     "options": {"num_predict": num_predict, "temperature": 0, "seed": 7,
                                                 "num_ctx": num_ctx}})
    assert r.status_code == 200, r.text
    return r.json()


def _interleave(url: str, model: str, others: int = 1, num_predict: int = 3) -> tuple[dict[str, Any], ...]:
    """Conversation A, then ``others`` other conversations, then A again: every reply, in order.

    Each conversation's system prompt is ~600 tokens of its own; A's second turn starts
    with all of A's first turn, so a cache that kept A's state reads only the new suffix.
    """
    names = ["critic", "coder", "tester", "writer", "judge", "scribe", "reviewer"][:others]
    with httpx.Client(base_url=url, timeout=120) as http:
        a = [{"role": "system", "content": _system("planner")}, {"role": "user", "content": "Start."}]
        first = _turn(http, model, a, num_predict=num_predict)
        between = [_turn(http, model, [{"role": "system", "content": _system(name)},
                                       {"role": "user", "content": "Go."}], num_predict=num_predict)
                   for name in names]
        a += [first["message"], {"role": "user", "content": "Which agent are you, and what is fact 7?"}]
        again = _turn(http, model, a, num_predict=num_predict)
        return first, *between, again


def _prompt_cache(url: str, model: str) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        models = http.get("/api/ps").json()["models"]
    # Other tests may have loaded other models on the shared server: the test model's entry is the one.
    (loaded,) = [m for m in models if m["name"] in (model, f"{model}:latest")]
    cache: dict[str, int] = loaded["prompt_cache"]
    return cache


def test_an_interrupted_conversation_resumes_without_rereading_its_prefix(ollama_server: Any,
                                                                          ollama_model: str) -> None:
    if not ollama_server.embedded:
        pytest.skip("the prompt cache is the embedded server's")
    from integrations.embedded import EmbeddedServer

    first, _, again = _interleave(ollama_server.url, ollama_model)
    assert first["prompt_eval_count"] > 400
    assert again["prompt_eval_count"] < 60, f"A's second turn evaluated {again['prompt_eval_count']} tokens again"
    cache = _prompt_cache(ollama_server.url, ollama_model)
    assert cache["conversations"] >= 1 and 0 < cache["size"] <= cache["budget"], cache
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=0) as one_slot:
        first, _, again = _interleave(one_slot.url, ollama_model)
        cache = _prompt_cache(one_slot.url, ollama_model)
    assert cache == {"conversations": 0, "size": 0, "budget": 0}, "no slots: nothing is saved"
    assert again["prompt_eval_count"] > first["prompt_eval_count"], \
        "with one slot, B's turn evicts A's prefix and A is read again in full"


@pytest.mark.engines
@pytest.mark.parametrize("others", [1, 5], ids=["after-one-other", "after-five-others"])
def test_a_resumed_conversation_answers_as_without_the_cache(ollama_server: Any, ollama_model: str,
                                                             others: int) -> None:
    """The restored state is A's own, on every engine.

    Exact: A's reply after ``others`` conversations came between, its state put back from the
    cache, is word for word A's reply on a server with the cache off when nothing came between
    (that server keeps A's first turn live in its slot, so both evaluate the second turn on the
    first as it was computed). With the restore skipped or another state put back, A's second
    turn would run on another conversation's context.

    Against a cache-off server that reads A again in full after the others: llama-cpp-python,
    which reuses its live context either way, is exact too; llama.cpp's server (the prebuilt
    engine) evaluates the re-read prompt in other batches and the float sums differ, so there
    the resumed answer opens as the cache-less one (same first words) and may part after a few.
    """
    if not ollama_server.embedded:
        pytest.skip("the prompt cache is the embedded server's")
    from integrations.embedded import EmbeddedServer

    engine = ollama_server.engine
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=8, engine=engine) as cached:
        replies = _interleave(cached.url, ollama_model, others, num_predict=24)
    assert replies[-1]["prompt_eval_count"] < 60, "A's state was restored, not read again"
    # two fresh servers: what one conversation leaves in a slot would change how the next is computed
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=0, engine=engine) as uncached:
        alone = _interleave(uncached.url, ollama_model, 0, num_predict=24)
    with EmbeddedServer(models_dir=ollama_server.models_dir, prompt_cache_slots=0, engine=engine) as uncached:
        reread = _interleave(uncached.url, ollama_model, others, num_predict=24)
    assert alone[-1]["prompt_eval_count"] < 60, "uninterrupted, A's first turn is still in the slot"
    assert reread[-1]["prompt_eval_count"] > 400, "without the cache, A is read again in full after the others"
    said, alone_said, reread_said = ([r["message"]["content"] for r in run] for run in (replies, alone, reread))
    assert said[-1] == alone_said[-1], "A's resumed answer is A's uninterrupted answer, word for word"
    assert said[:-1] == reread_said[:-1], "the conversations in between started afresh either way"
    assert said[-1].split()[:6] == reread_said[-1].split()[:6], "and it opens as the re-read one"
    if engine == "llama-cpp":
        assert said[-1] == reread_said[-1]


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
