"""The one table of known model families, used when a server cannot be asked.

When the factories check a model they use what the server reports (``/api/show``
``capabilities``, Ollama 0.6.4 and newer). Without a check, or on an older server,
they fall back to this table, matched on the model's base name by longest prefix,
and otherwise assume the conservative ``completion`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.names import parse_model_name

__all__ = ["KNOWN_FAMILIES", "FamilyTraits", "is_known", "known_capabilities", "traits_for"]


@dataclass(frozen=True)
class FamilyTraits:
    """What a model family can do, and the AutoGen AgentChat family name for it."""

    capabilities: frozenset[str]
    agentchat_family: str = "unknown"


def _traits(*capabilities: str, family: str = "unknown") -> FamilyTraits:
    return FamilyTraits(frozenset(("completion", *capabilities)), family)


KNOWN_FAMILIES: dict[str, FamilyTraits] = {
    "llama2": _traits(),
    "codellama": _traits(),
    "llama3": _traits(),
    "llama3.1": _traits("tools"),
    "llama3.2": _traits("tools"),
    "llama3.2-vision": _traits("vision"),
    "llama3.3": _traits("tools", family="llama-3.3-70b"),
    "llama4": _traits("tools", "vision", family="llama-4-scout"),
    "mistral": _traits("tools", family="mistral"),
    "mistral-nemo": _traits("tools", family="mistral"),
    "mixtral": _traits("tools", family="mistral"),
    "codestral": _traits(family="codestral"),
    "qwen2": _traits("tools"),
    "qwen2.5": _traits("tools"),
    "qwen2.5-coder": _traits("tools"),
    "qwen3": _traits("tools", "thinking"),
    "qwen3-coder": _traits("tools"),
    "qwq": _traits("tools", "thinking"),
    "deepseek-r1": _traits("tools", "thinking", family="r1"),
    "gpt-oss": _traits("tools", "thinking"),
    "gemma2": _traits(),
    "gemma3": _traits("vision"),
    "phi3": _traits(),
    "phi4": _traits(),
    "phi4-mini": _traits("tools"),
    "granite3.3": _traits("tools"),
    "smollm2": _traits("tools"),
    "llava": _traits("vision"),
    "moondream": _traits("vision"),
    "nomic-embed-text": FamilyTraits(frozenset({"embedding"})),
    "mxbai-embed-large": FamilyTraits(frozenset({"embedding"})),
    "all-minilm": FamilyTraits(frozenset({"embedding"})),
    "bge-m3": FamilyTraits(frozenset({"embedding"})),
}
"""Base model name -> traits. Sources: the tags on ollama.com/library for each model."""

_CONSERVATIVE = FamilyTraits(frozenset({"completion"}))


def traits_for(name: str) -> FamilyTraits:
    """Traits of ``name`` by exact base name, else longest known prefix, else conservative.

    >>> sorted(traits_for("qwen2.5-coder:7b").capabilities)
    ['completion', 'tools']
    >>> sorted(traits_for("my-own-model").capabilities)
    ['completion']
    >>> traits_for("deepseek-r1:8b").agentchat_family
    'r1'
    """
    base = parse_model_name(name).model.lower()
    if base in KNOWN_FAMILIES:
        return KNOWN_FAMILIES[base]
    matches = [key for key in KNOWN_FAMILIES if base.startswith(key)]
    return KNOWN_FAMILIES[max(matches, key=len)] if matches else _CONSERVATIVE


def is_known(name: str) -> bool:
    """Whether the table has an entry for ``name``'s family (exactly or by prefix)."""
    base = parse_model_name(name).model.lower()
    return any(base.startswith(key) for key in KNOWN_FAMILIES)


def known_capabilities(name: str) -> frozenset[str]:
    """Capabilities from the table (see `traits_for`)."""
    return traits_for(name).capabilities
