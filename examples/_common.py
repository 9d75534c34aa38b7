"""Shared command-line plumbing of the examples: the common flags, the settings, the work directory.

Not an example itself (the leading underscore keeps it out of ``ollama-integrations run --list``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from integrations import OllamaSettings


def parser(doc: str | None, *, default_model: str | None = None, max_turns: int = 6) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the flags every example takes.

    Settings flags default to ``None`` so that unset ones fall back to the
    environment, ``.env``, the profile and the library defaults, in that order.
    """
    summary = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=summary, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_help = "Ollama model name"
    if default_model:
        model_help += f" (default: {default_model}, unless OLLAMA_INTEGRATIONS_MODEL or the profile sets one)"
    p.add_argument("--model", help=model_help)
    p.add_argument("--host", help="Ollama server URL(s), comma-separated for failover (default: OLLAMA_HOST)")
    p.add_argument("--profile", help="settings profile name or .toml path (see configs/)")
    p.add_argument("--max-tokens", type=int, help="cap on generated tokens per reply")
    p.add_argument("--seed", type=int, help="sampling seed, for reproducible runs")
    p.add_argument("--temperature", type=float, help="sampling temperature")
    p.add_argument("--pull", action="store_true", default=None, help="pull the model when the server lacks it")
    p.add_argument("--max-turns", type=int, default=max_turns, help=f"bound on agent turns (default: {max_turns})")
    p.add_argument("--work-dir", type=Path, help="where outputs go (default: a new ./coding/<example>-<timestamp>)")
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="run model-written code even where this system cannot confine it (no question asked)",
    )
    return p


def settings_from(args: argparse.Namespace, *, default_model: str | None = None) -> OllamaSettings:
    """`OllamaSettings` from the flags; the example's own default model only when nothing else names one."""
    given: dict[str, Any] = {
        "model": args.model,
        "host": args.host,
        "profile": args.profile,
        "max_tokens": args.max_tokens,
        "seed": args.seed,
        "temperature": args.temperature,
        "pull": args.pull,
    }
    settings = OllamaSettings(**{k: v for k, v in given.items() if v is not None})
    if default_model and "model" not in settings.model_fields_set:
        settings = settings.merged(model=default_model)
    return settings


def work_dir(chosen: Path | None, example: str) -> Path:
    """The run's output directory, created; a fresh timestamped one under ``./coding`` by default."""
    if chosen is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        chosen = Path.cwd() / "coding" / f"{example}-{stamp}"
    chosen = chosen.expanduser().resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


def new_files(directory: Path, before: set[Path]) -> list[Path]:
    """Files under ``directory`` that were not in ``before`` (a snapshot from `snapshot`)."""
    return sorted(p for p in snapshot(directory) - before)


def snapshot(directory: Path) -> set[Path]:
    """The files under ``directory``, without the sandbox's HOME and TMPDIR (caches, not outputs)."""
    scratch = {".home", ".tmp"}
    return {p for p in directory.rglob("*") if p.is_file() and p.relative_to(directory).parts[0] not in scratch}


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path | None) -> bool:
    """True when ``path`` is a file starting with the PNG signature."""
    if path is None or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE


def confirm_code_execution(work_dir: Path, timeout: float, *, yes: bool, label: str) -> bool:
    """Say what confines model-written code on this system; where it is not confined, ask first.

    Returns False when the user declines, or when there is no terminal to ask and ``--yes`` was not given.
    """
    from integrations.sandbox import confinement

    found = confinement()
    print(f"[{label}] {found.describe(work_dir, timeout)}")
    if found.complete:
        return True
    if yes:
        print(f"[{label}] --yes: running it anyway.")
        return True
    if not sys.stdin.isatty():
        print(
            f"[{label}] not running model-written code unconfined without asking (no terminal); add --yes to accept",
            file=sys.stderr,
        )
        return False
    answer = input(f"[{label}] Run model-written code without this confinement? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


F = TypeVar("F", bound=Callable[..., Any])


def resolved_annotations(function: F) -> F:
    """Replace ``function``'s string annotations with the types they name, in place.

    With ``from __future__ import annotations`` annotations are strings. AG2 evaluates
    them in the namespace of its own wrapper, where names such as ``Annotated`` or a
    ``Literal`` alias are unknown, so the tool schema would fail to build.
    """
    function.__annotations__ = typing.get_type_hints(function, include_extras=True)
    return function
