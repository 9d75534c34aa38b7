"""`render_config` prints what the adapters build, and the library owns the list of formats."""

from __future__ import annotations

import json

import pytest

from integrations._deps import require
from integrations._target import resolve
from integrations.adapters import agentchat
from integrations.config_render import FORMATS, render_config
from integrations.errors import ConfigError, MissingDependency
from integrations.settings import OllamaSettings

SETTINGS = OllamaSettings(host="gpu:1234", model="qwen2.5", seed=7, max_tokens=99, temperature=0.2)


def test_unknown_format_names_every_choice() -> None:
    with pytest.raises(ConfigError, match="'yaml'") as caught:
        render_config("yaml", SETTINGS)
    assert all(name in str(caught.value) for name in FORMATS)


def test_langchain_format_is_what_chat_openai_gets() -> None:
    printed = json.loads(render_config("langchain", SETTINGS, show_secrets=True))
    # the settings above, plus the defaults a user relies on (top_p 0.9, 600 s read timeout, 2 retries)
    assert printed == {
        "model": "qwen2.5", "base_url": "http://gpu:1234/v1", "api_key": "ollama", "temperature": 0.2, "top_p": 0.9,
        "timeout": 600.0, "max_retries": 2, "stream_usage": True, "max_tokens": 99, "seed": 7,
    }
    pytest.importorskip("langchain_openai")
    from integrations.langchain import chat_openai

    built = chat_openai(settings=SETTINGS, check=False)
    assert {
        "model": built.model_name, "base_url": built.openai_api_base, "api_key": built.openai_api_key.get_secret_value(),
        "temperature": built.temperature, "top_p": built.top_p, "timeout": built.request_timeout.read,
        "max_retries": built.max_retries, "stream_usage": built.stream_usage, "max_tokens": built.max_tokens,
        "seed": built.seed,
    } == printed


def test_agentchat_format_loads_as_the_component_model_client_builds() -> None:
    printed = json.loads(render_config("agentchat", SETTINGS, show_secrets=True))
    assert printed["config"] == agentchat.client_config(resolve(None, settings=SETTINGS, check=False, pull=None))
    models = pytest.importorskip("autogen_core.models")
    loaded = models.ChatCompletionClient.load_component(printed)
    assert loaded._raw_config["max_tokens"] == 99 and loaded._raw_config["base_url"] == "http://gpu:1234/v1"


def test_empty_host_shows_the_host_it_will_use() -> None:
    assert OllamaSettings(host="").host == "http://127.0.0.1:11434"
    assert OllamaSettings(host="gpu-box").host == "gpu-box"


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "langchain_openai", None)
    with pytest.raises(MissingDependency) as caught:
        require("langchain_openai", "langchain")
    assert caught.value.fix == "pip install 'ollama-integrations[langchain]'" and caught.value.fix in str(caught.value)
