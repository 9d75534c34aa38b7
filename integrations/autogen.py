"""AG2 Classic configuration (``from autogen import AssistantAgent``); lives in `integrations.adapters.ag2`."""

from __future__ import annotations

from integrations.adapters.ag2 import (
    code_agents,
    code_user_proxy,
    config_list,
    llm_config,
    native_config_list,
    write_oai_config_list,
)

__all__ = ["code_agents", "code_user_proxy", "config_list", "llm_config", "native_config_list", "write_oai_config_list"]
