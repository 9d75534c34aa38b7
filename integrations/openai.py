"""OpenAI SDK clients; live in `integrations.adapters.openai`."""

from __future__ import annotations

from integrations.adapters.openai import async_openai_client, openai_client

__all__ = ["async_openai_client", "openai_client"]
