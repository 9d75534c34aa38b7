"""Loaded models: llama.cpp instances, their locks, keep-alive and token generation.

llama.cpp contexts are not thread-safe, so each loaded model has one lock held
for a whole generation or embedding call; requests for different models run in
parallel. Generation runs in worker threads; the HTTP layer receives text
pieces through a callback. ``llama_cpp`` is imported on the first load only.
"""

from __future__ import annotations

import codecs
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integrations._deps import require
from integrations.embedded.protocol import FOREVER, ApiError, Options
from integrations.embedded.schemas import schema_to_gbnf
from integrations.embedded.settings import embedded_settings
from integrations.embedded.slots import PromptCache
from integrations.embedded.store import ModelRecord
from integrations.embedded.toolcalls import template_tool_tag

if TYPE_CHECKING:  # pragma: no cover
    from llama_cpp import Llama

__all__ = [
    "DEFAULT_NUM_CTX",
    "GenerationResult",
    "LoadedModel",
    "Runtime",
    "default_threads",
    "import_llama_cpp",
    "schema_to_gbnf",
]

log = logging.getLogger("integrations.embedded")

DEFAULT_NUM_CTX = 4096
"""Ollama's default context on machines with < 24 GiB of VRAM (v0.15.5+); capped at the trained context."""


def import_llama_cpp() -> Any:
    """Import llama_cpp or raise `MissingDependency` naming the extra."""
    return require("llama_cpp", "embedded")


@dataclass
class GenerationResult:
    text: str = ""
    done_reason: str = "stop"
    prompt_eval_count: int = 0
    eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_duration: int = 0
    tokens: list[int] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    prompt_cached: int = 0
    """Prompt tokens whose evaluation was reused from the prompt cache (not evaluated again)."""


def default_threads() -> int:
    """The configured threads per model, else half the CPUs (see `EmbeddedSettings.thread_count`)."""
    return embedded_settings().thread_count()


DEFAULT_CACHE_SLOTS = 8
"""Conversations whose evaluated prompts stay cached per model (as many KV caches of the full context)."""


def default_cache_slots() -> int:
    """The configured prompt-cache slots (``OLLAMA_INTEGRATIONS_PROMPT_CACHE_SLOTS``), else `DEFAULT_CACHE_SLOTS`."""
    slots = embedded_settings().prompt_cache_slots
    return DEFAULT_CACHE_SLOTS if slots is None else slots


