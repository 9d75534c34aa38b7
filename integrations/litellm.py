"""LiteLLM in front of several Ollama hosts; lives in `integrations.adapters.litellm`."""

from __future__ import annotations

from integrations.adapters.litellm import Gateway, client_environment, proxy_config, router

__all__ = ["Gateway", "client_environment", "proxy_config", "router"]
