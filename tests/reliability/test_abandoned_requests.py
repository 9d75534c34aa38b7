"""A client that goes away stops its generation: the next request does not wait for an answer nobody reads."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.reliability import _counts

pytestmark = pytest.mark.timeout(300)

LONG = "Write a very long essay about the history of every country in the world."


def _short(client: httpx.Client, model: str) -> float:
    started = time.perf_counter()
    response = client.post("/api/generate", json={"model": model, "prompt": "Hi", "stream": False,
                                                  "options": {"num_predict": 2}})
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def _abandon(url: str, path: str, body: dict[str, Any], *, stream: bool) -> None:
    """Send ``body`` and hang up after 0.2 s, before the answer is complete."""
    with httpx.Client(base_url=url, timeout=httpx.Timeout(60, read=0.2)) as client:
        try:
            if stream:
                with client.stream("POST", path, json=body) as response:
                    for _ in response.iter_bytes():
                        pass
            else:
                client.post(path, json=body)
        except httpx.ReadTimeout:
            return
    pytest.fail("the request finished within 0.2 s; it cannot test abandonment")


CASES = {
    "non-streamed /api/chat": ("/api/chat", {"messages": [{"role": "user", "content": LONG}], "stream": False,
                                             "options": {"num_predict": 3000}}, False),
    "non-streamed /v1/chat/completions": ("/v1/chat/completions", {
        "messages": [{"role": "user", "content": LONG}], "max_tokens": 3000}, False),
    "streamed forced tool call": ("/v1/chat/completions", {
        "messages": [{"role": "user", "content": LONG}], "stream": True, "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "essay", "parameters": {
            "type": "object", "properties": {"text": {"type": "string", "minLength": 1000, "maxLength": 4000}}, "required": ["text"]}}}]},
        True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_abandoned_request_frees_the_model_within_a_second(ollama_server: Any, ollama_model: str,
                                                              case: str) -> None:
    path, body, stream = CASES[case]
    with httpx.Client(base_url=ollama_server.url, timeout=120) as client:
        # Once first, so its prompt is in the prompt cache: evaluating a prompt is one llama.cpp call that
        # cannot stop half-way (seconds on a loaded machine); what is measured here is the generation after it.
        _abandon(ollama_server.url, path, {"model": ollama_model, **body}, stream=stream)
        _short(client, ollama_model)
        alone = min(_short(client, ollama_model) for _ in range(2))
        _abandon(ollama_server.url, path, {"model": ollama_model, **body}, stream=stream)
        waited = _short(client, ollama_model)
    late = waited - alone
    _counts.record("abandoned requests: seconds the next request waited", f"{'<=' if late <= 1.5 else '>'} 1.5 s")
    assert late <= 1.5, f"the next request took {waited:.2f} s against {alone:.2f} s alone: the abandoned one kept going"
