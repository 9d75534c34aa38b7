"""AutoGen AgentChat model clients; lives in `integrations.adapters.agentchat`."""

from __future__ import annotations

from integrations.adapters.agentchat import code_team, model_client, model_info_for

__all__ = ["code_team", "model_client", "model_info_for"]
