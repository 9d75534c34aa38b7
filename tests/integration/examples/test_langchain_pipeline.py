"""The LangChain pipeline on the embedded server: embeddings, a real stream, schema-constrained output."""

from __future__ import annotations

import json
from pathlib import Path

import langchain_pipeline
import pytest

from integrations import OllamaSettings

pytestmark = pytest.mark.slow


def test_retrieve_stream_and_structure(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    settings = ollama_settings.merged(max_tokens=48, seed=2)

    result = langchain_pipeline.run(settings, work_dir=tmp_path)

    assert len(result.scores) == len(langchain_pipeline.NOTES) and all(-1 <= s <= 1 for s in result.scores)
    assert result.context == langchain_pipeline.NOTES[result.scores.index(max(result.scores))]
    assert len(result.chunks) > 1, "the answer arrived in several streamed chunks"
    assert result.streamed.strip()
    assert result.structured_error is None, result.structured_error
    assert isinstance(result.structured, langchain_pipeline.Answer)
    assert result.structured.confidence in {"low", "medium", "high"}
    saved = json.loads((tmp_path / "answer.json").read_text())
    assert saved["structured"] == result.structured.model_dump() and saved["context"] == result.context
