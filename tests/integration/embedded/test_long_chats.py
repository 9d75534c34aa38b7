"""A chat longer than the model's context, on the real server: the oldest turns go, the system message and the latest
turns stay (as Ollama does), or ``truncate: false`` gets a 400."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations.embedded.planning import TOO_LONG

pytestmark = pytest.mark.timeout(300)

NUM_CTX = 512
SYSTEM = {"role": "system", "content": "You answer in one word."}
TURNS = [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"Turn {i}: " + "the quick brown fox jumps " * 6}
    for i in range(24)
] + [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def small_context(ollama_server: Any, ollama_model: str) -> Iterator[tuple[httpx.Client, str]]:
    """The test model under a new name whose context is NUM_CTX tokens (a Modelfile parameter, as users set it)."""
    name = "context-fit-512"
    with httpx.Client(base_url=ollama_server.url, timeout=120) as http:
        created = http.post(
            "/api/create",
            json={"model": name, "from": ollama_model, "parameters": {"num_ctx": NUM_CTX}, "stream": False},
        )
        assert created.status_code == 200, created.text
        try:
            yield http, name
        finally:
            http.request("DELETE", "/api/delete", json={"model": name})


def _prompt_tokens(http: httpx.Client, model: str, messages: list[dict[str, Any]]) -> int:
    reply = http.post(
        "/v1/chat/completions", json={"model": model, "messages": messages, "max_tokens": 1, "temperature": 0}
    )
    assert reply.status_code == 200, reply.text
    return int(reply.json()["usage"]["prompt_tokens"])


def test_the_latest_turns_that_fit_are_kept_with_the_system_message(
    small_context: tuple[httpx.Client, str], ollama_model: str
) -> None:
    http, model = small_context
    # what each candidate prompt costs, counted on the model with its own, larger context (nothing truncated there)
    assert _prompt_tokens(http, ollama_model, [SYSTEM, *TURNS]) > NUM_CTX
    fitting = 0
    for k in range(1, len(TURNS) + 1):  # the system message and the last k turns, until they no longer fit
        tokens = _prompt_tokens(http, ollama_model, [SYSTEM, *TURNS[-k:]])
        if tokens > NUM_CTX:
            break
        fitting = tokens
    assert 0 < fitting <= NUM_CTX
    whole = _prompt_tokens(http, model, [SYSTEM, *TURNS])
    assert whole == fitting, "the prompt is the system message and the most of the latest whole turns that fit"


def test_truncate_false_refuses_a_chat_longer_than_the_context(small_context: tuple[httpx.Client, str]) -> None:
    http, model = small_context
    reply = http.post(
        "/api/chat",
        json={
            "model": model,
            "messages": [SYSTEM, *TURNS],
            "stream": False,
            "truncate": False,
            "options": {"num_predict": 1},
        },
    )
    assert reply.status_code == 400
    assert TOO_LONG in reply.json()["error"] and f"num_ctx {NUM_CTX}" in reply.json()["error"]
    short = http.post(
        "/api/chat",
        json={
            "model": model,
            "messages": [SYSTEM, TURNS[-1]],
            "stream": False,
            "truncate": False,
            "options": {"num_predict": 1},
        },
    )
    assert short.status_code == 200, short.text
