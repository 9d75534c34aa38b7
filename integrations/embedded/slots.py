"""A prompt cache per conversation: several saved KV states per loaded model, as Ollama keeps one per slot.

Agents interleave conversations (a group chat changes speaker every turn), and one
llama.cpp context keeps only the last conversation's evaluated prompt. Before a
request, the model's live context is compared with the saved states; when a
saved one shares a longer prefix with the new prompt, the live state is saved
and that one restored, so only the new suffix is evaluated.

Why saved sequence states: llama.cpp can copy one sequence's KV cells out of a
context and back (``llama_state_seq_get_data`` / ``set_data``) at memory speed
(tens of MB per second-long prompt on a 1.5B model, copied in milliseconds),
while re-reading a 2,000-token prompt costs 25 s on two cores. Several contexts
would each reserve a full KV cache up front; llama-cpp-python's own ``save_state``
also copies the logits (hundreds of MB for a 150k vocabulary). States are kept
least recently used first out, within a byte budget.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["PromptCache", "common_prefix"]

MIN_GAIN = 16
"""Switching states costs two copies; it pays only when it saves more than a few tokens of evaluation."""


def common_prefix(a: Any, b: Any) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class _Saved:
    tokens: list[int]
    data: Any  # a ctypes uint8 array
    size: int
    used: float


class PromptCache:
    """Saved KV states of one loaded model (callers hold the model's lock)."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = max(0, budget_bytes)
        self._saved: list[_Saved] = []
        self._guard = threading.Lock()
        self.hits = 0
        self.switches = 0

    @property
    def size(self) -> int:
        with self._guard:
            return sum(s.size for s in self._saved)

    def __len__(self) -> int:
        with self._guard:
            return len(self._saved)

    def prepare(self, llm: Any, prompt: list[int]) -> int:
        """Make ``llm``'s live context the best start for ``prompt``; return the prefix it can reuse.

        The live conversation is saved first whenever the new prompt would discard a
        worthwhile part of it (another conversation takes the context).
        """
        live = llm.input_ids[: llm.n_tokens].tolist()
        live_prefix = common_prefix(live, prompt)
        if self.budget <= 0:
            return live_prefix
        with self._guard:
            best = max(self._saved, key=lambda s: common_prefix(s.tokens, prompt), default=None)
        best_prefix = common_prefix(best.tokens, prompt) if best is not None else 0
        if len(live) - live_prefix >= MIN_GAIN:
            self.save(llm)
        if best is None or best_prefix < live_prefix + MIN_GAIN:
            if live_prefix:
                self.hits += 1
            return live_prefix
        if not self._restore(llm, best):
            return common_prefix(llm.input_ids[: llm.n_tokens].tolist(), prompt)
        self.switches += 1
        self.hits += 1
        return best_prefix

    def save(self, llm: Any) -> None:
        """Save the live state (replacing a saved state it extends), then evict down to the budget."""
        import llama_cpp

        n = int(llm.n_tokens)
        if n == 0 or self.budget <= 0:
            return
        tokens = llm.input_ids[:n].tolist()
        ctx = llm._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self.budget:
            return
        data = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if written <= 0:
            return
        with self._guard:
            # a state whose tokens are a prefix of this one is superseded by it
            self._saved = [s for s in self._saved if common_prefix(s.tokens, tokens) < len(s.tokens)]
            self._saved.append(_Saved(tokens, data, written, time.monotonic()))
            self._saved.sort(key=lambda s: s.used)
            while self._saved and sum(s.size for s in self._saved) > self.budget:
                self._saved.pop(0)

    def _restore(self, llm: Any, saved: _Saved) -> bool:
        import llama_cpp

        ctx = llm._ctx.ctx
        restored = int(llama_cpp.llama_state_seq_set_data(ctx, saved.data, saved.size, 0)) > 0
        with self._guard:
            # restored: the state is live now; failed: it would fail again on every later match
            self._saved = [s for s in self._saved if s is not saved]
        if not restored:
            llm.reset()  # llama.cpp cleared the sequence: no token of the context is evaluated any more
            return False
        n = len(saved.tokens)
        llm.input_ids[:n] = saved.tokens
        llm.n_tokens = n
        llm._requires_eval = True  # the logits are not part of the state: re-evaluate at least one token
        return True

    def clear(self) -> None:
        with self._guard:
            self._saved.clear()
