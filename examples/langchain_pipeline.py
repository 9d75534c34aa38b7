"""A LangChain pipeline on Ollama: retrieval with embeddings, a streamed answer, and typed structured output.

Shows three LangChain pieces built by this library:

1. retrieval: ``integrations.openai_embeddings()`` embeds a handful of notes and the
   question; the note with the highest cosine similarity becomes the context;
2. streaming: ``prompt | integrations.chat_openai() | StrOutputParser()`` streams the
   answer token by token;
3. structured output: ``chat.with_structured_output(Answer, method="json_schema")``
   returns a validated pydantic ``Answer`` (Ollama constrains the output to the schema).

The retrieved note, the streamed answer and the structured answer are saved as
``answer.json`` in the work directory.

Needs: ``pip install 'ollama-integrations[langchain]'``, a chat model, and an embedding
model (``--embed-model``, e.g. ``nomic-embed-text``; default: the chat model itself,
which Ollama can also embed with, less well).

Run:
    python examples/langchain_pipeline.py [--model llama3.2] [--embed-model nomic-embed-text] [--question "..."]
    ollama-integrations run langchain-pipeline --embedded
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import _common
from pydantic import BaseModel, Field, ValidationError

from integrations import OllamaError, OllamaSettings, chat_openai, openai_embeddings

EXAMPLE = "langchain_pipeline"
NOTES = (
    "Ollama serves an OpenAI-compatible API under /v1 on port 11434, so OpenAI clients work with a new base URL.",
    "Ollama's native API lives under /api: /api/pull downloads a model, /api/show describes one.",
    "Tool calling needs a model with the tools capability, such as llama3.1, qwen2.5 or mistral.",
    "The keep_alive setting says how long Ollama keeps a model in memory after a request.",
)
QUESTION = "Which base URL do OpenAI clients use to talk to Ollama?"


class Answer(BaseModel):
    """The structured answer the model must produce."""

    answer: str = Field(description="the answer in one sentence")
    confidence: Literal["low", "medium", "high"] = Field(description="how sure the answer is")


@dataclass
class Result:
    """What each stage produced, for printing and for tests."""

    question: str
    scores: list[float]
    context: str
    chunks: list[str] = field(default_factory=list)
    structured: Answer | None = None
    structured_error: str | None = None  # why the structured answer did not validate, if it did not
    files: list[Path] = field(default_factory=list)

    @property
    def streamed(self) -> str:
        return "".join(self.chunks)

    @property
    def ok(self) -> bool:
        return bool(self.streamed.strip()) and isinstance(self.structured, Answer)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 for a zero vector.

    >>> round(cosine([1, 0], [1, 1]), 3)
    0.707
    """
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def retrieve(question: str, notes: Sequence[str], settings: OllamaSettings, embed_model: str | None) -> list[float]:
    """Similarity of each note to the question."""
    embeddings = openai_embeddings(embed_model, settings=settings)
    vectors = embeddings.embed_documents(list(notes))
    query = embeddings.embed_query(question)
    return [cosine(query, vector) for vector in vectors]


def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    question: str = QUESTION,
    notes: Sequence[str] = NOTES,
    embed_model: str | None = None,
    echo: bool = False,
) -> Result:
    """Retrieve, stream an answer, then ask for the structured answer; ``echo`` prints the stream as it comes."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    scores = retrieve(question, notes, settings, embed_model)
    context = notes[max(range(len(notes)), key=scores.__getitem__)]
    result = Result(question=question, scores=scores, context=context)

    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer the question using only this context:\n{context}"),
            ("human", "{question}"),
        ]
    )
    chat = chat_openai(settings=settings)
    chain = prompt | chat | StrOutputParser()
    for chunk in chain.stream({"context": context, "question": question}):
        result.chunks.append(chunk)
        if echo:
            print(chunk, end="", flush=True)
    if echo:
        print()

    structured = prompt | chat.with_structured_output(Answer, method="json_schema")
    try:
        answer = structured.invoke({"context": context, "question": question})
        result.structured = answer if isinstance(answer, Answer) else Answer.model_validate(answer)
    except ValidationError as exc:  # the reply did not match the schema: report it, it is the model's answer
        result.structured_error = str(exc).splitlines()[0] + ": " + str(exc).splitlines()[1].strip()

    work_dir.mkdir(parents=True, exist_ok=True)
    saved = work_dir / "answer.json"
    structured_dump = result.structured.model_dump() if result.structured else None
    record = {**asdict(result), "structured": structured_dump, "files": []}
    saved.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    result.files.append(saved)
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, max_turns=1)  # a pipeline, not a conversation: --max-turns is accepted and unused
    p.add_argument("--question", default=QUESTION, help=f"what to ask (default: {QUESTION!r})")
    p.add_argument("--embed-model", help="embedding model (default: the chat model)")
    args = p.parse_args(argv)
    try:
        settings = _common.settings_from(args)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[langchain_pipeline] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        print(f"Question: {args.question}\nStreamed answer: ", end="")
        result = run(settings, work_dir=work_dir, question=args.question, embed_model=args.embed_model, echo=True)
    except OllamaError as exc:
        print(f"[langchain_pipeline] error: {exc}", file=sys.stderr)
        return 2
    best = max(result.scores)
    print(f"Retrieved note (cosine {best:.3f}): {result.context}")
    if result.structured_error:
        print(f"[langchain_pipeline] structured answer did not validate: {result.structured_error}", file=sys.stderr)
    else:
        print(f"Structured answer: {result.structured!r}")
    print(f"[langchain_pipeline] saved {result.files[0]}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
