"""DSPy language models; live in `integrations.adapters.dspy`."""

from __future__ import annotations

from integrations.adapters.dspy import lm

__all__ = ["lm"]
