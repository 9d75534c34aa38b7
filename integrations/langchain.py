"""LangChain chat and embedding models (``langchain-openai``, ``langchain-ollama``); live in `integrations.adapters`."""

from __future__ import annotations

from integrations.adapters.langchain import chat_openai, openai_embeddings
from integrations.adapters.langchain_ollama import chat_ollama, ollama_embeddings

__all__ = ["chat_ollama", "chat_openai", "ollama_embeddings", "openai_embeddings"]
