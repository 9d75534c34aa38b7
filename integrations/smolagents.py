"""smolagents models; live in `integrations.adapters.smolagents`."""

from __future__ import annotations

from integrations.adapters.smolagents import model

__all__ = ["model"]
