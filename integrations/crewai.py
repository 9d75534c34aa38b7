"""CrewAI LLMs and embedders; live in `integrations.adapters.crewai`."""

from __future__ import annotations

from integrations.adapters.crewai import embedder, llm

__all__ = ["embedder", "llm"]
