"""Loaded models: engine models, their leases, keep-alive and the limits on what stays loaded.

A `LoadedModel` is the runtime's handle on one model an engine loaded (see
`integrations.embedded.engines`): the record it serves, how many requests use it,
when it expires. Generation, tokenizing and embedding go to its `EngineModel`.
Nothing here imports llama.cpp.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.embedded.engines import (
    Emit,
    Engine,
    EngineModel,
    GenerationResult,
    LoadSpec,
    select_engine,
)
from integrations.embedded.engines.llamacpp import import_llama_cpp
from integrations.embedded.protocol import FOREVER, ApiError, Options
from integrations.embedded.schemas import schema_to_gbnf
from integrations.embedded.settings import embedded_settings
from integrations.embedded.store import ModelRecord
from integrations.embedded.toolcalls import template_tool_tag

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


def default_threads() -> int:
    """The configured threads per model, else half the CPUs (see `EmbeddedSettings.thread_count`)."""
    return embedded_settings().thread_count()


DEFAULT_CACHE_SLOTS = 8
"""Conversations whose evaluated prompts stay cached per model (as many KV caches of the full context)."""


def default_cache_slots() -> int:
    """The configured prompt-cache slots (``OLLAMA_INTEGRATIONS_PROMPT_CACHE_SLOTS``), else `DEFAULT_CACHE_SLOTS`."""
    slots = embedded_settings().prompt_cache_slots
    return DEFAULT_CACHE_SLOTS if slots is None else slots


def kv_cache_bytes(record: ModelRecord, n_ctx: int) -> int:
    """The f16 KV cache of ``n_ctx`` tokens, from the model's metadata."""
    info = record.info
    kv = info.metadata
    arch = info.architecture
    layers = int(kv.get(f"{arch}.block_count", 0) or 0)
    heads = int(kv.get(f"{arch}.attention.head_count", 1) or 1)
    kv_heads = int(kv.get(f"{arch}.attention.head_count_kv", heads) or heads)
    embd = int(kv.get(f"{arch}.embedding_length", 0) or 0)
    return 2 * layers * n_ctx * (embd // max(heads, 1)) * kv_heads * 2


class LoadedModel:
    """One model in memory: the engine's model, the record it serves, its lease count and expiry."""

    def __init__(self, record: ModelRecord, model: EngineModel, engine: Engine, n_ctx: int, n_threads: int,
                 load_seconds: float, n_parallel: int = 1) -> None:
        self.record = record
        self.model = model
        self.engine = engine
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.active = 0
        self.expires_at = time.time() + 300
        self.used = time.monotonic()
        self.n_parallel = n_parallel
        self.load_seconds = load_seconds
        self.template = record.info.chat_template
        self.template_knows_tools = bool(self.template and "tool" in self.template)
        self.tool_tag = template_tool_tag(self.template)
        """The tag this model's template opens tool calls with; None: the model cannot decide on calls."""
        self.kv_bytes = kv_cache_bytes(record, n_ctx) * n_parallel
        self.size = record.model_path.stat().st_size + self.kv_bytes

    @property
    def lock(self) -> threading.Lock:
        return self.model.lock

    @property
    def cache(self) -> Any:
        """The prompt cache's figures: ``len()``, ``size`` and ``budget`` in bytes."""
        return self.model.cache

    @property
    def llm(self) -> Any:
        """llama-cpp-python's ``Llama`` (the ``llama-cpp`` engine only)."""
        return getattr(self.model, "llm", None)

    @property
    def n_vocab(self) -> int:
        return self.model.n_vocab

    def render_chat(self, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        """The model's own chat template (GGUF ``tokenizer.chat_template``) applied to ``turns``."""
        return self.model.render(self.template, turns, tools)

    def tokenize(self, text: str) -> list[int]:
        return self.model.tokenize(text)

    def grammar(self, schema: dict[str, Any] | None) -> str:
        """The grammar of a bounded JSON schema in this model's engine's dialect."""
        return schema_to_gbnf(schema, self.engine)

    def generate(self, prompt_tokens: list[int], opts: Options, grammar: str | None, emit: Emit | None,
                 cancel: threading.Event | None = None, logprobs: int | None = None) -> GenerationResult:
        return self.model.generate(prompt_tokens, opts, grammar, emit, cancel, logprobs)

    def embed(self, texts: Sequence[str], truncate: bool) -> tuple[list[list[float]], int]:
        return self.model.embed(texts, truncate)



@dataclass
class _Shared:
    """One engine model and the loaded names (aliases of one file) that use it."""

    model: EngineModel
    users: int = 0


SharedKey = tuple[str, str, int, int, int]


class Runtime:
    """The set of loaded models, keyed by model name, with keep-alive expiry and a bound on how many stay loaded.

    Names whose files are the same blob (aliases made with ``/api/create``) share one
    engine model, so one runner and one copy of the weights. At most
    ``max_loaded`` engine models stay loaded; loading one more unloads the least
    recently used idle one first (``OLLAMA_MAX_LOADED_MODELS``). A model whose runner
    died is dropped and loaded again by the next request; one whose runner died
    while loading is reported broken (with the cause) until its file changes.
    """

    def __init__(self, prompt_cache_slots: int | None = None, engine: Engine | None = None, *,
                 num_parallel: int | None = None, max_loaded: int | None = None) -> None:
        """``prompt_cache_slots``: conversations kept evaluated per model (0: only the live one)."""
        settings = embedded_settings()
        self._engine = engine
        self.cache_slots = default_cache_slots() if prompt_cache_slots is None else max(0, prompt_cache_slots)
        self.num_parallel = max(1, num_parallel if num_parallel is not None else settings.num_parallel)
        self.max_loaded = max(1, max_loaded if max_loaded is not None else settings.loaded_models_limit())
        self._models: dict[tuple[str, str, str, str], LoadedModel] = {}
        self._shared: dict[SharedKey, _Shared] = {}
        self._broken: dict[tuple[str, str], str] = {}
        self._guard = threading.Lock()
        self._idle = threading.Condition(self._guard)  # notified when a model's active count drops
        self._load_locks: dict[Any, threading.Lock] = {}
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    @property
    def engine(self) -> Engine:
        """The engine models load on (chosen by the ``engine`` setting on first use)."""
        if self._engine is None:
            self._engine = select_engine()
        return self._engine

    def _load_lock(self, key: Any) -> threading.Lock:
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

    def _usable(self, lm: LoadedModel | None, record: ModelRecord, n_ctx: int) -> bool:
        return lm is not None and lm.record.digest == record.digest and lm.n_ctx == n_ctx and lm.model.alive()

    def acquire(self, record: ModelRecord, opts: Options) -> tuple[LoadedModel, float]:
        """The loaded model for ``record`` (loading or reloading it), marked active; and the load seconds."""
        key = record.name.key
        n_ctx = self.want_ctx(record, opts.num_ctx)
        with self._load_lock(key):
            lm = self._models.get(key)
            if lm is not None and not lm.model.alive():
                self._discard(key, lm)
                lm = None
            if lm is not None and not self._usable(lm, record, n_ctx):
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
                lm.used = time.monotonic()
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
            if lm is None or not self._usable(lm, record, self.want_ctx(record, opts.num_ctx)):
                return None
            with self._guard:
                lm.active += 1
                lm.expires_at = FOREVER
                lm.used = time.monotonic()
            return lm
        finally:
            lock.release()

    def release(self, lm: LoadedModel, keep_alive: float) -> None:
        """End a request: restart the keep-alive timer, unloading now for ``keep_alive == 0``."""
        key = lm.record.name.key
        with self._guard:
            lm.active -= 1
            lm.expires_at = FOREVER if keep_alive == FOREVER else time.time() + keep_alive
            lm.used = time.monotonic()
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

    def broken(self, record: ModelRecord) -> str | None:
        """Why ``record``'s file cannot be loaded (its runner died loading it), or None."""
        with self._guard:
            return self._broken.get((str(record.model_path), record.digest))

    def _load(self, record: ModelRecord, n_ctx: int, threads: int | None) -> LoadedModel:
        engine = self.engine
        n_threads = threads if threads and threads > 0 else default_threads()
        why = self.broken(record)
        if why is not None:
            raise ApiError(500, why)
        shared_key: SharedKey = (engine.name, str(record.model_path), n_ctx, n_threads, self.num_parallel)
        with self._load_lock(shared_key):
            with self._guard:
                shared = self._shared.get(shared_key)
            if shared is not None and shared.model.alive():
                with self._guard:
                    shared.users += 1
                return LoadedModel(record, shared.model, engine, n_ctx, n_threads, 0.0, self.num_parallel)
            self._make_room()
            kv_bytes = kv_cache_bytes(record, n_ctx)
            spec = LoadSpec(record.model_path, n_ctx, n_threads, n_parallel=self.num_parallel,
                            cache_budget=self.cache_slots * kv_bytes, kv_bytes=kv_bytes)
            started = time.perf_counter()
            try:
                model = engine.load(spec)
            except ApiError as exc:
                if exc.message.startswith("llama runner process has terminated"):
                    with self._guard:
                        self._broken[(str(record.model_path), record.digest)] = exc.message
                raise
            except Exception as exc:
                raise ApiError(500, f"llama runner process has terminated: failed to load {record.short}: {exc}") \
                    from None
            seconds = time.perf_counter() - started
            with self._guard:
                self._shared[shared_key] = _Shared(model, 1)
        log.info("loaded %s on %s (n_ctx=%d, threads=%d, parallel=%d) in %.2fs", record.short, engine.name, n_ctx,
                 n_threads, self.num_parallel, seconds)
        return LoadedModel(record, model, engine, n_ctx, n_threads, seconds, self.num_parallel)

    def _make_room(self) -> None:
        """Unload the least recently used idle models until one more engine model fits the bound."""
        while True:
            with self._guard:
                if len(self._shared) < self.max_loaded:
                    return
                idle = sorted((m for m in self._models.values() if m.active == 0), key=lambda m: m.used)
            if not idle:
                log.warning("%d models are loaded and busy; loading one more (OLLAMA_MAX_LOADED_MODELS=%d)",
                            len(self._shared), self.max_loaded)
                return
            victim = idle[0]
            key = victim.record.name.key
            lock = self._load_lock(key)
            if not lock.acquire(timeout=5):
                return
            try:
                if self._models.get(key) is victim and victim.active == 0:
                    log.info("unloading %s to stay within %d loaded models", victim.record.short, self.max_loaded)
                    self._unload_key(key)
                else:
                    continue
            finally:
                lock.release()

    def _release_shared(self, model: EngineModel) -> None:
        """One user fewer of ``model``; the last one unloads it (its runner stopped, its memory returned)."""
        with self._guard:
            found = next(((k, s) for k, s in self._shared.items() if s.model is model), None)
            if found is None:
                last = True
            else:
                found[1].users -= 1
                last = found[1].users <= 0
                if last:
                    self._shared.pop(found[0], None)
        if last:
            model.close()  # waits for an in-flight generation

    def _discard(self, key: tuple[str, str, str, str], lm: LoadedModel) -> None:
        """Drop a model whose runner died (its requests have failed already); the next request loads it again."""
        with self._guard:
            if self._models.get(key) is lm:
                self._models.pop(key, None)
        log.warning("the runner of %s died; it loads again on the next request", lm.record.short)
        self._release_shared(lm.model)

    def _unload_key(self, key: tuple[str, str, str, str], timeout: float | None = None) -> None:
        """Unload once no request uses the model (callers hold the key's load lock, so none can start)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._guard:
            lm = self._models.get(key)
            if lm is None:
                return
            while lm.active > 0 and lm.model.alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    log.warning("unloading %s while %d request(s) still use it", lm.record.short, lm.active)
                    break
                self._idle.wait(left if left is not None else 1.0)
            self._models.pop(key, None)
        self._release_shared(lm.model)
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
                dead = [(k, m) for k, m in self._models.items() if m.active == 0 and not m.model.alive()]
            for key in due:
                with self._load_lock(key):
                    lm = self._models.get(key)
                    if lm is not None and lm.active == 0 and lm.expires_at <= time.time():
                        self._unload_key(key)
            for key, lm in dead:
                with self._load_lock(key):
                    if self._models.get(key) is lm and lm.active == 0:
                        self._discard(key, lm)
