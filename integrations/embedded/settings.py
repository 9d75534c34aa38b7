"""`EmbeddedSettings`: everything the embedded server takes from the environment, read in one place.

Precedence, highest first: explicit arguments, environment variables, a ``.env``
file in the working directory, the defaults below. Our own variables carry the
``OLLAMA_INTEGRATIONS_`` prefix of `integrations.settings.OllamaSettings`; the
server also honours the variables Ollama's own server reads (``OLLAMA_ORIGINS``,
``OLLAMA_KEEP_ALIVE``) and those of the tools whose behaviour it mirrors
(``XDG_CACHE_HOME``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``), interpreted as they do.
Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.errors import ConfigError
from integrations.settings import ENV_PREFIX, env_name

__all__ = [
    "DEFAULT_HF_ENDPOINT",
    "DEFAULT_MAX_LOADED_MODELS",
    "EmbeddedSettings",
    "child_environment",
    "embedded_settings",
]

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
DEFAULT_MAX_LOADED_MODELS = 3
"""Ollama's default for ``OLLAMA_MAX_LOADED_MODELS`` without GPUs."""
_TRUE_WORDS = ("1", "true", "yes", "on")  # what huggingface_hub takes as "set"


class EmbeddedSettings(BaseSettings):
    """The embedded server's configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    engine: Literal["auto", "xllamacpp", "llama-cpp"] = Field(
        "auto",
        description="The llama.cpp engine: 'xllamacpp' (prebuilt, the 'embedded' extra), 'llama-cpp' "
        "(llama-cpp-python, compiled, the 'llama-cpp' extra), or 'auto': xllamacpp where the CPU has AVX2, "
        "else llama-cpp-python when installed.",
    )
    num_parallel: int = Field(
        1,
        ge=1,
        le=64,
        validation_alias="OLLAMA_NUM_PARALLEL",
        description="Requests each loaded model serves at once, batched together (Ollama's OLLAMA_NUM_PARALLEL).",
    )
    max_loaded_models: int = Field(
        0,
        ge=0,
        le=1024,
        validation_alias="OLLAMA_MAX_LOADED_MODELS",
        description="Models loaded at once, the least recently used unloaded first; 0 means 3, "
        "Ollama's default on CPU (OLLAMA_MAX_LOADED_MODELS).",
    )
    threads: int | None = Field(
        None, gt=0, le=1024, description="llama.cpp threads per model; unset means half the CPUs."
    )
    models_dir: Path | None = Field(
        None, description="Where pulled models live; unset means <cache home>/ollama-integrations/models."
    )
    cache_home: Path | None = Field(
        None, validation_alias="XDG_CACHE_HOME", description="The user's cache directory; unset means ~/.cache."
    )
    origins: str = Field(
        "",
        validation_alias="OLLAMA_ORIGINS",
        description="Browser origins allowed beyond Ollama's defaults, comma-separated (wildcards allowed).",
    )
    keep_alive: str = Field(
        "",
        validation_alias="OLLAMA_KEEP_ALIVE",
        description="How long an idle model stays loaded, as Ollama reads it: '5m', '1h', '-1' (forever), seconds.",
    )
    prompt_cache_slots: int | None = Field(
        None,
        ge=0,
        le=1024,
        description="Conversations whose evaluated prompts stay cached per model; 0 turns the cache off.",
    )
    hf_endpoint: str = Field(
        "", validation_alias="HF_ENDPOINT", description="A Hugging Face mirror to pull GGUF files from."
    )
    hf_offline: str = Field(
        "", validation_alias="HF_HUB_OFFLINE", description="1, true, yes or on: never pull from Hugging Face."
    )
    test_model: str | None = Field(
        None, description="The model the pytest plugin's fixtures use instead of smollm2:135m (--ollama-model wins)."
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "settings"
                name = env_name(field, type(self)) if field in type(self).model_fields else field
                problems.append(f"{name} = {error.get('input')!r}: {error['msg']}")
            raise ConfigError("invalid embedded server settings: " + "; ".join(problems)) from exc

    def thread_count(self) -> int:
        """``threads``, else half the CPUs (roughly the physical cores).

        Using every logical CPU is ~30% faster on an idle 2-CPU machine but many
        times slower when anything else runs (llama.cpp's threads spin on barriers),
        and tests always run a client next to the server.
        """
        return self.threads if self.threads is not None else max(1, (os.cpu_count() or 1) // 2)

    def loaded_models_limit(self) -> int:
        """``OLLAMA_MAX_LOADED_MODELS``, with Ollama's CPU default of 3 for 0."""
        return self.max_loaded_models or DEFAULT_MAX_LOADED_MODELS

    def cache_dir(self) -> Path:
        """This package's cache directory: ``<cache home>/ollama-integrations``."""
        home = self.cache_home.expanduser() if self.cache_home else Path.home() / ".cache"
        return home / "ollama-integrations"

    def models_path(self) -> Path:
        """``models_dir``, else ``<cache home>/ollama-integrations/models``."""
        return self.models_dir.expanduser() if self.models_dir else self.cache_dir() / "models"

    def allowed_origins(self) -> tuple[str, ...]:
        """``OLLAMA_ORIGINS`` split as Ollama splits it: on commas, blanks dropped."""
        return tuple(part.strip() for part in self.origins.split(",") if part.strip())

    def huggingface(self) -> str | None:
        """The Hugging Face endpoint to pull from, or None when ``HF_HUB_OFFLINE`` says so."""
        if self.hf_offline.strip().lower() in _TRUE_WORDS:
            return None
        return self.hf_endpoint.strip() or DEFAULT_HF_ENDPOINT


def child_environment(extra: dict[str, str], *, path_first: str | None = None) -> dict[str, str]:
    """The environment for a child process (a model's runner): this one's, plus ``extra``, with
    ``path_first`` put at the front of ``PYTHONPATH``."""
    env = dict(os.environ)
    env.update(extra)
    if path_first:
        env["PYTHONPATH"] = path_first + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def embedded_settings() -> EmbeddedSettings:
    """The settings as the environment holds them now (read on each call: tests and shells change them)."""
    return EmbeddedSettings()
