"""Finding and running the bundled examples (``ollama-integrations run``).

Examples are plain scripts in ``examples/`` (shipped inside the wheel as
``integrations/examples``), each with a ``main(argv) -> int``. Names on the
command line use dashes: ``nvda-tsla`` is ``examples/nvda_tsla.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integrations.embedded.settings import embedded_settings
from integrations.errors import ConfigError

__all__ = ["Example", "examples_dir", "find_examples", "load_example"]

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    """A bundled example: its CLI name, file and one-line summary."""

    name: str
    path: Path
    summary: str
    needs: str = "python"
    embedded_model: str | None = None  # the model ``run --embedded`` uses for it, when it names one


def examples_dir() -> Path:
    """The examples shipped in the wheel, else the checkout's ``examples/``."""
    for candidate in (_PACKAGE_DIR / "examples", _PACKAGE_DIR.parent / "examples"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the bundled examples are missing from this installation; reinstall ollama-integrations")


def find_examples() -> dict[str, Example]:
    """CLI name -> example, in alphabetical order."""
    root = examples_dir()
    found: dict[str, Example] = {}
    for path in sorted(root.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = path.stem.replace("_", "-")
        found[name] = Example(name, path, _summary(path), embedded_model=_embedded_model(path))
    js = root / "js"
    for path in sorted(js.glob("*.mjs")) if js.is_dir() else []:
        name = f"js/{path.stem}"
        found[name] = Example(name, path, _js_summary(path), needs="node")
    return found


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _embedded_model(path: Path) -> str | None:
    """The string assigned to a top-level ``EMBEDDED_MODEL`` in the example, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "EMBEDDED_MODEL" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def _js_summary(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip().lstrip("/*").strip()
        if text:
            return text
    return ""


def resolve_example(name: str) -> Example:
    """Look an example up by its CLI name (``nvda-tsla``) or file stem (``nvda_tsla``)."""
    examples = find_examples()
    key = name.removesuffix(".py").replace("_", "-") if not name.startswith("js/") else name.removesuffix(".mjs")
    if key in examples:
        return examples[key]
    raise ConfigError(f"unknown example {name!r}; available: {', '.join(examples)} ('ollama-integrations run --list')")


def node_project(folder: Path) -> Path:
    """A writable copy of a Node example folder: itself in a checkout, a cache copy when installed.

    ``npm ci`` writes ``node_modules`` beside ``package.json``; site-packages may be read-only.
    """
    if os.access(folder, os.W_OK) and _PACKAGE_DIR / "examples" not in folder.parents:
        return folder
    cache = embedded_settings().cache_dir() / "js"
    cache.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        if item.is_file():
            shutil.copy2(item, cache / item.name)
    return cache


def load_example(example: Example) -> Callable[[list[str] | None], int]:
    """Import the example's file and return its ``main``."""
    folder = str(example.path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # examples share helpers such as _common.py beside them
    module_name = f"_ollama_integrations_example_{example.path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, example.path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load example {example.path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    main: Callable[[list[str] | None], int] = module.main
    return main
