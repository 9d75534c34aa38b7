"""Generated requests against the real embedded server (in a child process), native and ``/v1``, schemas included.

A seeded generator builds each input from a valid request and a few hostile
changes: wrong types, NaN and huge numbers, lone surrogates, deep nesting,
unknown fields, and JSON schemas with empty alternatives, quotes in names and
huge limits. Every input must end in a 200 or a 4xx with the server still up;
the tally of how each ended is printed with the suite's summary. Generation is
kept to 1-4 tokens (grammar-constrained output gets its own minimum budget, so
the valid schemas generated here are small), which keeps the run near a minute.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.reliability import _counts
from tests.reliability._server import ChildServer

pytestmark = pytest.mark.timeout(900)

SEED = 20261126
PER_CATEGORY = {
    "schemas via /api/chat format": 260,
    "schemas via /api/generate format": 180,
    "schemas via /v1 response_format": 220,
    "schemas via tool parameters": 200,
    "native /api/chat bodies": 300,
    "native /api/generate bodies": 220,
    "native /api/embed, /api/show, /api/create bodies": 200,
    "/v1/chat/completions bodies": 260,
    "/v1/completions and /v1/embeddings bodies": 160,
}

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 5, 1.5, 10**30, -(10**30), float("nan"), float("inf"), "", "x", "no", "\ud800",
    "a\x00b", "\u202e", "x" * 300, [], [1, "a", None], {}, {"a": {"b": []}}, [[[[[[[[[[]]]]]]]]]],
]
OPTION_KEYS = ["num_predict", "num_ctx", "temperature", "top_k", "top_p", "min_p", "seed", "stop", "num_thread",
               "repeat_penalty", "presence_penalty", "frequency_penalty", "typical_p", "mirostat", "unknown"]
TYPES = ["string", "number", "integer", "boolean", "null", "object", "array"]
FIRST_TOKEN = ["{", "[", '"', "t", "f", "n", "-", *"0123456789"]
"""Stops a JSON answer at its first token: grammar-bound output otherwise gets at least 512 tokens."""


class Gen:
    """Seeded builders for hostile values, schemas and request bodies."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def odd(self) -> Any:
        return self.r.choice(ODD_VALUES)

    def name(self) -> str:
        return self.r.choice(["a", "b", "city", "x_1", "with space", 'quo"te', "new\nline", "back\\slash", "é",
                              "$ref", "", "tab\tname", "\x7f"])

    def small_schema(self, depth: int = 0) -> dict[str, Any]:
        """A valid schema whose output is a few tokens (so a grammar-bound generation is quick)."""
        kind = self.r.choice(["boolean", "integer", "enum", "string", "null", "object", "array"] if depth < 2
                             else ["boolean", "integer", "enum", "null"])
        if kind == "enum":
            return {"enum": self.r.sample(["red", "green", 1, None, True], self.r.randint(1, 3))}
        if kind == "string":
            return {"type": "string", "maxLength": self.r.randint(0, 6)}
        if kind == "object":
            props = {f"p{i}": self.small_schema(depth + 1) for i in range(self.r.randint(0, 2))}
            return {"type": "object", "properties": props, "required": list(props)}
        if kind == "array":
            return {"type": "array", "items": self.small_schema(depth + 1), "maxItems": self.r.randint(0, 2)}
        return {"type": kind}

    def hostile_schema(self, depth: int = 0) -> Any:
        """A schema with at least one hostile change somewhere (most are refused before any generation)."""
        r = self.r
        base = self.small_schema(depth)
        roll = r.random()
        if roll < 0.08:
            return r.choice([{"anyOf": []}, {"oneOf": []}, {"enum": []}, {"type": []}, {"allOf": []}])
        if roll < 0.16:
            base["type"] = r.choice([*TYPES, "strng", "any", 5, None, ["string", "nope"], ["integer", "null"]])
            return base
        if roll < 0.26:
            props = {self.name(): self.small_schema(depth + 1) for _ in range(r.randint(1, 3))}
            return {"type": "object", "properties": props, "required": list(props)[: r.randint(0, len(props))]}
        if roll < 0.40:
            key = r.choice(["maxLength", "minLength", "maxItems", "minItems", "minProperties", "maxProperties"])
            value = r.choice([0, 1, 3, 3000, 10_000, 10**6, 10**7, -1, 2.5, "5", True, None, 10**30])
            kind = "string" if "Length" in key else "array" if "Items" in key else "object"
            schema: dict[str, Any] = {"type": kind, key: value}
            if kind == "array" and r.random() < 0.5:
                schema["items"] = {"type": "boolean"}
            if r.random() < 0.3:  # the outer limit only: keep the output small but the grammar large
                schema = {"type": "array", "items": schema, "maxItems": 0}
            return schema
        if roll < 0.48:
            return {"type": "string", "pattern": r.choice(["^a{0,100000}$", "^[a-z]{2,3}$", "^(?=x)$", "no anchors",
                                                           "^a{5,2}$", "^\"$", "^(a|b$", "^\\d{1,3}$", 5])}
        if roll < 0.56:
            return r.choice([{"enum": [r.choice(['q"uote', "new\nline", "ok", "tab\t", 1, None])]},
                             {"const": r.choice(["fine", 'q"', {"k": "v\n"}, [1, 2], None])}])
        if roll < 0.64:
            return r.choice([{"$ref": "#/$defs/missing"}, {"$ref": "https://example.com/x.json"},
                             {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
                             {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}, {"$ref": 5}])
        if roll < 0.70:
            nested: Any = {"type": "integer"}
            for _ in range(r.choice([5, 40, 200])):
                nested = {"type": "object", "properties": {"x": nested}}
            return nested
        if roll < 0.76:
            return {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(r.choice([3, 300]))}}
        if roll < 0.82:
            return r.choice([5, "string", [], None, True, False, "json", '{"type":"integer"}', "{bad"])
        if roll < 0.90 and depth < 3:
            return {"type": "object", "properties": {"inner": self.hostile_schema(depth + 1)}, "required": ["inner"]}
        base[r.choice(["properties", "items", "anyOf", "required", "additionalProperties", "enum"])] = self.odd()
        return base

    def mutate(self, body: dict[str, Any], keys: list[str]) -> dict[str, Any] | bytes:
        """``body`` with one to three hostile changes, or raw bytes that are not a well-formed request."""
        r = self.r
        if r.random() < 0.05:
            return r.choice([b"", b"{", b"[1,2]", b"null", b'{"model":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                             b'{"model": "\\ud800"}', b"\xff\xfe", json.dumps(body).encode()[:-1]])
        body = json.loads(json.dumps(body))
        for _ in range(r.randint(1, 3)):
            roll = r.random()
            if roll < 0.35:
                body[r.choice(keys)] = self.odd()
            elif roll < 0.6:
                options = body.setdefault("options", {}) if isinstance(body.get("options", {}), dict) else {}
                options[r.choice(OPTION_KEYS)] = self.odd()
            elif (roll < 0.75 and isinstance(body.get("messages"), list) and body["messages"]
                  and isinstance(body["messages"][0], dict)):
                message = body["messages"][0]
                message[r.choice(["role", "content", "tool_calls", "images", "tool_call_id", "name"])] = r.choice(
                    [*ODD_VALUES, "aGk=", "not base64!", ["not base64!"], [{"function": 5}],
                     [{"function": {"name": "f", "arguments": "{bad"}}]])
            elif roll < 0.85:
                body["stream"] = r.choice([True, False, "no", 0, None, "false"])
            else:
                body[r.choice(["zzz", "keep_alive", "think", "format", "tools", "context", "raw"])] = r.choice(
                    [*ODD_VALUES, "5m", -1, [1, 2, 3], [-5], [10**9], "json"])
        return body


def _chat(model: str, g: Gen) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": g.r.random() < 0.3,
            "options": {"num_predict": g.r.randint(1, 4), "stop": FIRST_TOKEN}}


def _cases(model: str, g: Gen) -> dict[str, Callable[[], tuple[str, str, Any]]]:
    r = g.r

    def schema_chat() -> tuple[str, str, Any]:
        return "POST", "/api/chat", {**_chat(model, g), "format": g.hostile_schema()}

    def schema_generate() -> tuple[str, str, Any]:
        return "POST", "/api/generate", {"model": model, "prompt": "hi", "stream": False,
                                         "options": {"num_predict": 2, "stop": FIRST_TOKEN},
                                         "format": g.hostile_schema()}

    def schema_v1() -> tuple[str, str, Any]:
        rf: Any = {"type": "json_schema", "json_schema": {"name": "x", "schema": g.hostile_schema()}}
        if r.random() < 0.1:
            rf = r.choice([{"type": "json_schema"}, {"type": "xml"}, "json", {"type": "json_schema",
                                                                               "json_schema": 5}])
        return "POST", "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "hi"}],
                                                "max_tokens": 2, "stop": FIRST_TOKEN[:4], "response_format": rf}

    def schema_tools() -> tuple[str, str, Any]:
        schema = g.hostile_schema()
        params = schema if isinstance(schema, dict) and schema.get("type") == "object" else {
            "type": "object", "properties": {"v": schema}}
        name = r.choice(["f", "get_weather", 'say"hi', "new\nline", "", 5])
        tools = [{"type": "function", "function": {"name": name, "parameters": params}}]
        # every tool list is validated; the answer is text (after a tool result, or with tool_choice none),
        # since a forced call is generated whole under its grammar
        if r.random() < 0.5:
            body = _chat(model, g)
            body["messages"] += [{"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "f", "arguments": {}}}]}, {"role": "tool", "content": "42"}]
            return "POST", "/api/chat", {**body, "tools": tools}
        return "POST", "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "hi"}],
                                                "max_tokens": 2, "tools": tools, "tool_choice": "none"}

    def native_chat() -> tuple[str, str, Any]:
        return "POST", "/api/chat", g.mutate(_chat(model, g), ["model", "messages", "format", "options", "tools"])

    def native_generate() -> tuple[str, str, Any]:
        body = {"model": model, "prompt": "hi", "stream": False,
                "options": {"num_predict": r.randint(1, 4), "stop": FIRST_TOKEN}}
        return "POST", "/api/generate", g.mutate(body, ["model", "prompt", "system", "images", "context", "suffix"])

    def native_other() -> tuple[str, str, Any]:
        path, body, keys = r.choice([
            ("/api/embed", {"model": model, "input": ["hi", "there"]}, ["input", "model", "dimensions", "truncate"]),
            ("/api/show", {"model": model}, ["model", "name", "verbose"]),
            ("/api/create", {"model": f"fuzz-{r.randint(0, 3)}", "from": model},
             ["from", "model", "system", "parameters", "adapters", "template", "files", "quantize"]),
        ])
        return "POST", path, g.mutate(body, keys)

    def v1_chat() -> tuple[str, str, Any]:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": r.randint(1, 4),
                "stream": r.random() < 0.3}
        return "POST", "/v1/chat/completions", g.mutate(
            body, ["model", "messages", "max_tokens", "temperature", "top_p", "stop", "seed", "tools", "tool_choice",
                   "response_format", "n", "stream_options", "reasoning_effort"])

    def v1_other() -> tuple[str, str, Any]:
        if r.random() < 0.5:
            body = {"model": model, "prompt": "hi", "max_tokens": r.randint(1, 4)}
            return "POST", "/v1/completions", g.mutate(body, ["model", "prompt", "max_tokens", "stop", "suffix"])
        body = {"model": model, "input": ["hi"]}
        return "POST", "/v1/embeddings", g.mutate(body, ["model", "input", "encoding_format", "dimensions"])

    builders = [schema_chat, schema_generate, schema_v1, schema_tools, native_chat, native_generate, native_other,
                v1_chat, v1_other]
    return dict(zip(PER_CATEGORY, builders, strict=True))