class LoadedModel:
    """One model in memory: the chat llama, an optional embedding llama, one lock."""

    def __init__(self, record: ModelRecord, llm: Llama, n_ctx: int, n_threads: int, load_seconds: float,
                 cache_slots: int = DEFAULT_CACHE_SLOTS) -> None:
        self.record = record
        self.llm = llm
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.lock = threading.Lock()
        self.active = 0
        self.expires_at = time.time() + 300
        self.load_seconds = load_seconds
        self.embedder: Llama | None = None
        info = record.info
        self.bos_text = self._token_text(llm.token_bos())
        self.eos_text = self._token_text(llm.token_eos())
        self.template = info.chat_template
        self._formatter: Any = None
        self.template_knows_tools = bool(self.template and "tool" in self.template)
        self.tool_tag = template_tool_tag(self.template)
        """The tag this model's template opens tool calls with; None: the model cannot decide on calls."""
        kv = info.metadata
        arch = info.architecture
        layers = int(kv.get(f"{arch}.block_count", 0) or 0)
        heads = int(kv.get(f"{arch}.attention.head_count", 1) or 1)
        kv_heads = int(kv.get(f"{arch}.attention.head_count_kv", heads) or heads)
        embd = int(kv.get(f"{arch}.embedding_length", 0) or 0)
        kv_bytes = 2 * layers * n_ctx * (embd // max(heads, 1)) * kv_heads * 2
        self.size = record.model_path.stat().st_size + kv_bytes
        self.kv_bytes = kv_bytes
        self.cache = PromptCache(cache_slots * kv_bytes)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        try:
            return self.llm._model.token_get_text(token)
        except Exception:  # pragma: no cover - defensive: older bindings
            return ""

    # -- prompts -------------------------------------------------------------

    def render_chat(self, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        """The model's own chat template (GGUF ``tokenizer.chat_template``) applied to ``turns``."""
        if not self.template:
            parts = [f"{t['role']}: {t['content']}" for t in turns]
            return "\n".join(parts) + "\nassistant: "
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=self.template, eos_token=self.eos_text, bos_token=self.bos_text,
                add_generation_prompt=True,
            )
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
        emit: Callable[[str, list[dict[str, Any]]], None] | None,
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
            result.prompt_cached = min(self.cache.prepare(llm, prompt_tokens), max(len(prompt_tokens) - 1, 0))
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
            llm.eval(tokens[at:min(end, at + step)])
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
            return {"token": raw.decode("utf-8", errors="replace"), "logprob": float(logits[tok]) - log_z,
                    "bytes": list(raw)}

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
                    model_path=str(self.record.model_path), embedding=True, n_ctx=self.n_ctx,
                    n_batch=self.n_ctx, n_ubatch=self.n_ctx, n_threads=self.n_threads,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False,
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
        for obj in (self.llm, self.embedder):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # pragma: no cover - closing is best effort
                    log.debug("closing a llama instance failed", exc_info=True)
        self.embedder = None


class Runtime:
    """The set of loaded models, keyed by model name, with keep-alive expiry."""

    def __init__(self, prompt_cache_slots: int | None = None) -> None:
        """``prompt_cache_slots``: conversations kept evaluated per model (0: only the live one)."""
        self.cache_slots = default_cache_slots() if prompt_cache_slots is None else max(0, prompt_cache_slots)
        self._models: dict[tuple[str, str, str, str], LoadedModel] = {}
        self._guard = threading.Lock()
        self._idle = threading.Condition(self._guard)  # notified when a model's active count drops
        self._load_locks: dict[tuple[str, str, str, str], threading.Lock] = {}
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def _load_lock(self, key: tuple[str, str, str, str]) -> threading.Lock:
        with self._guard:
            return self._load_locks.setdefault(key, threading.Lock())

    def start(self) -> None:
        if self._reaper is None:
            self._stop.clear()
            self._reaper = threading.Thread(target=self._reap_loop, name="embedded-keepalive", daemon=True)
            self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(timeout=5)
            self._reaper = None
        for key in list(self._models):
            self._unload_key(key, timeout=30)

    def want_ctx(self, record: ModelRecord, requested: int | None) -> int:
        trained = record.info.context_length
        return max(1, min(requested or DEFAULT_NUM_CTX, trained))

    def acquire(self, record: ModelRecord, opts: Options) -> tuple[LoadedModel, float]:
        """The loaded model for ``record`` (loading or reloading it), marked active; and the load seconds."""
        key = record.name.key
        n_ctx = self.want_ctx(record, opts.num_ctx)
        with self._load_lock(key):
            lm = self._models.get(key)
            if lm is not None and (lm.record.digest != record.digest or lm.n_ctx != n_ctx):
                self._unload_key(key)
                lm = None
            load_seconds = 0.0
            if lm is None:
                lm = self._load(record, n_ctx, opts.num_thread)
                load_seconds = lm.load_seconds
                with self._guard:
                    self._models[key] = lm
            with self._guard:
                lm.active += 1
                lm.expires_at = FOREVER
        return lm, load_seconds

    def try_acquire(self, record: ModelRecord, opts: Options) -> LoadedModel | None:
        """`acquire` without blocking: the loaded model if it is ready as requested, else None.

        Lets the event loop skip a thread hand-off on the common path (saves
        milliseconds of time-to-first-token on a busy machine).
        """
        key = record.name.key
        lock = self._load_lock(key)
        if not lock.acquire(blocking=False):
            return None
        try:
            lm = self._models.get(key)
            if lm is None or lm.record.digest != record.digest or lm.n_ctx != self.want_ctx(record, opts.num_ctx):
                return None
            with self._guard:
                lm.active += 1
                lm.expires_at = FOREVER
            return lm
        finally:
            lock.release()

    def release(self, lm: LoadedModel, keep_alive: float) -> None:
        """End a request: restart the keep-alive timer, unloading now for ``keep_alive == 0``."""
        key = lm.record.name.key
        with self._guard:
            lm.active -= 1
            lm.expires_at = FOREVER if keep_alive == FOREVER else time.time() + keep_alive
            idle = lm.active == 0
            self._idle.notify_all()
        if keep_alive <= 0 and idle:
            with self._load_lock(key):
                if self._models.get(key) is lm and lm.active == 0:
                    self._unload_key(key)

    def unload(self, record: ModelRecord) -> None:
        key = record.name.key
        with self._load_lock(key):
            self._unload_key(key)

    def _load(self, record: ModelRecord, n_ctx: int, threads: int | None) -> LoadedModel:
        llama_cpp = import_llama_cpp()
        n_threads = threads if threads and threads > 0 else default_threads()
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(record.model_path), n_ctx=n_ctx, n_threads=n_threads,
                n_threads_batch=n_threads, n_batch=512, verbose=False,
            )
        except Exception as exc:
            raise ApiError(500, f"llama runner process has terminated: failed to load {record.short}: {exc}") from None
        seconds = time.perf_counter() - started
        log.info("loaded %s (n_ctx=%d, threads=%d) in %.2fs", record.short, n_ctx, n_threads, seconds)
        return LoadedModel(record, llm, n_ctx, n_threads, seconds, self.cache_slots)

    def _unload_key(self, key: tuple[str, str, str, str], timeout: float | None = None) -> None:
        """Unload once no request uses the model (callers hold the key's load lock, so none can start)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._guard:
            lm = self._models.get(key)
            if lm is None:
                return
            while lm.active > 0:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    log.warning("unloading %s while %d request(s) still use it", lm.record.short, lm.active)
                    break
                self._idle.wait(left)
            self._models.pop(key, None)
        with lm.lock:  # wait for an in-flight generation
            lm.close()
        log.info("unloaded %s", lm.record.short)

    def loaded(self) -> list[LoadedModel]:
        with self._guard:
            models = list(self._models.values())
        return sorted(models, key=lambda m: m.expires_at, reverse=True)

    def _reap_loop(self) -> None:
        while not self._stop.wait(0.5):
            now = time.time()
            with self._guard:
                due = [k for k, m in self._models.items() if m.active == 0 and m.expires_at <= now]
            for key in due:
                with self._load_lock(key):
                    lm = self._models.get(key)
                    if lm is not None and lm.active == 0 and lm.expires_at <= time.time():
                        self._unload_key(key)
