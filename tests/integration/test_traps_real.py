"""Ollama's quieter traps, shown on the embedded server with a real model."""

from __future__ import annotations

import warnings

import integrations
from integrations import checks
from integrations.settings import OllamaSettings

LONG = "Remember these words and repeat the last one. " + "lantern harbour meadow " * 800


def _truncation_warnings(settings: OllamaSettings, content: str) -> list[str]:
    client = integrations.openai_client(settings=settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.chat.completions.create(
            model=settings.model, messages=[{"role": "user", "content": content}], max_tokens=8
        )
    return [str(w.message) for w in caught if w.category is integrations.ContextTruncated]


def test_a_prompt_longer_than_num_ctx_warns_context_truncated(ollama_settings: OllamaSettings) -> None:
    found = _truncation_warnings(ollama_settings.merged(num_ctx=512), LONG)
    assert len(found) == 1
    assert repr(ollama_settings.model) in found[0] and "512 tokens" in found[0] and "num_ctx" in found[0]


def test_a_prompt_that_fits_does_not_warn(ollama_settings: OllamaSettings) -> None:
    assert _truncation_warnings(ollama_settings.merged(num_ctx=512), "Say hi.") == []


def test_the_loaded_context_is_found_without_num_ctx(ollama_settings: OllamaSettings) -> None:
    """Unchecked and without num_ctx, the client asks /api/ps what the model is loaded with."""
    small = checks.ensure_context(ollama_settings.model, 512, settings=ollama_settings)
    warmed = checks.warm_model(small, settings=ollama_settings)
    assert warmed.context_length == 512
    found = _truncation_warnings(ollama_settings.merged(model=small, check=False), LONG)
    assert len(found) == 1 and "512 tokens" in found[0]