def _bad(outcome: str) -> bool:
    return not (outcome == "200" or (outcome.isdigit() and 400 <= int(outcome) < 500))


FUZZ_MODEL = "fuzz-short"
"""A model derived for the run whose defaults keep any answer short, whatever a mutation removes."""


def test_fuzzed_requests_end_in_200_or_4xx(child_server: ChildServer, ollama_model: str) -> None:
    created, response = child_server.send("POST", "/api/create", {
        "model": FUZZ_MODEL, "from": ollama_model, "stream": False,
        "parameters": {"num_predict": 4, "stop": FIRST_TOKEN}})
    assert created == "200", response.text if response else created
    g = Gen(SEED)
    failures: list[str] = []
    tally: Counter[str] = Counter()
    for category, build in _cases(FUZZ_MODEL, g).items():
        for _ in range(PER_CATEGORY[category]):
            method, path, body = build()
            outcome, response = child_server.send(method, path, body, timeout=60)
            _counts.record(f"fuzz: {category}", outcome)
            tally[outcome] += 1
            if _bad(outcome) and len(failures) < 20:
                shown = body if isinstance(body, bytes) else json.dumps(body)[:300]
                failures.append(f"{outcome} {path} {shown!r}: {response.text[:200] if response else ''}")
    assert sum(tally.values()) >= 2000
    assert not failures, "\n".join(failures)
    assert child_server.alive() and not child_server.crashes
