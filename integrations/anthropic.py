"""Anthropic SDK clients; live in `integrations.adapters.anthropic`."""

from __future__ import annotations

from integrations.adapters.anthropic import anthropic_client, async_anthropic_client

__all__ = ["anthropic_client", "async_anthropic_client"]
