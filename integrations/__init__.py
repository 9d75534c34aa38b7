"""ollama-integrations: one typed settings object, ready-made clients for agent frameworks on Ollama.

``import integrations`` is cheap and imports no framework: every name below is
loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from integrations.errors import (
    CapabilityMissing,
    ConfigError,
    ContextTruncated,
    MissingDependency,
    ModelNotFound,
    OllamaError,
    OllamaServerError,
    OllamaUnreachable,
    OllamaVersionTooOld,
    PullFailed,
)

if TYPE_CHECKING:
    from integrations.adapters.ag2 import config_list, llm_config, native_config_list, write_oai_config_list
    from integrations.adapters.agentchat import model_client
    from integrations.adapters.langchain import chat_openai, openai_embeddings
    from integrations.adapters.openai import async_openai_client, openai_client
    from integrations.checks import ensure_model, list_models, model_info, pull_model, server_info, warm_model
    from integrations.hosts import OllamaHost, parse_host, parse_hosts
    from integrations.settings import OllamaSettings

__version__ = "0.1.0"

_LAZY = {
    "OllamaSettings": "integrations.settings",
    "OllamaHost": "integrations.hosts",
    "parse_host": "integrations.hosts",
    "parse_hosts": "integrations.hosts",
    "openai_client": "integrations.adapters.openai",
    "async_openai_client": "integrations.adapters.openai",
    "config_list": "integrations.adapters.ag2",
    "llm_config": "integrations.adapters.ag2",
    "native_config_list": "integrations.adapters.ag2",
    "write_oai_config_list": "integrations.adapters.ag2",
    "model_client": "integrations.adapters.agentchat",
    "chat_openai": "integrations.adapters.langchain",
    "openai_embeddings": "integrations.adapters.langchain",
    "server_info": "integrations.checks",
    "list_models": "integrations.checks",
    "model_info": "integrations.checks",
    "ensure_model": "integrations.checks",
    "pull_model": "integrations.checks",
    "warm_model": "integrations.checks",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
