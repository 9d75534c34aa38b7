"""Wire-level helpers shared by the native and OpenAI routes.

Everything here is pure (no llama.cpp, no HTTP framework) so it can be unit
tested: the error type handlers raise, Go-duration parsing for ``keep_alive``,
Ollama's timestamp formats, the ``%-30s %#v`` parameter listing, and the
validation of ``options``.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from integrations.embedded.settings import embedded_settings

__all__ = [
    "DEFAULT_KEEP_ALIVE",
    "FOREVER",
    "MAX_STOP",
    "MAX_STOP_LENGTH",
    "OPTION_TYPES",
    "ApiError",
    "Options",
    "format_parameters",
    "local_time",
    "max_threads",
    "parse_go_duration",
    "parse_keep_alive",
    "parse_options",
    "replace_lone_surrogates",
    "utc_now",
]


class ApiError(Exception):
    """An error a handler turns into ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


FOREVER = math.inf
"""A keep-alive that never expires (any negative duration)."""

DEFAULT_KEEP_ALIVE = 300.0

_UNITS = {
    "ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")


def parse_go_duration(text: str) -> float:
    """Parse a Go ``time.ParseDuration`` string into seconds, with Go's error messages.

    >>> parse_go_duration("1h30m")
    5400.0
    >>> parse_go_duration("-1m")
    -60.0
    """
    quoted = json.dumps(text)
    s = text
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise ValueError(f"time: invalid duration {quoted}")
        number, unit = m.group(1), m.group(2)
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {json.dumps(unit)} in duration {quoted}")
        total += float(number) * _UNITS[unit]
        pos = m.end()
    return sign * total


def _env_keep_alive() -> float:
    raw = embedded_settings().keep_alive.strip()
    if not raw:
        return DEFAULT_KEEP_ALIVE
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parse_go_duration(raw)
        except ValueError:
            return DEFAULT_KEEP_ALIVE
    return FOREVER if seconds < 0 else seconds


def parse_keep_alive(value: Any) -> float:
    """``keep_alive`` as seconds: numbers are seconds, strings Go durations, negative means forever.

    Raises `ApiError` 400 with Go's message for strings without a unit (``"300"``).
    """
    if value is None:
        return _env_keep_alive()
    if isinstance(value, bool):
        raise ApiError(400, "json: cannot unmarshal bool into Go value of type api.Duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    else:
        raise ApiError(400, f"json: cannot unmarshal {type(value).__name__} into Go value of type api.Duration")
    if math.isnan(seconds):
        raise ApiError(400, "invalid keep_alive")
    return FOREVER if seconds < 0 else seconds


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(value: Any) -> Any:
    """``value`` with unpaired UTF-16 surrogates (``"\\ud800"`` in JSON) replaced by U+FFFD, as Go's JSON decoder
    does; Python keeps them, and they cannot be encoded as UTF-8 for the model or the response."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    return value


def utc_now() -> str:
    """``created_at``: RFC 3339 in UTC with a ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def local_time(epoch: float) -> str:
    """File times and ``expires_at``: RFC 3339 with the local offset, as Ollama writes them."""
    if epoch == FOREVER or epoch > 253402300799:  # beyond year 9999: Ollama shows ~292 years ahead
        epoch = time.time() + 292 * 365.25 * 86400
        epoch = min(epoch, 253402300799.0)
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="microseconds")


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def format_parameters(params: dict[str, Any]) -> str:
    """`/api/show` ``parameters``: Go's ``%-30s %#v`` per value, one line per list element."""
    lines: list[str] = []
    for key in sorted(params):
        value = params[key]
        values = value if isinstance(value, list) else [value]
        for item in values:
            lines.append(f"{key:<30} {_go_value(item)}")
    return "\n".join(lines)


# The options this server understands, by Go type, as Ollama validates them.
OPTION_TYPES: dict[str, str] = {
    "num_ctx": "integer", "num_predict": "integer", "num_keep": "integer", "seed": "integer",
    "top_k": "integer", "repeat_last_n": "integer", "num_thread": "integer", "num_batch": "integer",
    "num_gpu": "integer", "mirostat": "integer",
    "temperature": "float", "top_p": "float", "min_p": "float", "typical_p": "float",
    "repeat_penalty": "float", "presence_penalty": "float", "frequency_penalty": "float",
    "mirostat_tau": "float", "mirostat_eta": "float",
    "stop": "[]string", "penalize_newline": "bool", "numa": "bool", "use_mmap": "bool",
    "low_vram": "bool", "f16_kv": "bool", "vocab_only": "bool", "use_mlock": "bool",
}


@dataclass
class Options:
    """Sampling and load options after merging model parameters and request options."""

    num_ctx: int | None = None
    num_predict: int = -1
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    num_thread: int | None = None


MAX_STOP = 64
"""Stop strings per request: each is searched for after every token."""

MAX_STOP_LENGTH = 1024
"""Characters per stop string."""

_INT_RANGE = (-(2**63), 2**63 - 1)  # Go's int, which Ollama decodes options into


def _check_type(key: str, value: Any) -> Any:
    kind = OPTION_TYPES.get(key)
    if kind is None:
        return value
    ok: bool
    if kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
        value = int(value) if ok else value
        if ok and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ApiError(400, f'option "{key}": {value} is out of range for a 64-bit integer')
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):  # Python's JSON reader accepts NaN and Infinity; Go's does not
            raise ApiError(400, f'option "{key}" must be a finite number, got {value}')
    elif kind == "bool":
        ok = isinstance(value, bool)
    else:
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if ok and len(value) > MAX_STOP:
            raise ApiError(400, f'option "{key}" has {len(value)} strings, the limit is {MAX_STOP}')
        if ok and any(len(v) > MAX_STOP_LENGTH for v in value):
            longest = max(len(v) for v in value)
            raise ApiError(400, f'option "{key}" has a string of {longest} characters, the limit is {MAX_STOP_LENGTH}')
    if not ok:
        raise ApiError(400, f'option "{key}" must be of type {kind.replace("[]string", "array")}')
    return value


def parse_options(*layers: dict[str, Any] | None) -> Options:
    """Merge option layers (later wins) into `Options`, validating types and ``num_predict``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        if not isinstance(layer, dict):
            raise ApiError(400, "options must be an object")
        for key, value in layer.items():
            if value is None:
                continue
            merged[key] = _check_type(key, value)
    opts = Options()
    for key, value in merged.items():
        if key == "stop":
            opts.stop = tuple(value)
        elif hasattr(opts, key):
            setattr(opts, key, value)
    if opts.num_predict < 0 and opts.num_predict not in (-1, -2):
        raise ApiError(400, f"num_predict must be -1 (no limit), -2 (fill the context) or >= 0, got {opts.num_predict}")
    if opts.num_ctx is not None and opts.num_ctx <= 0:
        raise ApiError(400, f"num_ctx must be a positive integer, got {opts.num_ctx}")
    if opts.num_thread is not None and opts.num_thread > max_threads():
        # More threads than CPUs only make llama.cpp's threads spin against each other: 1000 made
        # every later request 100 times slower. Lowered, not refused, since Ollama accepts any count.
        opts.num_thread = max_threads()
    return opts


def max_threads() -> int:
    """The most ``num_thread`` a request gets: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)
