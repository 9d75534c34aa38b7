"""Schemas that crashed the embedded server (segfault, every request lost), through each way a schema arrives.

The server runs in a child process: if an input still crashes it, the test
fails with the count instead of taking pytest down with it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.reliability import _counts
from tests.reliability._server import ChildServer

pytestmark = pytest.mark.timeout(600)

PROMPT = "Answer with a short JSON value."
FIRST_TOKEN = ["{", "[", '"', "t", "f", "n", "-", *"0123456789"]
"""Stop strings that end a JSON answer at its first token: the grammar is built, parsed and sampled with
(where the crashes were), without paying for hundreds of grammar-constrained tokens per request."""


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


# (label, schema, the status it must get)
CRASHERS = [
    ("anyOf []", {"anyOf": []}, 400),
    ("enum []", {"enum": []}, 400),
    ("type []", {"type": []}, 400),
    ('property name with "', _obj(**{'a"b': {"type": "string"}}), 400),
    ("property name with a newline", _obj(**{"a\nb": {"type": "string"}}), 400),
    ("maxLength 3000", {"type": "string", "maxLength": 3000}, 200),
    ("maxLength 10000", {"type": "string", "maxLength": 10000}, 200),
    ("maxLength 10^6", {"type": "string", "maxLength": 10**6}, 200),
    ("maxItems 5000", {"type": "array", "items": {"type": "boolean"}, "maxItems": 5000}, 200),
    ("argument maxLength 3000", _obj(text={"type": "string", "maxLength": 3000}), 200),
    ("Pydantic max_length=5000", {"properties": {"essay": {"maxLength": 5000, "title": "Essay", "type": "string"}},
                                  "required": ["essay"], "title": "Answer", "type": "object"}, 200),
    ("minItems 10^7", {"type": "array", "items": {"type": "integer"}, "minItems": 10_000_000}, 400),
    ("pattern {0,100000}", {"type": "string", "pattern": "^[a-z]{0,100000}$"}, 200),
]


def _channels(model: str, schema: Any, *, whole: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
    """Each way a schema reaches the grammar: format (chat, generate), response_format, tool parameters.

    ``whole``: generate the whole answer (else JSON answers stop at their first token; a forced tool
    call is always generated whole, since a partial one is not a call).
    """
    user = [{"role": "user", "content": PROMPT}]
    tool_params = schema if isinstance(schema, dict) and schema.get("type") == "object" else _obj(value=schema)
    stop: dict[str, Any] = {} if whole else {"stop": FIRST_TOKEN}
    return [
        ("/api/chat format", "/api/chat", {"model": model, "messages": user, "format": schema, "stream": False,
                                           "options": stop}),
        ("/api/generate format", "/api/generate", {"model": model, "prompt": PROMPT, "format": schema,
                                                   "stream": False, "options": stop}),
        ("/v1 response_format", "/v1/chat/completions", {
            "model": model, "messages": user, **stop,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}}),
        ("tool parameters", "/api/chat", {
            "model": model, "messages": user, "stream": False,
            "tools": [{"type": "function", "function": {"name": "answer", "parameters": tool_params}}]}),
    ]


@pytest.mark.parametrize(("label", "schema", "status"), CRASHERS, ids=[c[0] for c in CRASHERS])
def test_a_schema_never_crashes_the_server(child_server: ChildServer, ollama_model: str, label: str,
                                           schema: Any, status: int) -> None:
    ended = {}
    for channel, path, body in _channels(ollama_model, schema):
        outcome, response = child_server.send("POST", path, body, timeout=120)
        _counts.record(f"crash schemas via {channel}", outcome)
        ended[channel] = outcome
        if outcome == "400":
            assert response is not None
            error = response.json()["error"]
            message = error["message"] if isinstance(error, dict) else error
            assert any(word in message for word in ("format", "response_format", "tools[0]")), message
    assert ended == {channel: str(status) for channel, _, _ in _channels(ollama_model, schema)}, ended
    assert child_server.alive() and not child_server.crashes


def _content(path: str, response: Any) -> str:
    data = response.json()
    if path == "/api/chat":
        return str(data["message"]["content"])
    if path == "/api/generate":
        return str(data["response"])
    return str(data["choices"][0]["message"]["content"])


def test_max_items_zero_gives_an_empty_array(child_server: ChildServer, ollama_model: str) -> None:
    schema = {"type": "array", "maxItems": 0}
    for channel, path, body in _channels(ollama_model, schema, whole=True)[:3]:
        outcome, response = child_server.send("POST", path, body, timeout=120)
        assert outcome == "200", (channel, response.text if response else outcome)
        assert json.loads(_content(path, response)) == [], channel


def test_large_max_length_output_satisfies_the_schema(child_server: ChildServer, ollama_model: str) -> None:
    schema = _obj(name={"type": "string", "maxLength": 5000}, tags={"type": "array", "maxItems": 2,
                                                                      "items": {"type": "string", "maxLength": 8}})
    for channel, path, body in _channels(ollama_model, schema, whole=True)[:3]:
        outcome, response = child_server.send("POST", path, body, timeout=120)
        assert outcome == "200", (channel, response.text if response else outcome)
        value = json.loads(_content(path, response))
        assert set(value) == {"name", "tags"} and isinstance(value["name"], str), channel
        assert len(value["tags"]) <= 2 and all(len(t) <= 8 for t in value["tags"]), channel
