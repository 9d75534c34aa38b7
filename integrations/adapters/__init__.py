"""Framework adapters: one module per framework, each a set of plain factory functions.

Every factory has the same shape (``model``, ``settings``, ``check``, ``pull``,
``requires``, ``**overrides``), starts with `integrations._target.prepare`, and
returns the framework's own type. A framework is imported inside its adapter
module, on first use, never here.
"""

from __future__ import annotations

__all__: list[str] = []
