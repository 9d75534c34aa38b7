from __future__ import annotations

import json
import subprocess
import sys

import pytest

import integrations

EXPECTED_ALL = [
    "CapabilityMissing",
    "ConfigError",
    "ContextTruncated",
    "MissingDependency",
    "ModelNotFound",
    "OllamaError",
    "OllamaHost",
    "OllamaServerError",
    "OllamaSettings",
    "OllamaUnreachable",
    "OllamaVersionTooOld",
    "PullFailed",
    "__version__",
    "async_openai_client",
    "chat_openai",
    "config_list",
    "ensure_model",
    "list_models",
    "llm_config",
    "model_client",
    "model_info",
    "native_config_list",
    "openai_client",
    "openai_embeddings",
    "parse_host",
    "parse_hosts",
    "pull_model",
    "server_info",
    "warm_model",
    "write_oai_config_list",
]

HEAVY = [
    "openai",
    "langchain_core",
    "langchain_openai",
    "autogen",
    "autogen_agentchat",
    "autogen_ext",
    "llama_cpp",
    "xllamacpp",
    "ollama",
    "httpx",
    "litellm",
    "ray",
]


def test_public_api_is_pinned() -> None:
    assert sorted(integrations.__all__) == sorted(EXPECTED_ALL)
    for name in EXPECTED_ALL:
        assert getattr(integrations, name) is not None


def test_import_loads_no_framework() -> None:
    code = f"import sys, json, integrations; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        integrations.no_such_thing  # noqa: B018


def test_missing_extra_names_the_pip_command(monkeypatch: object) -> None:
    code = (
        "import sys; sys.modules['langchain_openai'] = None\n"
        "import integrations\n"
        "try:\n    integrations.chat_openai('m', check=False)\n"
        "except integrations.MissingDependency as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'ollama-integrations[langchain]'" in out
    assert "langchain_openai" in out


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "integrations", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"ollama-integrations {integrations.__version__}"
