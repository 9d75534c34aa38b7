"""Pydantic AI models; live in `integrations.adapters.pydantic_ai`."""

from __future__ import annotations

from integrations.adapters.pydantic_ai import model

__all__ = ["model"]
