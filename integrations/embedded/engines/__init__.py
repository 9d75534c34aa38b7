"""The engine interface: what the server core needs from llama.cpp, and no more.

An `Engine` loads a GGUF file into an `EngineModel`, which renders the model's
chat template, tokenizes, generates a stream (sampling, stop strings, a grammar,
log-probabilities), embeds, keeps prompts cached per conversation, and unloads.
Everything above it (the Ollama protocol layer: native, ``/v1``, Responses,
Messages, tool-call tags, schema bounding) is one path over this interface.

Two implementations:

* ``xllamacpp`` (`integrations.embedded.engines.xllama`): the prebuilt llama.cpp
  of the ``xllamacpp`` wheel, run in one runner process per loaded model, so a
  model that crashes llama.cpp fails only its own requests.
* ``llama-cpp`` (`integrations.embedded.engines.llamacpp`): ``llama-cpp-python``,
  compiled on install, in the server's process; its build uses every instruction
  set the CPU has (faster prompt reading where there is more than AVX2).

`select_engine` reads the ``engine`` setting: ``auto`` takes the prebuilt engine
when the CPU has AVX2 (its wheel is built for AVX2 and dies with SIGILL without
it) and falls back to ``llama-cpp-python`` when that is installed.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.embedded.protocol import Options
from integrations.errors import ConfigError, MissingDependency

__all__ = [
    "ENGINES",
    "CacheStats",
    "Emit",
    "Engine",
    "EngineModel",
    "GenerationResult",
    "LoadSpec",
    "cpu_has_avx2",
    "get_engine",
    "resolve_engine",
    "select_engine",
]

ENGINES = ("xllamacpp", "llama-cpp")
"""The engine names the ``engine`` setting takes besides ``auto``."""

EXTRA_OF = {"xllamacpp": "embedded", "llama-cpp": "llama-cpp"}
"""The pip extra that installs each engine."""

MODULE_OF = {"xllamacpp": "xllamacpp", "llama-cpp": "llama_cpp"}


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


Emit = Callable[[str, list[dict[str, Any]]], None]
"""Receives each text piece with the log-probabilities of the tokens that produced it."""


@dataclass(frozen=True)
class LoadSpec:
    """How to load a model."""

    path: Path
    n_ctx: int
    """Context per slot (one conversation's window)."""
    n_threads: int
    n_parallel: int = 1
    """Slots: requests generated at once, batched together."""
    cache_budget: int = 0
    """Bytes of saved prompt states kept for conversations that left their slot (0: none)."""
    kv_bytes: int = 0
    """The KV cache of one slot, in bytes (an estimate from the metadata)."""


class CacheStats(ABC):
    """What ``/api/ps`` reports about a model's prompt cache."""

    budget: int

    @property
    @abstractmethod
    def size(self) -> int: ...

    @abstractmethod
    def __len__(self) -> int: ...


class EngineModel(ABC):
    """One loaded model."""

    n_ctx: int
    """Context per slot."""
    n_vocab: int
    bos_text: str
    eos_text: str
    cache: CacheStats
    lock: threading.Lock
    """Held while the model computes; a model that batches requests holds it only to change state."""

    @abstractmethod
    def render(self, template: str | None, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        """``template`` (the GGUF's ``tokenizer.chat_template``) applied to ``turns`` with a generation prompt."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Tokens of ``text``, special tokens parsed, BOS added unless the text starts with it."""

    @abstractmethod
    def generate(
        self,
        prompt_tokens: list[int],
        opts: Options,
        grammar: str | None,
        emit: Emit | None,
        cancel: threading.Event | None = None,
        logprobs: int | None = None,
    ) -> GenerationResult:
        """Sample until end of generation, a stop string, the token budget or ``cancel``."""

    @abstractmethod
    def embed(self, texts: Sequence[str], truncate: bool) -> tuple[list[list[float]], int]:
        """L2-normalised mean-pooled embeddings of ``texts``, and the tokens read."""

    @abstractmethod
    def close(self) -> None:
        """Unload, returning the memory (waits for work in flight)."""

    def alive(self) -> bool:
        """False once the model's process has died (the runtime then drops it)."""
        return True


class Engine(ABC):
    """Loads models; converts JSON schemas to the grammar dialect its llama.cpp reads."""

    name: str

    @abstractmethod
    def load(self, spec: LoadSpec) -> EngineModel: ...

    @abstractmethod
    def schema_grammar(self, schema: dict[str, Any] | None) -> str:
        """A grammar for a bounded JSON schema (None: any JSON value)."""


def cpu_has_avx2(cpuinfo: str | None = None) -> bool | None:
    """Whether the CPU has AVX2, from ``/proc/cpuinfo``'s ``flags`` (Linux); None where that cannot be read.

    ``cpuinfo`` is the file's text (for tests). Every core must list the flag.
    """
    if cpuinfo is None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return None
    seen = False
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            seen = True
            if "avx2" not in value.split():
                return False
    return True if seen else None


def _installed(name: str) -> bool:
    module = MODULE_OF[name]
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked (as tests and some sandboxes do)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve_engine(setting: str, *, avx2: bool | None = None, installed: Callable[[str], bool] = _installed) -> str:
    """The engine ``setting`` (``auto`` or an engine name) stands for on this machine, or a clear error.

    ``auto``: the prebuilt engine where the CPU can run it (AVX2 on x86; ARM and other
    platforms run their own wheel's build), else ``llama-cpp-python`` when installed.
    """
    if avx2 is None:
        avx2 = cpu_has_avx2()
    x86 = _is_x86()
    can_run_prebuilt = avx2 is not False or not x86
    if setting == "auto":
        if can_run_prebuilt and installed("xllamacpp"):
            return "xllamacpp"
        if installed("llama-cpp"):
            return "llama-cpp"
        if not can_run_prebuilt:
            raise MissingDependency("llama_cpp", "llama-cpp") from None
        raise MissingDependency("xllamacpp", "embedded") from None
    if setting not in ENGINES:
        raise ConfigError(f"unknown engine {setting!r}: use 'auto', " + " or ".join(repr(e) for e in ENGINES))
    if setting == "xllamacpp" and not can_run_prebuilt:
        raise ConfigError(
            "engine 'xllamacpp' needs a CPU with AVX2, which this one lacks; use engine 'llama-cpp' "
            "(pip install 'ollama-integrations[llama-cpp]') or 'auto'"
        )
    if not installed(setting):
        raise MissingDependency(MODULE_OF[setting], EXTRA_OF[setting])
    return setting


def _is_x86() -> bool:
    import platform

    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str) -> Engine:
    """The engine named ``name`` (``xllamacpp`` or ``llama-cpp``), created once per process."""
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None:
            if name == "llama-cpp":
                from integrations.embedded.engines.llamacpp import LlamaCppEngine

                engine = LlamaCppEngine()
            elif name == "xllamacpp":
                from integrations.embedded.engines.xllama import XLlamaEngine

                engine = XLlamaEngine()
            else:
                raise ConfigError(f"unknown engine {name!r}")
            _engines[name] = engine
        return engine


def select_engine(setting: str | None = None) -> Engine:
    """The engine for ``setting`` (default: the ``engine`` setting of `EmbeddedSettings`)."""
    if setting is None:
        from integrations.embedded.settings import embedded_settings

        setting = embedded_settings().engine
    return get_engine(resolve_engine(setting))
