"""Planning: from a validated request to the tokens, grammar and tool policy of one generation.

Plans are built on the worker thread with the loaded model (its chat template and
tokenizer): rendering and tokenising a long prompt is CPU work.

Tool calls follow one of two policies (see `integrations.embedded`):

* **The model decides** when its chat template has a tool-call tag (Qwen's
  ``<tool_call>``): tools are rendered by the template, the model answers freely,
  and calls are read out of its text at that tag, as Ollama does.
* **A rule decides** for models whose template knows no tool calls (``smollm2:135m``,
  a test double): a call whenever tools are offered and the last message is not a
  tool result, sampled under a grammar so it always parses.

``tool_choice`` ``"required"`` or a named function forces a grammar-constrained call
for every model; ``"none"`` leaves the tools out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from integrations.embedded.core import Plan
from integrations.embedded.prompting import (
    ChatMessage,
    ToolSpec,
    bounded_schema,
    render_for_template,
    structured_turns,
    template_tools,
    tool_call_schema,
    tool_mode,
)
from integrations.embedded.protocol import ApiError
from integrations.embedded.runtime import LoadedModel

__all__ = ["TOO_LONG", "chat_plan", "fit_to_context", "format_schema", "prompt_plan"]


def format_schema(fmt: Any, where: str = "format") -> tuple[bool, dict[str, Any] | None]:
    """Native ``format``: "" / None -> unconstrained, "json" -> any JSON, an object -> that schema, bounded.

    A schema the grammar cannot honour is a 400 naming ``where``, raised here, before any model work.
    """
    if fmt in (None, "", "null"):
        return False, None
    if fmt == "json":
        return True, None
    if isinstance(fmt, str):
        try:
            fmt = json.loads(fmt)
        except ValueError:
            raise ApiError(400, f"invalid format: {fmt!r}; use \"json\" or a JSON schema") from None
    if isinstance(fmt, dict):
        return True, bounded_schema(fmt, where)
    raise ApiError(400, "invalid format: use \"json\" or a JSON schema object")


def _format_grammar(lm: LoadedModel, wanted: tuple[bool, dict[str, Any] | None]) -> tuple[str | None, bool]:
    """The grammar of a `format_schema` result, and whether it constrains to a schema."""
    wants_json, schema = wanted
    if not wants_json:
        return None, False
    return lm.grammar(schema), schema is not None


TOO_LONG = "the input length exceeds the context length"


def fit_to_context(
    messages: list[ChatMessage], n_ctx: int, tokens_of: Callable[[list[ChatMessage]], list[int]], *, truncate: bool
) -> list[int]:
    """The prompt of ``messages``, its oldest turns left out when it is longer than ``n_ctx`` tokens, as Ollama does.

    Ollama keeps the last message and every system message, and as many of the latest
    turns as fit; when even the last message alone does not fit, the engine truncates
    that. With ``truncate`` false (the request's ``truncate: false``) a prompt that does
    not fit is a 400 instead. ``tokens_of`` renders and tokenises a list of messages.
    """
    tokens = tokens_of(messages)
    if len(tokens) <= n_ctx:
        return tokens
    if not truncate:
        raise ApiError(400, f"{TOO_LONG} ({len(tokens)} tokens, num_ctx {n_ctx}); raise num_ctx, send less, "
                            "or leave truncate on to drop the oldest messages")

    def kept(first: int) -> list[ChatMessage]:
        return [m for m in messages[:first] if m.role == "system"] + messages[first:]

    low, high, fitted = 1, len(messages) - 1, None
    while low <= high:  # the fewest turns left out whose prompt fits (leaving turns out only shortens it)
        middle = (low + high) // 2
        candidate = tokens_of(kept(middle))
        if len(candidate) <= n_ctx:
            fitted, high = candidate, middle - 1
        else:
            low = middle + 1
    return fitted if fitted is not None else tokens_of(kept(len(messages) - 1))


def chat_plan(
    messages: list[ChatMessage],
    tools: list[ToolSpec],
    tool_choice: Any,
    fmt: Any,
    where: str = "format",
    *,
    truncate: bool = True,
) -> Callable[[LoadedModel], Plan]:
    """The plan of a chat turn; ``tool_choice`` is None natively (Ollama ignores it there).

    ``where`` names the format in errors as the client sent it (``response_format...`` on ``/v1``).
    A chat longer than the context loses its oldest turns first (`fit_to_context`).
    """
    wanted = format_schema(fmt, where)

    def plan(lm: LoadedModel) -> Plan:
        mode, allowed = tool_mode(tools, tool_choice, messages)
        decides = lm.tool_tag is not None

        def fitted(tokens_of: Callable[[list[ChatMessage]], list[int]]) -> list[int]:
            return fit_to_context(messages, lm.n_ctx, tokens_of, truncate=truncate)

        if decides and tools and tool_choice != "none":
            offered = template_tools(tools)
            prompt = fitted(lambda ms: lm.tokenize(lm.render_chat(structured_turns(ms, lm.record.system),
                                                                  tools=offered)))
            if tool_choice in (None, "auto"):
                grammar, constrained = _format_grammar(lm, wanted)
                return Plan(prompt, grammar, tools, tool_tag=lm.tool_tag, constrained=constrained)
            return Plan(prompt, lm.grammar(tool_call_schema(allowed)), allowed, forced=True, constrained=True)
        shown = allowed if mode == "call" else []  # after a tool result, no call instructions: answer in prose

        def turns(ms: list[ChatMessage]) -> list[dict[str, Any]]:
            if decides:
                return structured_turns(ms, lm.record.system)
            return list(render_for_template(ms, shown, template_knows_tools=lm.template_knows_tools,
                                            default_system=lm.record.system))

        tokens = fitted(lambda ms: lm.tokenize(lm.render_chat(turns(ms))))
        if mode == "call" and not decides:
            return Plan(tokens, lm.grammar(tool_call_schema(allowed)), allowed, forced=True, constrained=True)
        grammar, constrained = _format_grammar(lm, wanted)
        return Plan(tokens, grammar, constrained=constrained)

    return plan


def prompt_plan(
    prompt: str, *, system: str | None, raw: bool = False, context: list[int] | None = None, fmt: Any = None
) -> Callable[[LoadedModel], Plan]:
    """The plan of ``/api/generate`` and ``/v1/completions``: one user turn (or the raw prompt)."""
    wanted = format_schema(fmt)

    def plan(lm: LoadedModel) -> Plan:
        if raw:
            text = prompt
        else:
            turns: list[dict[str, Any]] = []
            sys_text = system or lm.record.system
            if sys_text:
                turns.append({"role": "system", "content": sys_text})
            turns.append({"role": "user", "content": prompt})
            text = lm.render_chat(turns)
        tokens = lm.tokenize(text)
        if context:
            vocab = lm.n_vocab
            if max(context) >= vocab:
                raise ApiError(400, f"context holds token id {max(context)}, which is not in this model's "
                                    f"vocabulary (ids 0 to {vocab - 1}); send the context this model returned")
            tokens = list(context) + tokens
        grammar, constrained = _format_grammar(lm, wanted)
        return Plan(tokens, grammar, constrained=constrained)

    return plan
