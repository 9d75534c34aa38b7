"""LlamaIndex LLMs and embedding models; live in `integrations.adapters.llamaindex`."""

from __future__ import annotations

from integrations.adapters.llamaindex import embed_model, llm

__all__ = ["embed_model", "llm"]
