"""The one import guard for optional extras: every "install the extra" message comes from here."""

from __future__ import annotations

import importlib
from types import ModuleType

from integrations.errors import MissingDependency

__all__ = ["EXTRAS", "require", "require_installed"]

EXTRAS: dict[str, frozenset[str]] = {
    "autogen": frozenset({"autogen", "fix_busted_json"}),
    "agentchat": frozenset({"autogen_agentchat", "autogen_core", "autogen_ext"}),
    "langchain": frozenset({"langchain_openai", "langchain_core"}),
    "embedded": frozenset({"xllamacpp", "jinja2", "starlette", "uvicorn", "numpy"}),
    "llama-cpp": frozenset({"llama_cpp"}),
    "examples": frozenset({"matplotlib", "yfinance"}),
    "gateway": frozenset({"litellm", "yaml", "fastapi", "uvicorn", "backoff", "orjson", "apscheduler"}),
    "ray": frozenset({"ray"}),
}
"""Extra -> the top-level modules it installs (as in pyproject.toml), to tell "not installed" from "broken"."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise `MissingDependency` naming the extra that provides what is missing.

    ``module`` may be one of ours that imports the extra's packages (``integrations.embedded.server``):
    a missing package of ``extra`` is reported as such, any other ImportError propagates unchanged.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or module).split(".")[0]
        if missing != module.split(".")[0] and missing not in EXTRAS.get(extra, frozenset()):
            raise  # the extra is installed but broken: show the real error
        raise MissingDependency(missing, extra) from exc


def require_installed(module: str, extra: str) -> None:
    """Raise `MissingDependency` unless ``module`` could be imported, without importing it.

    For what runs in a child process (the LiteLLM proxy): importing it here would only cost time.
    Only the top-level package is looked up (finding a submodule would import its parents).
    """
    import importlib.util

    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        raise MissingDependency(top, extra)
