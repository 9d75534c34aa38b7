"""The native-API checks against the embedded server and its real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import integrations
from integrations import checks
from integrations.errors import ModelNotFound, PullFailed
from integrations.settings import OllamaSettings


def test_server_info(ollama_settings: OllamaSettings) -> None:
    info = checks.server_info(settings=ollama_settings)
    assert info.host == ollama_settings.hosts[0].url
    assert info.version_tuple >= checks.version_tuple(checks.MIN_VERSION)


def test_list_models_has_the_pulled_model(ollama_settings: OllamaSettings) -> None:
    names = [m.name for m in checks.list_models(settings=ollama_settings)]
    assert "smollm2:135m" in names


def test_model_info(ollama_settings: OllamaSettings) -> None:
    info = checks.model_info("smollm2:135m", settings=ollama_settings)
    assert {"completion", "tools"} <= info.capabilities
    assert "vision" not in info.capabilities
    assert info.context_length == 8192
    assert info.quantization == "Q4_1"


def test_ensure_model_without_pull_names_the_fix(ollama_settings: OllamaSettings) -> None:
    with pytest.raises(ModelNotFound) as caught:
        checks.ensure_model("llama3.1:8b", settings=ollama_settings)
    assert "ollama pull llama3.1:8b" in str(caught.value)
    assert "smollm2:135m" in str(caught.value)


def test_pulling_an_unknown_model_fails_as_ollama_does(ollama_settings: OllamaSettings) -> None:
    with pytest.raises(PullFailed, match="file does not exist"):
        checks.ensure_model("no-such-model:1b", pull=True, settings=ollama_settings)


def test_ensure_model_with_pull_reports_progress(tmp_path: Path) -> None:
    from integrations.embedded import EmbeddedServer

    with EmbeddedServer(models_dir=tmp_path).start() as server:
        settings = OllamaSettings(host=server.url)
        with pytest.raises(ModelNotFound):
            checks.model_info("smollm2:135m", settings=settings)
        events: list[checks.PullProgress] = []
        info = checks.ensure_model("smollm2:135m", pull=True, on_progress=events.append, settings=settings)
    assert info.context_length == 8192
    layers = [e for e in events if e.digest]
    assert layers and layers[-1].completed == layers[-1].total > 50_000_000
    assert events[0].status == "pulling manifest"
    assert events[-1].done


def test_warm_model_loads_it(ollama_settings: OllamaSettings) -> None:
    warmed = checks.warm_model("smollm2:135m", keep_alive="10m", settings=ollama_settings)
    assert 0 < warmed.seconds < 60
    running = {m.name: m for m in checks.running_models(settings=ollama_settings)}
    assert "smollm2:135m" in running
    assert warmed.context_length == running["smollm2:135m"].context_length


def test_warm_model_reports_the_context_actually_loaded(ollama_settings: OllamaSettings) -> None:
    warmed = checks.warm_model("smollm2:135m", settings=ollama_settings.merged(num_ctx=1024))
    assert warmed.context_length == 1024


def test_derived_context_model_is_created_once_and_used(ollama_settings: OllamaSettings) -> None:
    settings = ollama_settings.merged(num_ctx=2048)
    client = integrations.openai_client(settings=settings)
    reply = client.chat.completions.create(
        model="smollm2:135m", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    assert reply.model == "smollm2:135m-ctx2048"
    listed = {m.name: m for m in checks.list_models(settings=settings)}
    assert "smollm2:135m-ctx2048" in listed
    loaded = {m.name: m for m in checks.running_models(settings=settings)}
    assert loaded["smollm2:135m-ctx2048"].context_length == 2048
    checks.clear_cache()
    before = listed["smollm2:135m-ctx2048"].modified_at
    integrations.openai_client(settings=settings)
    after = {m.name: m for m in checks.list_models(settings=settings)}["smollm2:135m-ctx2048"].modified_at
    assert before == after, "the derived model must not be created again"


def test_checked_factories_read_the_models_own_sampling_defaults(ollama_settings: OllamaSettings) -> None:
    # A model whose Modelfile sets its own sampling, as many library models do.
    name = "smollm2-sampling:test"
    checks.client(settings=ollama_settings).create(
        model=name, from_=ollama_settings.model, parameters={"temperature": 0.3, "top_p": 0.5}
    )
    entries: list[dict[str, Any]] = integrations.config_list(name, settings=ollama_settings)
    assert entries[0]["model"] == name
    assert (entries[0]["temperature"], entries[0]["top_p"]) == (0.3, 0.5)
    # Unchecked, nothing was asked: Ollama's runner defaults are sent instead.
    unchecked = integrations.config_list(name, settings=ollama_settings, check=False)
    assert (unchecked[0]["temperature"], unchecked[0]["top_p"]) == (0.8, 0.9)
