"""LangChain chat and embedding models; lives in `integrations.adapters.langchain`."""

from __future__ import annotations

from integrations.adapters.langchain import chat_openai, openai_embeddings

__all__ = ["chat_openai", "openai_embeddings"]
