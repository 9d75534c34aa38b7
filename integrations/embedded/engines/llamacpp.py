"""The ``llama-cpp`` engine: ``llama-cpp-python`` in the server's own process.

llama.cpp contexts are not thread-safe, so each model has one lock held for a
whole generation or embedding call; requests for one model take turns, and
different models run in parallel. Conversations that leave the context keep
their evaluated prompt in a `PromptCache`. ``llama_cpp`` is imported on the
first load only.
"""

from __future__ import annotations

import codecs
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations.embedded.engines import CacheStats, Emit, Engine, EngineModel, GenerationResult, LoadSpec
from integrations.embedded.protocol import ApiError, Options
from integrations.embedded.slots import PromptCache

if TYPE_CHECKING:  # pragma: no cover
    from llama_cpp import Llama

__all__ = ["LlamaCppEngine", "LlamaCppModel", "import_llama_cpp"]

log = logging.getLogger("integrations.embedded")


def import_llama_cpp() -> Any:
    """Import llama_cpp or raise `MissingDependency` naming the extra."""
    return require("llama_cpp", "llama-cpp")


class _PromptCacheStats(CacheStats):
    def __init__(self, cache: PromptCache) -> None:
        self._cache = cache
        self.budget = cache.budget

    @property
    def size(self) -> int:
        return self._cache.size

    def __len__(self) -> int:
        return len(self._cache)


class LlamaCppEngine(Engine):
    name = "llama-cpp"

    def load(self, spec: LoadSpec) -> LlamaCppModel:
        llama_cpp = import_llama_cpp()
        llm = llama_cpp.Llama(
            model_path=str(spec.path),
            n_ctx=spec.n_ctx,
            n_threads=spec.n_threads,
            n_threads_batch=spec.n_threads,
            n_batch=512,
            verbose=False,
        )
        return LlamaCppModel(llm, spec)

    def schema_grammar(self, schema: dict[str, Any] | None) -> str:
        from integrations.embedded.schemas import gbnf_from_schema

        return gbnf_from_schema(schema)


