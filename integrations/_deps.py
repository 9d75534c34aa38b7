"""The one import guard for optional extras."""

from __future__ import annotations

import importlib
from types import ModuleType

from integrations.errors import MissingDependency

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise `MissingDependency` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        if missing.split(".")[0] != module.split(".")[0]:
            raise  # the extra is installed but broken: show the real error
        raise MissingDependency(module, extra) from exc
