"""The official ``ollama`` client against the embedded server (real model, short generations)."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import ollama
import pytest

from integrations.embedded import PACKAGED_MODELS, EmbeddedServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(ollama_server):
    return ollama.Client(host=ollama_server.url)


def test_list_shows_the_pulled_model(client, ollama_model):
    models = client.list().models
    names = [m.model for m in models]
    assert ollama_model in names
    entry = next(m for m in models if m.model == ollama_model)
    assert entry.size > 90_000_000
    assert len(entry.digest) == 64
    assert entry.details.format == "gguf"
    assert entry.details.family == "llama"
    assert entry.details.quantization_level == "Q4_1"


def test_show_reports_context_length_and_capabilities(client, ollama_model):
    shown = client.show(ollama_model)
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] == 8192
    assert shown.capabilities == ["completion", "tools"]
    assert shown.details.parameter_size.endswith("M")
    assert shown.parameters is None  # the packaged model has no parameters


def test_show_empties_the_vocabulary_unless_verbose(ollama_server, ollama_model):
    with httpx.Client(base_url=ollama_server.url, timeout=60) as http:
        brief = http.post("/api/show", json={"model": ollama_model}).json()
        verbose = http.post("/api/show", json={"model": ollama_model, "verbose": True}).json()
    assert brief["model_info"]["tokenizer.ggml.tokens"] == []
    assert len(verbose["model_info"]["tokenizer.ggml.tokens"]) == 49152  # SmolLM2's vocabulary
    assert verbose["tensors"] and "tensors" not in brief


def test_show_is_case_insensitive_and_404s_unknown(client):
    assert client.show("SmolLM2:135M").modelinfo["llama.context_length"] == 8192
    with pytest.raises(ollama.ResponseError) as err:
        client.show("no-such-model")
    assert err.value.status_code == 404
    assert "no-such-model:latest" in err.value.error


def test_pull_existing_model_reports_layer_once_then_success(client, ollama_model):
    events = list(client.pull(ollama_model, stream=True))
    assert events[0].status == "pulling manifest"
    layers = [e for e in events if e.digest]
    assert len(layers) == 1
    assert layers[0].completed == layers[0].total > 90_000_000
    assert layers[0].status == "pulling " + layers[0].digest.removeprefix("sha256:")[:12]
    assert events[-1].status == "success"


def test_pull_unknown_model_fails_streamed_and_not(client):
    with pytest.raises(ollama.ResponseError) as err:
        list(client.pull("definitely-not-packaged:1b", stream=True))
    assert "file does not exist" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        client.pull("definitely-not-packaged:1b")
    assert err.value.status_code == 500
    assert err.value.error == "pull model manifest: file does not exist"


def test_fresh_pull_streams_progress_and_resumes_a_partial_copy(tmp_path: Path):
    source = PACKAGED_MODELS["smollm2:135m"].locate()
    data = source.read_bytes()
    hexdigest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blobs").mkdir()
    half = len(data) // 2
    (tmp_path / "blobs" / f"sha256-{hexdigest}.partial").write_bytes(data[:half])
    with EmbeddedServer(models_dir=tmp_path) as server:
        events = list(ollama.Client(host=server.url).pull("smollm2:135m", stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest"
    progress = [e for e in events if e.digest == f"sha256:{hexdigest}"]
    assert progress[0].completed == half  # resumed, not restarted
    assert progress[-1].completed == progress[-1].total == len(data)
    assert [c.completed for c in progress] == sorted(c.completed for c in progress)
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    blob = tmp_path / "blobs" / f"sha256-{hexdigest}"
    assert blob.stat().st_size == len(data)
    assert not (tmp_path / "blobs" / f"sha256-{hexdigest}.partial").exists()


def test_chat_not_streamed(client, ollama_model):
    response = client.chat(ollama_model, messages=[{"role": "user", "content": "Say hello."}],
                           options={"num_predict": 12, "temperature": 0})
    assert response.message.role == "assistant"
    assert response.message.content.strip()
    assert response.done and response.done_reason in ("stop", "length")
    assert 0 < response.eval_count <= 12
    assert response.prompt_eval_count > 5


def test_chat_streamed(client, ollama_model):
    chunks = list(client.chat(ollama_model, messages=[{"role": "user", "content": "Count to ten."}],
                              options={"num_predict": 16, "temperature": 0}, stream=True))
    assert len(chunks) > 2
    assert all(not c.done for c in chunks[:-1])
    assert chunks[-1].done and chunks[-1].done_reason == "length"
    assert chunks[-1].eval_count == 16
    assert "".join(c.message.content for c in chunks).strip()


@pytest.mark.plumbing
def test_chat_tools_auto_calls_then_answers_after_tool_result(client, ollama_model):
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"]}}}]
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat(ollama_model, messages=messages, tools=tools, options={"num_predict": 16})
    calls = first.message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    assert set(calls[0].function.arguments) == {"city", "unit"}
    assert calls[0].function.arguments["unit"] in ("celsius", "fahrenheit")
    messages += [first.message, {"role": "tool", "content": "18 degrees and sunny", "tool_name": "get_weather"}]
    second = client.chat(ollama_model, messages=messages, tools=tools, options={"num_predict": 12})
    assert not second.message.tool_calls
    assert second.message.content


def test_chat_format_schema_is_valid_json(client, ollama_model):
    import json

    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["answer"]}
    response = client.chat(ollama_model, messages=[{"role": "user", "content": "Is water wet?"}],
                           format=schema, options={"num_predict": 20})
    assert json.loads(response.message.content)["answer"] in ("yes", "no")


def test_generate(client, ollama_model):
    response = client.generate(ollama_model, "The capital of France is", options={"num_predict": 8, "seed": 1})
    assert response.response
    assert response.done
    assert response.context and len(response.context) > response.prompt_eval_count


def test_seeded_generation_is_reproducible(client, ollama_model):
    def once() -> str:
        return client.generate(ollama_model, "Tell me a fact.",
                               options={"num_predict": 12, "seed": 42, "temperature": 0.9}).response

    assert once() == once()


def test_embed_returns_normalised_vectors(client, ollama_model):
    response = client.embed(ollama_model, ["the cat sat", "quantum chromodynamics"])
    assert len(response.embeddings) == 2
    for vector in response.embeddings:
        assert len(vector) == 576
        assert abs(sum(x * x for x in vector) - 1.0) < 1e-4
    assert response.embeddings[0] != response.embeddings[1]
    assert client.embed(ollama_model, "x", dimensions=8).embeddings[0].__len__() == 8


def test_load_and_unload_with_empty_messages(client, ollama_model):
    loaded = client.chat(ollama_model, messages=[], keep_alive="10m")
    assert loaded.done_reason == "load"
    assert ollama_model in [m.model for m in client.ps().models]
    unloaded = client.chat(ollama_model, messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert ollama_model not in [m.model for m in client.ps().models]
    assert client.generate(ollama_model, "", keep_alive=0).done_reason == "unload"


def test_keep_alive_expires(client, ollama_model):
    client.generate(ollama_model, "", keep_alive=1)
    entry = next(m for m in client.ps().models if m.model == ollama_model)
    assert entry.size_vram == 0 and entry.context_length == 4096 and entry.expires_at
    deadline = time.monotonic() + 10
    while ollama_model in [m.model for m in client.ps().models]:
        assert time.monotonic() < deadline, "the model was not unloaded after keep_alive"
        time.sleep(0.2)


def test_create_derived_model_uses_num_ctx_and_delete(client, ollama_model):
    client.create("smol-8k", from_=ollama_model, parameters={"num_ctx": 8192, "temperature": 0.5})
    shown = client.show("smol-8k")
    params = dict(line.split(None, 1) for line in shown.parameters.splitlines())
    assert params["num_ctx"] == "8192"
    assert params["temperature"] == "0.5"
    assert shown.details.parent_model == ollama_model
    assert client.chat("smol-8k", messages=[]).done_reason == "load"
    ps = {m.model: m for m in client.ps().models}
    assert ps["smol-8k:latest"].context_length == 8192
    client.delete("smol-8k")
    assert "smol-8k:latest" not in [m.model for m in client.list().models]
    assert "smol-8k:latest" not in [m.model for m in client.ps().models]
    with pytest.raises(ollama.ResponseError) as err:
        client.delete("smol-8k")
    assert err.value.status_code == 404


def test_create_refuses_num_ctx_beyond_trained_context(client, ollama_model):
    with pytest.raises(ollama.ResponseError) as err:
        client.create("smol-too-big", from_=ollama_model, parameters={"num_ctx": 16384})
    assert err.value.status_code == 400
    assert "16384" in err.value.error and "8192" in err.value.error


def test_create_streams_statuses(client, ollama_model):
    statuses = [e.status for e in client.create("smol-stream", from_=ollama_model,
                                                parameters={"num_ctx": 1024}, stream=True)]
    assert statuses[0].startswith("using existing layer sha256:")
    assert statuses[-2:] == ["writing manifest", "success"]
    client.delete("smol-stream")


def test_concurrent_requests_all_succeed(client, ollama_model):
    results: list[str] = []
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            r = client.chat(ollama_model, messages=[{"role": "user", "content": f"Say {i}"}],
                            options={"num_predict": 6})
            results.append(r.message.content)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 3


def test_quotes_reach_the_model_unescaped(ollama_server, ollama_model):
    """The chat template is rendered without HTML escaping (unlike llama-cpp-python's chatml-function-calling)."""
    if not ollama_server.embedded:
        pytest.skip("inspects the embedded server's prompt rendering")
    from integrations.embedded.protocol import parse_options

    server = ollama_server.server
    record = server.store.resolve(ollama_model)
    lm, _ = server.runtime.acquire(record, parse_options())
    try:
        prompt = lm.render_chat([{"role": "user", "content": 'He said "hi" & <left>'}])
    finally:
        server.runtime.release(lm, 300)
    assert 'He said "hi" & <left>' in prompt
    assert "&quot;" not in prompt and "&#34;" not in prompt
