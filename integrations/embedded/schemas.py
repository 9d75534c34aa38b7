"""JSON schemas for structured output: validated and bounded before llama.cpp sees them.

llama-cpp-python turns a schema into a GBNF grammar and llama.cpp parses that
grammar in C++. Some schemas make that grammar crash the process (an empty
``anyOf`` leaves a rule with no alternatives; ``maxLength: 3000`` nests 3000
optional groups, which overflows the parser's stack) or eat gigabytes
(``minItems: 10000000`` writes the item ten million times). So every schema
goes through `bounded_schema` first, which refuses with a 400 naming the field
and the value what cannot be honoured, and bounds what is legal but too large:

* Upper bounds (``maxLength``, ``maxItems``, pattern ``{m,n}``) above the caps
  are lowered to the cap. Output that satisfies the lower bound still satisfies
  the schema, and a model could not write more within its token budget anyway
  (``maxLength`` 5000 is about 1,500 tokens).
* Lower bounds (``minLength``, ``minItems``, ``minProperties``) above the caps
  are refused: lowering them would produce output that violates the schema.

`schema_to_gbnf` then converts, refuses grammars over `MAX_GRAMMAR_CHARS`, has
llama.cpp parse the grammar once without a model (a grammar it rejects is a 400,
not a null pointer inside the sampler), and memoises the text in a cache bounded
by bytes. Pure Python apart from that last step; ``llama_cpp`` loads on first use.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from integrations.embedded.protocol import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from integrations.embedded.engines import Engine

__all__ = [
    "GRAMMAR_CACHE_BYTES",
    "MAX_DEPTH",
    "MAX_GRAMMAR_CHARS",
    "MAX_ITEMS",
    "MAX_LENGTH",
    "MAX_STRING",
    "bounded_schema",
    "check_literal_name",
    "gbnf_from_schema",
    "schema_to_gbnf",
]

MAX_STRING = 64
"""Strings without a ``maxLength`` get this one, so a tiny model cannot ramble past its budget."""

MAX_LENGTH = 4096
"""``maxLength`` above this is lowered to it; ``minLength`` above it is refused.

String lengths become GBNF's flat ``char{m,n}``; llama-cpp-python writes them as
nested optional groups, and llama.cpp's parser recurses once per group (about
800 of them overflow a thread's 8 MiB stack)."""

MAX_ITEMS = 64
"""``maxItems`` and pattern repetitions above this are lowered to it; ``minItems`` above it is refused.

These stay nested groups in the grammar, so this cap is also their nesting depth."""

MAX_NESTING = 256
"""Deepest parenthesised nesting allowed in a grammar: a backstop for the parser's recursion."""

MAX_PROPERTIES = 256
"""Properties per object, and the largest ``minProperties`` accepted."""

MAX_CHOICES = 512
"""Entries in ``enum`` and alternatives in ``anyOf``/``oneOf``/``allOf``/``type``."""

MAX_DEPTH = 32
"""Nesting of schemas inside schemas (Pydantic models rarely pass 10)."""

MAX_NODES = 4096
"""Subschemas in one schema."""

MAX_PATTERN = 1024
"""Characters in a ``pattern``."""

MAX_GRAMMAR_CHARS = 256 * 1024
"""Largest grammar text handed to llama.cpp; its compiled form grows with it."""

GRAMMAR_CACHE_BYTES = 8 * 1024 * 1024
"""The grammar cache holds at most this much schema and grammar text."""

TYPES = ("string", "number", "integer", "boolean", "null", "object", "array")

ANY_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean", "null", "object", "array"]}
"""Any JSON value (the converter reads ``{}`` as any object, so this spells it out)."""

_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_UNENCODABLE = re.compile(r'["\\\x00-\x1f\x7f]')
_QUANTIFIER = re.compile(r"(?<!\\)\{(\d*)(?:(,)(\d*))?\}")


def _describe(value: Any) -> str:
    text = json.dumps(value)  # ASCII: a lone surrogate in a value must not break the error response
    return text if len(text) <= 80 else text[:77] + "..."


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_$][\w$-]*", key) else f"{path}[{json.dumps(key)}]"


