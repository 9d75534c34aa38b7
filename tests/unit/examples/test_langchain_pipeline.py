"""The LangChain pipeline's pieces that need no server."""

from __future__ import annotations

import doctest

import langchain_pipeline
import pytest
from pydantic import ValidationError


def test_cosine_ranks_the_nearest_vector_first() -> None:
    query = [1.0, 0.2, 0.0]
    scores = [langchain_pipeline.cosine(query, v) for v in ([0.0, 1.0, 0.0], [0.9, 0.25, 0.1], [0.0, 0.0, 0.0])]
    assert max(range(3), key=scores.__getitem__) == 1 and scores[2] == 0.0
    assert doctest.testmod(langchain_pipeline).failed == 0


def test_answer_schema_rejects_unknown_confidence() -> None:
    with pytest.raises(ValidationError):
        langchain_pipeline.Answer(answer="x", confidence="certain")  # type: ignore[arg-type]
    schema = langchain_pipeline.Answer.model_json_schema()
    assert schema["properties"]["confidence"]["enum"] == ["low", "medium", "high"]
