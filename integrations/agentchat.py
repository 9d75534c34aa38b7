"""AutoGen AgentChat model clients; lives in `integrations.adapters.agentchat`."""

from __future__ import annotations

from integrations.adapters.agentchat import model_client, model_info_for

__all__ = ["model_client", "model_info_for"]
