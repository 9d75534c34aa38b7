"""Schema validation and bounding: what cannot be honoured is a 400 naming the field, large limits are bounded."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.embedded.protocol import ApiError
from integrations.embedded.schemas import (
    ANY_VALUE,
    GRAMMAR_CACHE_BYTES,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_LENGTH,
    MAX_STRING,
    _GrammarCache,
    bounded_schema,
)


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = _obj(x=schema)
    return schema


REFUSED = [
    # (schema, where the message points, a word the message must contain)
    ({"anyOf": []}, "format.anyOf", "empty"),
    ({"oneOf": []}, "format.oneOf", "empty"),
    ({"enum": []}, "format.enum", "matches nothing"),
    ({"type": []}, "format.type", "empty"),
    ({"type": "strng"}, "format.type", '"strng"'),
    ({"type": ["string", 5]}, "format.type", "5"),
    (_obj(**{'a"b': {"type": "string"}}), "format.properties name", '"a\\"b"'),
    (_obj(**{"a\nb": {"type": "string"}}), "format.properties name", '"a\\nb"'),
    (_obj(**{"a\\b": {"type": "string"}}), "format.properties name", "backslash"),
    ({"enum": ['say "hi"']}, "format.enum[0]", "double quotes"),
    ({"const": {"k": "x\ty"}}, "format.const.k", "control"),
    (_obj(a=5), "format.properties.a", "not a schema"),
    (_obj(a=False), "format.properties.a", "not a schema"),
    ({"type": "object", "properties": []}, "format.properties", "not an object"),
    ({"type": "array", "items": []}, "format.items", "empty list"),
    ({"type": "string", "minLength": MAX_LENGTH + 1}, "format.minLength", str(MAX_LENGTH + 1)),
    ({"type": "array", "minItems": 10_000_000}, "format.minItems", "10000000"),
    ({"type": "object", "minProperties": 100_000}, "format.minProperties", "100000"),
    ({"type": "string", "minLength": 5, "maxLength": 2}, "format", "greater than maxLength"),
    ({"type": "string", "maxLength": -1}, "format.maxLength", "-1"),
    ({"type": "string", "maxLength": "5"}, "format.maxLength", '"5"'),
    ({"type": "string", "maxLength": True}, "format.maxLength", "true"),
    ({"$ref": "https://example.com/s.json"}, "format.$ref", "local reference"),
    ({"type": "object", "required": "a"}, "format.required", '"a"'),
    ({"type": "string", "pattern": "^a{5000}$"}, "format.pattern", "{5000}"),
    ({"type": "string", "pattern": "^a{5,2}$"}, "format.pattern", "reversed"),
    (_deep(MAX_DEPTH + 1), "format" + ".properties.x" * (MAX_DEPTH + 1), "deeper"),
    ({"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(300)}}, "format.properties",
     "300"),
    ({"enum": list(range(600))}, "format.enum", "600"),
]


@pytest.mark.parametrize(("schema", "where", "word"), REFUSED)
def test_refused_schemas_name_the_field_and_value(schema: Any, where: str, word: str) -> None:
    with pytest.raises(ApiError) as caught:
        bounded_schema(schema)
    assert caught.value.status == 400
    message = caught.value.message
    assert message.startswith(where + ":") or message.startswith(where + " "), message
    assert word in message


def test_the_field_prefix_is_the_callers() -> None:
    with pytest.raises(ApiError, match=r"^response_format\.json_schema\.schema\.properties\.a\.type: "):
        bounded_schema(_obj(a={"type": "text"}), "response_format.json_schema.schema")
    with pytest.raises(ApiError, match=r'^format\.properties\["a b"\]\.anyOf: '):
        bounded_schema(_obj(**{"a b": {"anyOf": []}}))


@pytest.mark.parametrize("limit", [5000, 10_000, 10**6])
def test_large_upper_bounds_are_lowered_to_the_caps(limit: int) -> None:
    assert bounded_schema({"type": "string", "maxLength": limit})["maxLength"] == MAX_LENGTH
    assert bounded_schema({"type": "string", "maxLength": 3000})["maxLength"] == 3000
    assert bounded_schema({"type": "array", "items": {"type": "integer"}, "maxItems": limit})["maxItems"] == MAX_ITEMS
    pattern = bounded_schema({"type": "string", "pattern": f"^a{{0,{limit}}}$"})["pattern"]
    assert pattern == f"^a{{0,{MAX_ITEMS}}}$"


def test_small_bounds_are_kept_and_unbounded_strings_get_the_default() -> None:
    schema = _obj(a={"type": "string", "maxLength": 10}, b={"type": "string"},
                  c={"type": "string", "minLength": 100}, d={"type": "string", "enum": ["x"]},
                  e={"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3})
    out = bounded_schema(schema)["properties"]
    assert out["a"]["maxLength"] == 10
    assert out["b"]["maxLength"] == MAX_STRING
    assert out["c"]["maxLength"] == 100  # the default never contradicts minLength
    assert "maxLength" not in out["d"]
    assert out["e"] == {"type": "array", "items": {"type": "string", "maxLength": MAX_STRING},
                        "minItems": 1, "maxItems": 3}
    assert schema["properties"]["b"] == {"type": "string"}, "the caller's schema is not modified"


def test_array_bounds_without_items_get_items_so_the_converter_honours_them() -> None:
    assert bounded_schema({"type": "array", "maxItems": 0})["items"] == ANY_VALUE
    assert "items" not in bounded_schema({"type": "array"})


def test_true_is_any_value_and_defs_are_checked() -> None:
    assert bounded_schema(_obj(a=True))["properties"]["a"] == ANY_VALUE
    with pytest.raises(ApiError, match=r"^format\.\$defs\.Item\.enum: "):
        bounded_schema({"$defs": {"Item": {"enum": []}}, "$ref": "#/$defs/Item"})


def test_a_pydantic_model_with_max_length_5000_is_accepted() -> None:
    schema = {"properties": {"essay": {"maxLength": 5000, "title": "Essay", "type": "string"}},
              "required": ["essay"], "title": "Answer", "type": "object"}
    assert bounded_schema(schema)["properties"]["essay"]["maxLength"] == MAX_LENGTH


def test_grammar_cache_is_bounded_by_bytes() -> None:
    cache = _GrammarCache(1000)
    for i in range(50):
        cache.put(f"k{i:03d}", "x" * 96)  # 100 bytes each
    assert cache.size <= 1000 and len(cache) == 10
    assert cache.get("k049") is not None and cache.get("k000") is None
    cache.put("huge", "x" * 2000)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 10
    assert GRAMMAR_CACHE_BYTES >= 1024 * 1024


# -- grammar text (needs llama_cpp's converter, not a model) --------------------


@pytest.fixture
def gbnf() -> Any:
    pytest.importorskip("llama_cpp")
    from integrations.embedded.schemas import grammar_cache, schema_to_gbnf

    grammar_cache.clear()
    return lambda schema, where="format": schema_to_gbnf(bounded_schema(schema, where))


@pytest.mark.parametrize("schema", [
    {"type": "string", "maxLength": 10**6},
    {"type": "array", "items": {"type": "integer"}, "maxItems": 5000},
    {"type": "string", "pattern": "^[a-z]{0,100000}$"},
    _obj(args=_obj(text={"type": "string", "maxLength": 3000})),
])
def test_grammars_of_large_limits_stay_shallow_and_small(gbnf: Any, schema: Any) -> None:
    from integrations.embedded.schemas import _nesting

    grammar = gbnf(schema)
    assert _nesting(grammar) <= MAX_ITEMS + 4
    assert len(grammar) < 64 * 1024


def test_string_lengths_become_flat_repetitions(gbnf: Any) -> None:
    assert 'char{0,3000} "\\"" space' in gbnf({"type": "string", "maxLength": 3000})
    assert f"char{{10,{MAX_LENGTH}}}" in gbnf({"type": "string", "minLength": 10, "maxLength": 10**6})
    assert "char{" not in gbnf({"type": "string", "maxLength": 5})  # short ones are left as the converter writes them


def test_grammars_parse_in_llama_cpp_and_bad_ones_are_400(gbnf: Any) -> None:
    from integrations.embedded.schemas import _check_parses

    _check_parses(gbnf(_obj(a={"type": "string"})))
    with pytest.raises(ApiError, match="cannot parse the grammar"):
        _check_parses('root ::= "a" undefined-rule')
    with pytest.raises(ApiError, match="cannot parse the grammar"):
        _check_parses("root ::= root \"a\"")  # left recursion


def test_grammar_size_is_capped(gbnf: Any) -> None:
    props = {f"p{i}": {"enum": [f"value-{i}-{j}-" + "v" * 60 for j in range(500)]} for i in range(8)}
    with pytest.raises(ApiError, match="over the limit"):
        gbnf({"type": "object", "properties": props})


def test_tool_names_and_parameters_are_checked_with_their_index() -> None:
    from integrations.embedded.prompting import parse_tools

    with pytest.raises(ApiError, match=r"^tools\[1\]\.function\.parameters\.properties\.q\.maxLength: "):
        parse_tools([{"type": "function", "function": {"name": "a"}},
                     {"type": "function", "function": {"name": "b", "parameters": _obj(q={"maxLength": "x"})}}])
    with pytest.raises(ApiError, match=r"^tools\[0\]\.function\.name: "):
        parse_tools([{"type": "function", "function": {"name": 'say"hi'}}])

