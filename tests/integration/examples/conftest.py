"""Whole example workflows on the embedded server with smollm2:135m, bounded in turns and tokens."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from integrations import OllamaSettings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture
def tiny_settings(ollama_settings: OllamaSettings) -> OllamaSettings:
    """The fixture's settings with a token cap and a fixed seed, so a run is short and repeatable."""
    return ollama_settings.merged(max_tokens=256, seed=1)
