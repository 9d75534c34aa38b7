"""Every adapter, one table: what it builds for one, two and three hosts, without a server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import integrations
from integrations.settings import OllamaSettings

HOSTS = {
    1: "localhost",
    2: "localhost,gpu-box:11435",
    3: "localhost,gpu-box:11435,https://remote.example/ollama",
}
BASES = [
    "http://localhost:11434/v1",
    "http://gpu-box:11435/v1",
    "https://remote.example:443/ollama/v1",
]


MODEL = "qwen2.5:7b"
Held = list[tuple[str, str, str | None]]
"""What a built object holds, per host it can reach: (``/v1`` base URL, API key, model name)."""


def _openai(obj: Any) -> Held:
    return [(str(obj.base_url).rstrip("/"), obj.api_key, None)]


def _agentchat(obj: Any) -> Held:
    config = obj._raw_config
    return [(config["base_url"], config["api_key"], config["model"])]


def _chat_openai(obj: Any) -> Held:
    return [(obj.openai_api_base, obj.openai_api_key.get_secret_value(), obj.model_name)]


def _embeddings(obj: Any) -> Held:
    return [(obj.openai_api_base, obj.openai_api_key.get_secret_value(), obj.model)]


def _config_list(obj: Any) -> Held:
    return [(entry["base_url"], entry["api_key"], entry["model"]) for entry in obj]


def _llm_config(obj: Any) -> Held:
    return _config_list(obj["config_list"])


# name, factory, reader, whether it holds every host (a failover list) or the first, the model it holds
ADAPTERS: list[tuple[str, Callable[..., Any], Callable[[Any], Held], bool, str | None]] = [
    # the SDK clients hold no model name: the caller names it per request
    ("openai_client", integrations.openai_client, _openai, False, None),
    ("async_openai_client", integrations.async_openai_client, _openai, False, None),
    ("config_list", integrations.config_list, _config_list, True, MODEL),
    ("llm_config", integrations.llm_config, _llm_config, True, MODEL),
    ("model_client", integrations.model_client, _agentchat, False, MODEL),
    ("chat_openai", integrations.chat_openai, _chat_openai, False, MODEL),
    ("openai_embeddings", integrations.openai_embeddings, _embeddings, False, MODEL),
]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize(("name", "factory", "read", "every_host", "model"), ADAPTERS, ids=[a[0] for a in ADAPTERS])
def test_contract(name: str, factory: Callable[..., Any], read: Callable[[Any], Held], every_host: bool,
                  model: str | None, count: int) -> None:
    settings = OllamaSettings(host=HOSTS[count], api_key="sk-test")
    built = factory(MODEL, settings=settings, check=False)
    hosts = BASES[:count] if every_host else BASES[:1]
    assert read(built) == [(base, "sk-test", model) for base in hosts]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_config_list_has_one_entry_per_host_in_order(count: int) -> None:
    entries = integrations.config_list("codellama", settings=OllamaSettings(host=HOSTS[count]), check=False)
    assert [e["base_url"] for e in entries] == BASES[:count]
    for entry in entries:
        assert entry["price"] == [0, 0]
        assert entry["model"] == "codellama"
        assert entry["api_key"] == "ollama"
        assert {"temperature", "top_p"} <= set(entry)


def test_llm_config_shape() -> None:
    config = integrations.llm_config("codellama", check=False, temperature=0.3, seed=7, cache_seed=41, timeout=90)
    assert config["temperature"] == 0.3
    assert config["timeout"] == 90
    assert config["cache_seed"] == 41
    assert config["seed"] == 7
    assert config["config_list"][0]["temperature"] == 0.3


def test_framework_keyword_overrides_pass_through() -> None:
    config = integrations.llm_config("codellama", check=False, tools=[{"type": "function"}])
    assert config["tools"] == [{"type": "function"}]
    entries = integrations.config_list("codellama", check=False, tags=["local"])
    assert entries[0]["tags"] == ["local"]


def test_write_oai_config_list_round_trips_through_autogen(tmp_path: Path) -> None:
    autogen = pytest.importorskip("autogen")
    path = integrations.write_oai_config_list(tmp_path / "OAI_CONFIG_LIST", "codellama", check=False, host=HOSTS[2])
    assert path.stat().st_mode & 0o777 == 0o600
    # AG2 Classic 0.14 reads OAI_CONFIG_LIST files with LLMConfig.from_json (formerly config_list_from_json).
    loaded = autogen.LLMConfig.from_json(path=path).model_dump()["config_list"]
    written = json.loads(path.read_text())
    assert [e["base_url"] for e in loaded] == BASES[:2]
    for entry, original in zip(loaded, written, strict=True):
        assert {k: entry[k] for k in ("model", "api_key", "base_url", "temperature", "top_p")} == {
            k: original[k] for k in ("model", "api_key", "base_url", "temperature", "top_p")
        }


def test_native_entries_carry_num_ctx_and_the_tool_call_mode() -> None:
    entries = integrations.native_config_list("qwen2.5", check=False, num_ctx=16384, host=HOSTS[2], max_tokens=99)
    assert [e["client_host"] for e in entries] == ["http://localhost:11434", "http://gpu-box:11435"]
    assert entries[0]["api_type"] == "ollama"
    assert entries[0]["num_ctx"] == 16384
    assert entries[0]["num_predict"] == 99
    # the text tool-call repair cannot reach AG2's own ollama.Client: AG2's manual tool calling stands in for it
    assert entries[0]["native_tool_calls"] is False
    native = integrations.native_config_list("qwen2.5", check=False, host=HOSTS[2], repair_tool_calls=False)
    assert native[0]["native_tool_calls"] is True
    assert (
        integrations.native_config_list("codellama", check=False, repair_tool_calls=False)[0]["native_tool_calls"]
        is False
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("qwen2.5-coder:7b", {"function_calling": True, "vision": False}),
        ("llava:7b", {"function_calling": False, "vision": True}),
        ("codellama", {"function_calling": False, "vision": False}),
        ("someone/unknown-model", {"function_calling": False, "vision": False}),
        ("deepseek-r1:8b", {"family": "r1"}),
    ],
)
def test_agentchat_model_info_from_the_family_table(model: str, expected: dict[str, Any]) -> None:
    info = integrations.model_client(model, check=False).model_info
    for key, value in expected.items():
        assert info[key] == value
    assert info["json_output"] is True


def test_real_frameworks_accept_what_the_factories_build() -> None:
    autogen = pytest.importorskip("autogen")
    agentchat = pytest.importorskip("autogen_agentchat.agents")
    prompts = pytest.importorskip("langchain_core.prompts")
    parsers = pytest.importorskip("langchain_core.output_parsers")

    assistant = autogen.AssistantAgent("assistant", llm_config=integrations.llm_config("codellama", check=False))
    assert assistant.llm_config["config_list"][0]["model"] == "codellama"
    client = integrations.model_client("qwen2.5", check=False)
    agent = agentchat.AssistantAgent("assistant", model_client=client)
    assert agent._model_client is client
    llm = integrations.chat_openai("x", check=False)
    chain = prompts.ChatPromptTemplate.from_template("{q}") | llm | parsers.StrOutputParser()
    assert chain.steps[1] is llm


def test_unchecked_requires_refuses_what_a_known_family_lacks() -> None:
    with pytest.raises(integrations.CapabilityMissing, match=r"'codellama'.*tools"):
        integrations.model_client("codellama", check=False, requires=("tools",))
    known = integrations.model_client("qwen2.5", check=False, requires=("tools",))
    assert known.model_info["function_calling"] is True
    # An unknown family is not refused on a guess (a checked factory asks the server): it is built, and
    # claims no tool calling it cannot vouch for.
    unknown = integrations.model_client("someone/custom", check=False, requires=("tools",))
    assert unknown.model_info["function_calling"] is False
