"""The framework factories, one table: what each builds, and what its requests carry, without a real server.

Native-API clients must send ``num_ctx``, ``keep_alive`` and the model's own name
(no derived model) with every request; ``/v1`` clients go through our transport,
which fills the sampling defaults Ollama's ``/v1`` would otherwise force to 1.0.
A stub server records the requests (a real server cannot show what it was sent).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, running_stub

NATIVE = "http://localhost:11434"
V1 = "http://localhost:11434/v1"


def _factory(path: str) -> Callable[..., Any]:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _chat_ollama(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.base_url, obj.model, {"num_ctx": obj.num_ctx, "keep_alive": obj.keep_alive,
                                     "timeout": obj.client_kwargs["timeout"].read}


def _ollama_embeddings(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.base_url, obj.model, {"num_ctx": obj.num_ctx, "keep_alive": obj.keep_alive}


def _pydantic_ai(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return str(obj.client.base_url).rstrip("/"), obj.model_name, {}


def _crewai_llm(obj: Any) -> tuple[str, str, dict[str, Any]]:
    transport = obj._client._client._transport
    return str(obj._client.base_url).rstrip("/"), obj.model, {"transport": type(transport).__name__}


def _crewai_embedder(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj["config"]["url"], obj["config"]["model_name"], {"provider": obj["provider"]}


def _llamaindex_llm(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.base_url, obj.model, {"num_ctx": obj.context_window, "keep_alive": obj.keep_alive,
                                     "timeout": obj.request_timeout}


def _llamaindex_embed(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.base_url, obj.model_name, {"num_ctx": obj.ollama_additional_kwargs["num_ctx"],
                                          "keep_alive": obj.keep_alive}


def _smolagents(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.api_base, obj.model_id, {"num_ctx": obj.kwargs["num_ctx"], "keep_alive": obj.kwargs["keep_alive"],
                                        "timeout": obj.kwargs["timeout"]}


def _agent_framework(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.host.rstrip("/"), obj.model_id, {"timeout": obj.client._client.timeout.read}


def _dspy(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return obj.kwargs["api_base"], obj.model, {"num_ctx": obj.kwargs["num_ctx"], "keep_alive": obj.kwargs["keep_alive"]}


def _anthropic(obj: Any) -> tuple[str, str, dict[str, Any]]:
    return str(obj.base_url).rstrip("/"), "", {"timeout": obj.timeout.read}


# (factory, the class it must return, reader, expected base, expected model, expected traps)
TABLE: list[tuple[str, str, Callable[[Any], tuple[str, str, dict[str, Any]]], str, str, dict[str, Any]]] = [
    ("integrations.langchain.chat_ollama", "langchain_ollama.ChatOllama", _chat_ollama, NATIVE, "qwen2.5:7b",
     {"num_ctx": 4096, "keep_alive": "10m", "timeout": 600.0}),
    ("integrations.langchain.ollama_embeddings", "langchain_ollama.OllamaEmbeddings", _ollama_embeddings, NATIVE,
     "qwen2.5:7b", {"num_ctx": 4096, "keep_alive": 600}),
    ("integrations.pydantic_ai.model", "pydantic_ai.models.ollama.OllamaModel", _pydantic_ai, V1, "qwen2.5:7b", {}),
    ("integrations.crewai.llm", "crewai.llms.base_llm.BaseLLM", _crewai_llm, V1, "qwen2.5:7b", {"transport": "OllamaTransport"}),
    ("integrations.crewai.embedder", "builtins.dict", _crewai_embedder, f"{NATIVE}/api/embeddings", "qwen2.5:7b",
     {"provider": "ollama"}),
    ("integrations.llamaindex.llm", "llama_index.llms.ollama.Ollama", _llamaindex_llm, NATIVE, "qwen2.5:7b",
     {"num_ctx": 4096, "keep_alive": "10m", "timeout": 600.0}),
    ("integrations.llamaindex.embed_model", "llama_index.embeddings.ollama.OllamaEmbedding", _llamaindex_embed,
     NATIVE, "qwen2.5:7b", {"num_ctx": 4096, "keep_alive": "10m"}),
    ("integrations.smolagents.model", "smolagents.LiteLLMModel", _smolagents, NATIVE, "ollama_chat/qwen2.5:7b",
     {"num_ctx": 4096, "keep_alive": "10m", "timeout": 600.0}),
    ("integrations.agent_framework.chat_client", "agent_framework_ollama.OllamaChatClient", _agent_framework,
     NATIVE, "qwen2.5:7b", {"timeout": 600.0}),
    ("integrations.dspy.lm", "dspy.LM", _dspy, NATIVE, "ollama_chat/qwen2.5:7b", {"num_ctx": 4096, "keep_alive": "10m"}),
    ("integrations.anthropic.anthropic_client", "anthropic.Anthropic", _anthropic, NATIVE, "", {"timeout": 600.0}),
    ("integrations.anthropic.async_anthropic_client", "anthropic.AsyncAnthropic", _anthropic, NATIVE, "",
     {"timeout": 600.0}),
]


def _class(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "cls", "read", "base", "model", "traps"), TABLE, ids=[row[0] for row in TABLE])
def test_contract(path: str, cls: str, read: Callable[[Any], Any], base: str, model: str,
                  traps: dict[str, Any]) -> None:
    settings = OllamaSettings(host="localhost,gpu-box:11435", api_key="sk-test", num_ctx=4096, keep_alive="10m")
    built = _factory(path)("qwen2.5:7b", settings=settings, check=False)
    assert isinstance(built, _class(cls))
    got_base, got_model, got_traps = read(built)
    assert got_base == base
    assert got_model == model
    assert got_traps == traps


# Requests: what the native clients put on the wire.

_DONE = {"model": "m", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant", "content": "hi"},
         "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1}


@pytest.fixture
def stub() -> Iterator[Stub]:
    for server in running_stub():
        server.route("POST", "/api/chat", Reply(lines=[_DONE]))
        server.route("POST", "/api/embed", Reply(body={"model": "m", "embeddings": [[0.6, 0.8]]}))
        yield server


def _call(path: str, built: Any) -> None:
    if path.endswith("chat_ollama"):
        built.invoke("hi")
    elif path.endswith("ollama_embeddings"):
        built.embed_query("hi")
    elif path == "integrations.llamaindex.llm":
        from llama_index.core.llms import ChatMessage

        built.chat([ChatMessage(role="user", content="hi")])
    elif path.endswith("embed_model"):
        built.get_text_embedding("hi")
    elif path.endswith("smolagents.model"):
        built.generate([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    elif path.endswith("chat_client"):
        from agent_framework import Message

        asyncio.run(built.get_response([Message("user", text="hi")]))
    elif path.endswith("dspy.lm"):
        built("hi")
    else:  # pragma: no cover - the table below lists only these
        raise AssertionError(path)


NATIVE_CALLS = [
    ("integrations.langchain.chat_ollama", "/api/chat"),
    ("integrations.langchain.ollama_embeddings", "/api/embed"),
    ("integrations.llamaindex.llm", "/api/chat"),
    ("integrations.llamaindex.embed_model", "/api/embed"),
    ("integrations.smolagents.model", "/api/chat"),
    ("integrations.agent_framework.chat_client", "/api/chat"),
    ("integrations.dspy.lm", "/api/chat"),
]


@pytest.mark.parametrize(("path", "route"), NATIVE_CALLS, ids=[row[0] for row in NATIVE_CALLS])
def test_native_request_carries_num_ctx_keep_alive_and_the_model_itself(stub: Stub, path: str, route: str) -> None:
    settings = OllamaSettings(host=stub.url, api_key="sk-test", num_ctx=4096, keep_alive="10m", temperature=0.25)
    extra = {"cache": False} if path.endswith("dspy.lm") else {}
    _call(path, _factory(path)("m", settings=settings, check=False, **extra))
    bodies = stub.bodies(route)
    assert bodies, f"{path} sent nothing to {route}: {[r.path for r in stub.requests]}"
    body = bodies[-1]
    assert body["model"] == "m"  # no derived model: the options travel with the request
    assert body["options"]["num_ctx"] == 4096
    assert body["keep_alive"] in ("10m", 600)
    if route == "/api/chat":
        assert body["options"]["temperature"] == 0.25
    headers = [r.headers for r in stub.requests if r.path == route][-1]
    assert headers.get("authorization") == "Bearer sk-test" or path.endswith(("smolagents.model", "dspy.lm"))


def test_crewai_llm_requests_carry_the_model_defaults(stub: Stub) -> None:
    """CrewAI's own OpenAI clients are replaced by ours: Ollama's /v1 would force temperature and top_p to 1.0."""
    from tests.stub import chat_completion

    stub.route("POST", "/v1/chat/completions", Reply(body=chat_completion("m", "hi")))
    settings = OllamaSettings(host=stub.url, temperature=0.3, top_p=0.7, max_tokens=9)
    from integrations.crewai import llm

    built = llm("m", settings=settings, check=False)
    built._client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    body = stub.bodies("/v1/chat/completions")[-1]
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.7, 9)


def test_anthropic_requests_for_the_model_go_to_its_derived_model() -> None:
    from integrations.adapters.anthropic import aliased_body

    assert aliased_body(b'{"model": "m", "max_tokens": 1}', {"m": "m:latest-ctx4096"}) == (
        b'{"model": "m:latest-ctx4096", "max_tokens": 1}'
    )
    assert aliased_body(b'{"model": "m"}', {}) is None


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from integrations.errors import MissingDependency

    monkeypatch.setitem(sys.modules, "smolagents", None)
    from integrations.smolagents import model

    with pytest.raises(MissingDependency, match=r"ollama-integrations\[smolagents\]"):
        model("m", check=False)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("anthropic", {"ANTHROPIC_BASE_URL=http://gpu:1234", "ANTHROPIC_API_KEY=**********", "ANTHROPIC_MODEL=qwen2.5"}),
        ("pydantic-ai", {"OLLAMA_BASE_URL=http://gpu:1234/v1", "PYDANTIC_AI_MODEL=ollama:qwen2.5"}),
        ("agent-framework", {"OLLAMA_HOST=http://gpu:1234", "OLLAMA_MODEL_ID=qwen2.5"}),
    ],
)
def test_config_formats_for_environment_driven_frameworks(fmt: str, expected: set[str]) -> None:
    from integrations.config_render import render_config

    settings = OllamaSettings(host="gpu:1234", model="qwen2.5", api_key="sk-secret")
    lines = set(render_config(fmt, settings).splitlines())
    assert expected <= lines
    assert not any("sk-secret" in line for line in lines)


def test_crewai_config_keeps_memory_embeddings_on_ollama() -> None:
    import json

    from integrations.config_render import render_config

    config = json.loads(render_config("crewai", OllamaSettings(host="gpu:1234", model="qwen2.5")))
    assert config["embedder"] == {"provider": "ollama",
                                  "config": {"model_name": "qwen2.5", "url": "http://gpu:1234/api/embeddings"}}
    assert (config["llm"]["provider"], config["llm"]["base_url"]) == ("ollama", "http://gpu:1234/v1")
