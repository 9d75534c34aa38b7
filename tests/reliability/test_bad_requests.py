"""Requests that used to get a 500 or be accepted silently: each gets a 4xx naming the field, or a correct result."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import httpx
import pytest

from tests.reliability import _counts

pytestmark = pytest.mark.timeout(180)

M = "smollm2:135m"
HI = [{"role": "user", "content": "hi"}]
SHORT = {"num_predict": 1}

# (path, body, the status, words the error must contain)
BAD: list[tuple[str, Any, int, tuple[str, ...]]] = [
    ("/api/chat", b'{"model":"x","messages":' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, ("nested",)),
    ("/api/chat", {"model": M, "messages": [{"role": "user", "content": "hi", "tool_calls": 5}]}, 400,
     ("messages[0].tool_calls",)),
    ("/api/generate", {"model": M, "prompt": "hi", "context": [10**9], "stream": False, "options": SHORT}, 400,
     ("context", "1000000000")),
    ("/api/embed", {"model": M, "input": ["a", ""]}, 400, ("input[1]", "empty")),
    ("/api/show", {"model": "../../etc/passwd"}, 400, ("invalid model name",)),
    ("/api/chat", {"model": M, "messages": HI, "options": {"temperature": float("nan")}}, 400,
     ('"temperature"', "finite")),
    ("/api/generate", {"model": M, "prompt": "hi", "options": {"top_p": float("inf")}}, 400, ('"top_p"',)),
    ("/api/chat", {"model": M, "messages": [{"role": "user", "content": "hi", "images": ["not base64!"]}]}, 400,
     ("messages[0].images[0]", "base64")),
    ("/api/generate", {"model": M, "prompt": "hi", "images": ["@@@"]}, 400, ("images[0]", "base64")),
    ("/api/chat", {"model": M, "messages": HI, "stream": "no"}, 400, ("stream",)),
    ("/api/create", {"model": "x-adapted", "from": M, "adapters": {"a.gguf": "sha256:00"}}, 400, ("adapters",)),
    ("/api/create", {"model": "x-templated", "from": M, "template": "{{ .Prompt }}"}, 400, ("template",)),
    ("/api/chat", {"model": M, "messages": HI, "options": {"stop": ["x"] * 100_000}}, 400, ('"stop"', "limit")),
    ("/api/chat", {"model": M, "messages": HI, "format": {"type": "array", "minItems": 10**7}}, 400,
     ("format.minItems",)),
    ("/v1/chat/completions", {"model": M, "messages": HI, "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "schema": {"anyOf": []}}}}, 400,
     ("response_format.json_schema.schema.anyOf",)),
    ("/v1/chat/completions", {"model": M, "messages": HI, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {'a"b': {"type": "string"}}}}}]}, 400,
     ("tools[0].function.parameters.properties",)),
    ("/v1/messages", {"model": M, "max_tokens": 5, "messages": HI, "tools": 5}, 400, ("tools",)),
    ("/v1/messages", {"model": M, "max_tokens": 5, "messages": HI, "tools": {"name": "f"}}, 400, ("tools",)),
    ("/v1/chat/completions", {"model": M, "messages": HI, "tools": 5}, 400, ("tools",)),
    ("/v1/responses", {"model": M, "input": "hi", "tools": 5}, 400, ("tools",)),
    ("/api/chat", {"model": M, "messages": HI, "tools": 5}, 400, ("tools",)),
    ("/api/chat", {"model": M, "messages": HI, "format": {
        "type": "object", "properties": {"": {"type": "integer"}}, "required": [""]}}, 400,
     ("format.properties", '""')),
    ("/v1/chat/completions", {"model": M, "messages": HI, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"": {"type": "string"}}}}}}, 400,
     ("response_format.json_schema.schema.properties", '""')),
]


@pytest.mark.parametrize(("path", "body", "status", "words"), BAD, ids=[f"{b[0]} {i}" for i, b in enumerate(BAD)])
def test_bad_requests_get_a_4xx_naming_the_field(ollama_server: Any, path: str, body: Any, status: int,
                                                 words: tuple[str, ...]) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(f"{ollama_server.url}{path}", content=content, timeout=120)
    _counts.record("bad requests that used to be a 500 or accepted", str(response.status_code))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    message = error["message"] if isinstance(error, dict) else error
    assert all(word in message for word in words), message


def test_a_lone_surrogate_is_replaced_as_ollama_does(ollama_server: Any) -> None:
    content = b'{"model":"' + M.encode() + b'","prompt":"hi \\ud800","stream":false,"options":{"num_predict":1}}'
    response = httpx.post(f"{ollama_server.url}/api/generate", content=content, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["done"] is True


def _gguf_claiming(count: int, *, kind: int) -> bytes:
    """A GGUF header whose one metadata entry is an array of ``kind`` claiming ``count`` items (it holds 8 bytes)."""
    key = b"general.lie"
    entry = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, kind, count) + b"\0" * 8
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + entry


@pytest.mark.parametrize(("what", "data"), [
    ("an array of bytes claiming 2**61 items", _gguf_claiming(2**61, kind=0)),
    ("an array of strings claiming 2**61 items", _gguf_claiming(2**61, kind=8)),
    ("metadata claiming 2**61 entries", b"GGUF" + struct.pack("<IQQ", 3, 0, 2**61)),
    ("a file cut short", _gguf_claiming(2, kind=10)[:-3]),
], ids=["bytes-2**61", "strings-2**61", "metadata-2**61", "cut-short"])
def test_create_from_a_lying_gguf_is_a_400(ollama_server: Any, what: str, data: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    upload = httpx.post(f"{ollama_server.url}/api/blobs/{digest}", content=data, timeout=30)
    assert upload.status_code in (200, 201), upload.text
    response = httpx.post(f"{ollama_server.url}/api/create", json={
        "model": "liar", "files": {"liar.gguf": digest}, "stream": False}, timeout=30)
    _counts.record("bad requests that used to be a 500 or accepted", str(response.status_code))
    assert response.status_code == 400, (what, response.text)
    assert "liar.gguf" in response.json()["error"] and "GGUF" in response.json()["error"]