class LlamaCppModel(EngineModel):
    """One ``Llama`` for chat, a second in embedding mode made on first use, one lock."""

    def __init__(self, llm: Llama, spec: LoadSpec) -> None:
        self.llm = llm
        self.spec = spec
        self.n_ctx = spec.n_ctx
        self.n_vocab = int(llm.n_vocab())
        self.lock = threading.Lock()
        self.embedder: Llama | None = None
        self.bos_text = self._token_text(llm.token_bos())
        self.eos_text = self._token_text(llm.token_eos())
        self.prompt_cache = PromptCache(spec.cache_budget)
        self.cache = _PromptCacheStats(self.prompt_cache)
        self._formatter: Any = None
        self._formatter_template: str | None = None

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        try:
            return self.llm._model.token_get_text(token)
        except Exception:  # pragma: no cover - defensive: older bindings
            return ""

    # -- prompts -------------------------------------------------------------

    def render(
        self, template: str | None, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> str:
        if not template:
            parts = [f"{t['role']}: {t['content']}" for t in turns]
            return "\n".join(parts) + "\nassistant: "
        if self._formatter is None or self._formatter_template != template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self.eos_text,
                bos_token=self.bos_text,
                add_generation_prompt=True,
            )
            self._formatter_template = template
        try:
            rendered = self._formatter(messages=turns, tools=tools or None)
        except Exception as exc:  # jinja raises on conversations a template rejects
            raise ApiError(400, f"the model's chat template rejected the messages: {exc}") from None
        return str(rendered.prompt)

    def tokenize(self, text: str) -> list[int]:
        add_bos = not (self.bos_text and text.startswith(self.bos_text))
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    # -- generation ----------------------------------------------------------

    def generate(
        self,
        prompt_tokens: list[int],
        opts: Options,
        grammar: str | None,
        emit: Emit | None,
        cancel: threading.Event | None = None,
        logprobs: int | None = None,
    ) -> GenerationResult:
        """Sample until EOG, a stop string, the token budget or ``cancel``; call ``emit`` per text piece.

        With ``logprobs`` (the number of alternatives per token, 0 for none), each piece
        comes with the log-probabilities of the tokens that produced it.
        """
        import_llama_cpp()
        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar

        llm = self.llm
        result = GenerationResult()
        n_ctx = self.n_ctx
        if len(prompt_tokens) >= n_ctx - 1:
            keep = max(1, n_ctx // 2)
            prompt_tokens = prompt_tokens[-keep:]
        room = n_ctx - len(prompt_tokens)
        budget = room if opts.num_predict < 0 else min(opts.num_predict, room)
        result.prompt_eval_count = len(prompt_tokens)
        result.tokens = list(prompt_tokens)
        if budget <= 0:
            result.done_reason = "length"
            return result
        stops = [s for s in opts.stop if s]
        longest_stop = max((len(s) for s in stops), default=0)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        pending = ""
        scored: list[dict[str, Any]] = []
        vocab = llm._model.vocab
        seed = opts.seed if opts.seed is not None and opts.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED
        start = time.perf_counter_ns()
        first_at = start
        with self.lock:
            result.prompt_cached = min(self.prompt_cache.prepare(llm, prompt_tokens), max(len(prompt_tokens) - 1, 0))
            if not self._read_prompt(prompt_tokens, result.prompt_cached, cancel):
                result.done_reason = "stop"  # the client went away while the prompt was read
                result.prompt_eval_duration = max(time.perf_counter_ns() - start, 1)
                return result
            llm.set_seed(seed)
            compiled = LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
            temp = opts.temperature
            gen = llm.generate(
                prompt_tokens,
                top_k=opts.top_k if opts.top_k > 0 else llm.n_vocab(),
                top_p=opts.top_p,
                min_p=opts.min_p,
                typical_p=opts.typical_p,
                temp=temp,
                repeat_penalty=opts.repeat_penalty,
                frequency_penalty=opts.frequency_penalty,
                presence_penalty=opts.presence_penalty,
                grammar=compiled,
            )
            try:
                for token in gen:
                    if result.eval_count == 0:
                        first_at = time.perf_counter_ns()
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        result.done_reason = "stop"
                        break
                    result.eval_count += 1
                    result.tokens.append(token)
                    if logprobs is not None:
                        scored.append(self._logprob(token, logprobs))
                    text = decoder.decode(llm.detokenize([token]))
                    if text:
                        pending += text
                        if stops:
                            cut = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
                            if cut >= 0:
                                pending = pending[:cut]
                                result.done_reason = "stop"
                                break
                            hold = 0
                            for k in range(min(longest_stop - 1, len(pending)), 0, -1):
                                tail = pending[-k:]
                                if any(s.startswith(tail) for s in stops):
                                    hold = k
                                    break
                            ready, pending = (pending[:-hold], pending[-hold:]) if hold else (pending, "")
                        else:
                            ready, pending = pending, ""
                        if ready:
                            pieces.append(ready)
                            result.logprobs += scored
                            if emit is not None:
                                emit(ready, scored)
                            scored = []
                    if result.eval_count >= budget:
                        result.done_reason = "length"
                        break
                    if cancel is not None and cancel.is_set():
                        result.done_reason = "stop"
                        break
                else:
                    result.done_reason = "stop"
            finally:
                gen.close()
        tail = pending + decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            result.logprobs += scored
            if emit is not None:
                emit(tail, scored)
        end = time.perf_counter_ns()
        result.text = "".join(pieces)
        result.prompt_eval_duration = max(first_at - start, 1)
        result.eval_duration = max(end - first_at, 1)
        return result

    def _read_prompt(self, tokens: list[int], cached: int, cancel: threading.Event | None) -> bool:
        """Evaluate all but the last prompt token batch by batch, stopping early when ``cancel`` is set.

        llama.cpp reads a prompt in one uninterruptible call; read here in batches, a
        long prompt whose client left frees the model within one batch. Generation then
        finds this prefix evaluated and reads only the last token. False: cancelled.
        """
        llm = self.llm
        if cancel is None:
            return True
        llm.n_tokens = min(int(llm.n_tokens), cached)
        end = len(tokens) - 1
        step = max(1, int(llm.n_batch))
        for at in range(cached, end, step):
            if cancel.is_set():
                return False
            llm.eval(tokens[at : min(end, at + step)])
        return not cancel.is_set()

    def _logprob(self, token: int, top: int) -> dict[str, Any]:
        """The sampled token's log-probability under the model's logits, with the ``top`` likeliest."""
        import llama_cpp
        import numpy as np

        n_vocab = self.llm.n_vocab()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(n_vocab,))
        peak = float(logits.max())
        log_z = peak + float(np.log(np.exp(logits - peak).sum()))

        def entry(tok: int) -> dict[str, Any]:
            raw = self.llm.detokenize([tok])
            return {
                "token": raw.decode("utf-8", errors="replace"),
                "logprob": float(logits[tok]) - log_z,
                "bytes": list(raw),
            }

        out = entry(token)
        if top > 0:
            best = np.argpartition(-logits, top)[:top]
            out["top_logprobs"] = [entry(int(t)) for t in sorted(best, key=lambda t: -logits[t])]
        else:
            out["top_logprobs"] = []
        return out

    # -- embeddings ----------------------------------------------------------

    def embed(self, texts: Sequence[str], truncate: bool) -> tuple[list[list[float]], int]:
        """Mean-pooled, L2-normalised embeddings from a second llama instance in embedding mode."""
        llama_cpp = import_llama_cpp()
        with self.lock:
            if self.embedder is None:
                self.embedder = llama_cpp.Llama(
                    model_path=str(self.spec.path),
                    embedding=True,
                    n_ctx=self.n_ctx,
                    n_batch=self.n_ctx,
                    n_ubatch=self.n_ctx,
                    n_threads=self.spec.n_threads,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    verbose=False,
                )
            emb = self.embedder
            limit = self.n_ctx
            vectors: list[list[float]] = []
            count = 0
            for text in texts:
                tokens = emb.tokenize(text.encode("utf-8"), add_bos=True, special=False)
                if len(tokens) > limit and not truncate:
                    raise ApiError(400, "the input length exceeds the context length")
                count += min(len(tokens), limit)
                raw = emb.embed(text, normalize=False, truncate=True)
                vec = [float(x) for x in raw]
                norm = math.sqrt(sum(x * x for x in vec)) or 1.0
                vectors.append([x / norm for x in vec])
            return vectors, count

    def close(self) -> None:
        with self.lock:  # wait for an in-flight generation
            for obj in (self.llm, self.embedder):
                if obj is not None:
                    try:
                        obj.close()
                    except Exception:  # pragma: no cover - closing is best effort
                        log.debug("closing a llama instance failed", exc_info=True)
            self.embedder = None