def check_literal_name(value: str, where: str) -> None:
    """Refuse text the grammar must spell literally but cannot encode.

    llama-cpp-python writes names and constants into the grammar after escaping
    quotes but not backslashes, so a ``"`` breaks the grammar (a crash before
    this check) and a ``\\n`` becomes a raw newline in the output (invalid JSON).
    """
    bad = _UNENCODABLE.search(value)
    if bad:
        raise ApiError(
            400, f"{where}: {_describe(value)} contains {_describe(bad.group())}; structured output cannot spell "
            "double quotes, backslashes or control characters in names and constants, remove them",
        )


def _check_constant(value: Any, where: str) -> None:
    if isinstance(value, str):
        check_literal_name(value, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_constant(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_literal_name(key, where)
            _check_constant(item, _child(where, key))


def _count(node: dict[str, Any], key: str, where: str) -> int | None:
    """A non-negative integer keyword, or None when absent."""
    if key not in node:
        return None
    value = node[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ApiError(400, f"{_child(where, key)}: {_describe(node[key])} is not a non-negative integer")
    return value


class _Walk:
    def __init__(self) -> None:
        self.nodes = 0

    def schema(self, node: Any, where: str, depth: int) -> dict[str, Any]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ApiError(400, f"{where}: the schema has more than {MAX_NODES} subschemas; simplify it")
        if depth > MAX_DEPTH:
            raise ApiError(400, f"{where}: the schema nests deeper than {MAX_DEPTH} levels; flatten it")
        if node is True:
            return dict(ANY_VALUE)
        if not isinstance(node, dict):
            raise ApiError(400, f"{where}: {_describe(node)} is not a schema (a JSON object)")
        out: dict[str, Any] = {}
        for key, value in node.items():
            here = _child(where, key)
            if key in _SCHEMA_MAPS:
                if not isinstance(value, dict):
                    raise ApiError(400, f"{here}: {_describe(value)} is not an object of schemas")
                if key == "properties":
                    if len(value) > MAX_PROPERTIES:
                        raise ApiError(400, f"{here}: {len(value)} properties, the limit is {MAX_PROPERTIES}")
                    for name in value:
                        check_literal_name(name, f"{here} name")
                        if name == "" and key == "properties":  # the grammar builder names rules after properties
                            raise ApiError(400, f'{here}: a property named "" (the empty string) cannot be used in '
                                                "structured output; give it a name")
                out[key] = {k: self.schema(v, _child(here, k), depth + 1) for k, v in value.items()}
            elif key in _SCHEMA_LISTS:
                if not isinstance(value, list):
                    raise ApiError(400, f"{here}: {_describe(value)} is not a list of schemas")
                if not value and key in ("anyOf", "oneOf"):
                    raise ApiError(400, f"{here}: an empty list matches nothing; give at least one schema")
                if len(value) > MAX_CHOICES:
                    raise ApiError(400, f"{here}: {len(value)} schemas, the limit is {MAX_CHOICES}")
                out[key] = [self.schema(v, f"{here}[{i}]", depth + 1) for i, v in enumerate(value)]
            elif key == "items":
                if isinstance(value, list):
                    if not value:
                        raise ApiError(400, f"{here}: an empty list is not a schema; use a schema object")
                    out[key] = [self.schema(v, f"{here}[{i}]", depth + 1) for i, v in enumerate(value)]
                else:
                    out[key] = self.schema(value, here, depth + 1)
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self.schema(value, here, depth + 1)
            else:
                out[key] = value
        self._check_keywords(out, where)
        return self._bound(out, where)

    def _check_keywords(self, node: dict[str, Any], where: str) -> None:
        types = node.get("type")
        if types is not None:
            listed = types if isinstance(types, list) else [types]
            if not listed:
                raise ApiError(400, f"{where}.type: an empty list matches nothing; name at least one type")
            for t in listed:
                if t not in TYPES:
                    raise ApiError(400, f"{where}.type: unknown type {_describe(t)}; use one of {', '.join(TYPES)}")
        if "enum" in node:
            enum = node["enum"]
            if not isinstance(enum, list) or not enum:
                raise ApiError(400, f"{where}.enum: {_describe(enum)} matches nothing; list at least one value")
            if len(enum) > MAX_CHOICES:
                raise ApiError(400, f"{where}.enum: {len(enum)} values, the limit is {MAX_CHOICES}")
            _check_constant(enum, f"{where}.enum")
        if "const" in node:
            _check_constant(node["const"], f"{where}.const")
        required = node.get("required")
        if required is not None and (not isinstance(required, list) or not all(isinstance(r, str) for r in required)):
            raise ApiError(400, f"{where}.required: {_describe(required)} is not a list of property names")
        ref = node.get("$ref")
        if ref is not None and (not isinstance(ref, str) or not ref.startswith("#/")):
            raise ApiError(400, f"{where}.$ref: {_describe(ref)} is not supported; use a local reference (#/$defs/...)")
        pattern = node.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise ApiError(400, f"{where}.pattern: {_describe(pattern)} is not a string")
            if len(pattern) > MAX_PATTERN:
                raise ApiError(400, f"{where}.pattern: {len(pattern)} characters, the limit is {MAX_PATTERN}")
        for low, high, cap in (("minLength", "maxLength", MAX_LENGTH), ("minItems", "maxItems", MAX_ITEMS),
                               ("minProperties", "maxProperties", MAX_PROPERTIES)):
            lo, hi = _count(node, low, where), _count(node, high, where)
            if lo is not None and lo > cap:
                raise ApiError(400, f"{where}.{low}: {lo} is more than this server generates (at most {cap}); "
                                    "lower it")
            if lo is not None and hi is not None and lo > hi:
                raise ApiError(400, f"{where}: {low} {lo} is greater than {high} {hi}, so nothing matches")

    def _bound(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        types = node.get("type")
        literal = any(k in node for k in ("enum", "const", "pattern", "format", "$ref"))
        if types == "string" or types == ["string"]:
            if "maxLength" not in node and not literal:
                node["maxLength"] = max(MAX_STRING, node.get("minLength", 0))
            elif "maxLength" in node:
                node["maxLength"] = min(int(node["maxLength"]), MAX_LENGTH)
        if "maxItems" in node:
            node["maxItems"] = min(int(node["maxItems"]), MAX_ITEMS)
        is_array = types == "array" or types == ["array"]
        if (is_array and "items" not in node and "prefixItems" not in node
                and ("minItems" in node or "maxItems" in node)):
            node["items"] = dict(ANY_VALUE)  # without items the converter ignores min/maxItems ([1] for maxItems 0)
        if "pattern" in node:
            node["pattern"] = _bound_pattern(node["pattern"], f"{where}.pattern")
        return node


def _bound_pattern(pattern: str, where: str) -> str:
    def repl(m: re.Match[str]) -> str:
        low = int(m.group(1)) if m.group(1) else 0
        if m.group(2) is None:
            high: int | None = low
        else:
            high = int(m.group(3)) if m.group(3) else None
        if low > MAX_ITEMS:
            raise ApiError(400, f"{where}: the repetition {m.group()} asks for more than {MAX_ITEMS}; lower it")
        if high is not None and high < low:
            raise ApiError(400, f"{where}: the repetition {m.group()} has its bounds reversed")
        if high is not None and high > MAX_ITEMS:
            return f"{{{low},{MAX_ITEMS}}}"
        return m.group()

    return _QUANTIFIER.sub(repl, pattern)


def bounded_schema(schema: Any, where: str = "format") -> dict[str, Any]:
    """A validated copy of ``schema`` that converts to a small grammar; `ApiError` 400 naming ``where`` otherwise."""
    return _Walk().schema(schema, where, 0)


# -- grammars ----------------------------------------------------------------

_LOOSE_CHAR = 'char ::= [^"\\\\]'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'


def _string_lengths(schema: Any, found: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (minLength, maxLength) pairs of the bounded strings in ``schema``."""
    if isinstance(schema, list):
        for item in schema:
            _string_lengths(item, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("string", ["string"]) and isinstance(schema.get("maxLength"), int):
            found.add((int(schema.get("minLength", 0)), schema["maxLength"]))
        for value in schema.values():
            _string_lengths(value, found)
    return found


def _nested_chars(low: int, high: int) -> str:
    """How llama-cpp-python's converter spells ``char`` repeated ``low`` to ``high`` times."""
    if low == 0 and high == 1:
        return "char?"
    text = " ".join(["char"] * low)
    if low and high != low:
        text += " "
    n = high - low
    if n == 1:
        text += "(char)?"
    elif n > 1:
        text += ("(char " * n).rstrip() + ")?" * n
    return text


def _flat_lengths(gbnf: str, schema: Any) -> str:
    """Rewrite long string repetitions as GBNF's ``char{m,n}``, which llama.cpp expands without recursing."""
    for low, high in sorted(_string_lengths(schema, set()), key=lambda p: -p[1]):
        if high > 8:
            nested = f'"\\"" {_nested_chars(low, high)} "\\"" space'
            gbnf = gbnf.replace(nested, f'"\\"" char{{{low},{high}}} "\\"" space')
    return gbnf


_SKIP = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]')


def _nesting(gbnf: str) -> int:
    """The deepest parenthesised nesting in ``gbnf``, outside literals and character classes."""
    depth = deepest = 0
    for ch in _SKIP.sub("", gbnf):
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


class _GrammarCache:
    """Schema text -> grammar text, least recently used first out, bounded by the bytes it holds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, value: str) -> None:
        cost = len(key) + len(value)
        if cost > self.limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(key) + len(old)
            self._items[key] = value
            self.size += cost
            while self.size > self.limit:
                k, v = self._items.popitem(last=False)
                self.size -= len(k) + len(v)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


grammar_cache = _GrammarCache(GRAMMAR_CACHE_BYTES)


def _check_parses(gbnf: str) -> None:
    """Have llama.cpp parse ``gbnf`` without a model; it returns NULL (and logs why) for a grammar it rejects.

    The sampler would otherwise receive that NULL inside a generation and crash.
    """
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(None, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise ApiError(400, "llama.cpp cannot parse the grammar built from this JSON schema; simplify the schema")
    llama_cpp.llama_sampler_free(sampler)


def schema_to_gbnf(schema: dict[str, Any] | None, engine: Engine | None = None) -> str:
    """A grammar for ``schema`` (None means any JSON value) in ``engine``'s dialect, memoised by schema text.

    Without ``engine``, llama-cpp-python's GBNF. Pass schemas through `bounded_schema`
    first: the grammar of an unchecked schema can crash llama.cpp.
    """
    if engine is None or engine.name == "llama-cpp":
        return gbnf_from_schema(schema)
    key = engine.name + ":" + json.dumps(schema, sort_keys=True)
    hit = grammar_cache.get(key)
    if hit is not None:
        return hit
    grammar = engine.schema_grammar(schema)
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise ApiError(400, f"the grammar for this JSON schema is {len(grammar)} characters, over the limit of "
                            f"{MAX_GRAMMAR_CHARS}; use fewer properties, alternatives or enum values")
    grammar_cache.put(key, grammar)
    return grammar


def gbnf_from_schema(schema: dict[str, Any] | None) -> str:
    """llama-cpp-python's GBNF for ``schema``, checked by llama.cpp's parser, memoised by schema text."""
    key = json.dumps(schema, sort_keys=True)
    hit = grammar_cache.get(key)
    if hit is not None:
        return hit
    from integrations.embedded.engines.llamacpp import import_llama_cpp

    import_llama_cpp()
    from llama_cpp import llama_grammar

    if schema is None:
        gbnf = llama_grammar.JSON_GBNF
    else:
        try:
            gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
        except RecursionError:
            raise ApiError(400, f"the JSON schema nests too deeply (at most {MAX_DEPTH} levels)") from None
        except Exception as exc:  # the converter raises bare Exceptions/AssertionErrors on schemas it can't handle
            raise ApiError(400, f"unsupported JSON schema: {exc}") from None
        gbnf = _flat_lengths(gbnf, schema)
        if _nesting(gbnf) > MAX_NESTING:
            raise ApiError(400, f"the grammar for this JSON schema nests deeper than {MAX_NESTING} groups; "
                                "lower maxItems or the repetitions in its patterns")
        if len(gbnf) > MAX_GRAMMAR_CHARS:
            raise ApiError(400, f"the grammar for this JSON schema is {len(gbnf)} characters, over the limit of "
                                f"{MAX_GRAMMAR_CHARS}; use fewer properties, alternatives or enum values")
        # llama-cpp-python's converter lets raw control characters (newlines) into strings,
        # which is not JSON; exclude them as its own JSON_GBNF does.
        gbnf = gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)
        _check_parses(gbnf)
    grammar_cache.put(key, gbnf)
    return gbnf
