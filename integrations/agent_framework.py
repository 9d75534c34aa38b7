"""Microsoft Agent Framework chat clients; live in `integrations.adapters.agent_framework`."""

from __future__ import annotations

from integrations.adapters.agent_framework import chat_client

__all__ = ["chat_client"]
