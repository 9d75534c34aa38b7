"""Ollama model names: validation and the comparison Ollama itself uses.

A name is ``[host/][namespace/]model[:tag]``. ``llama2``, ``llama2:latest`` and
``registry.ollama.ai/library/llama2:latest`` are one model, and matching ignores
case. Listings show the shortest form, which always carries the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.errors import ConfigError

__all__ = ["ModelName", "display_name", "parse_model_name", "same_model"]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")


@dataclass(frozen=True)
class ModelName:
    """A parsed model name with Ollama's defaults filled in."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The case-insensitive identity Ollama compares names by."""
        return (self.host.lower(), self.namespace.lower(), self.model.lower(), self.tag.lower())

    @property
    def short(self) -> str:
        """The shortest display form, as ``ollama list`` prints it.

        >>> parse_model_name("llama2").short
        'llama2:latest'
        >>> parse_model_name("registry.ollama.ai/library/qwen2.5:7b").short
        'qwen2.5:7b'
        >>> parse_model_name("hf.co/org/repo:Q4_K_M").short
        'hf.co/org/repo:Q4_K_M'
        """
        prefix = ""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        return f"{prefix}{self.model}:{self.tag}"

    def with_tag(self, tag: str) -> ModelName:
        return ModelName(self.host, self.namespace, self.model, tag)


def parse_model_name(name: str) -> ModelName:
    """Parse ``name`` as Ollama does, or raise `ConfigError` naming what is wrong.

    >>> parse_model_name("llama3.2")
    ModelName(host='registry.ollama.ai', namespace='library', model='llama3.2', tag='latest')
    >>> parse_model_name("user/m:tag").namespace
    'user'
    >>> parse_model_name("localhost:5000/ns/m").host
    'localhost:5000'
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("model name is empty: pass a model such as 'llama3.2' or 'smollm2:135m'")
    raw = name
    parts = name.split("/")
    last = parts[-1]
    tag = DEFAULT_TAG
    if ":" in last:
        last, tag = last.rsplit(":", 1)
    if len(parts) == 1:
        host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    elif len(parts) == 2:
        host, namespace = DEFAULT_HOST, parts[0]
    elif len(parts) == 3:
        host, namespace = parts[0], parts[1]
    else:
        raise _invalid(raw, "too many '/' (expected [host/][namespace/]model[:tag])")
    checks = ((host, _HOST, "host"), (namespace, _NAMESPACE, "namespace"), (last, _PART, "model"), (tag, _PART, "tag"))
    for value, pattern, what in checks:
        if not pattern.fullmatch(value):
            reason = "is empty" if not value else "has characters Ollama does not allow"
            raise _invalid(raw, f"its {what} part {value!r} {reason}")
    return ModelName(host, namespace, last, tag)


def _invalid(raw: str, reason: str) -> ConfigError:
    return ConfigError(
        f"invalid model name {raw!r}: {reason}; names look like 'llama3.2', 'qwen2.5-coder:7b' or 'user/model:tag'"
    )


def same_model(a: str, b: str) -> bool:
    """Whether two names denote the same model, as Ollama compares them.

    >>> same_model("llama2", "llama2:latest")
    True
    >>> same_model("Llama2:Latest", "registry.ollama.ai/library/llama2")
    True
    >>> same_model("llama2", "llama2:7b")
    False
    """
    return parse_model_name(a).key == parse_model_name(b).key


def display_name(name: str) -> str:
    """The shortest display form of ``name`` (always with a tag)."""
    return parse_model_name(name).short
