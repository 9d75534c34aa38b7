"""Tool policy, message rendering and grammar construction (grammar text needs llama_cpp, not a model)."""

from __future__ import annotations

import re

import pytest

from integrations.embedded.prompting import (
    MAX_STRING,
    bounded_schema,
    new_call_id,
    normalize_messages,
    parse_tool_call,
    parse_tools,
    render_for_template,
    tool_call_schema,
    tool_mode,
)
from integrations.embedded.protocol import ApiError

TOOLS = parse_tools([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                      "parameters": {"type": "object", "properties": {
                                          "city": {"type": "string"},
                                          "unit": {"type": "string", "enum": ["c", "f"]}},
                                          "required": ["city"]}}},
    {"type": "function", "function": {"name": "ping"}},
])


def _msgs(*roles: str):
    return normalize_messages([{"role": r, "content": "x"} for r in roles], openai=False)


def test_tool_policy():
    assert tool_mode(TOOLS, "none", _msgs("user")) == ("none", [])
    assert tool_mode([], None, _msgs("user")) == ("none", [])
    assert tool_mode(TOOLS, "required", _msgs("user", "assistant", "tool")) == ("call", TOOLS)
    assert tool_mode(TOOLS, None, _msgs("user")) == ("call", TOOLS)
    assert tool_mode(TOOLS, "auto", _msgs("system", "user")) == ("call", TOOLS)
    assert tool_mode(TOOLS, "auto", _msgs("user", "assistant", "tool")) == ("none", [])
    named = {"type": "function", "function": {"name": "ping"}}
    assert tool_mode(TOOLS, named, _msgs("user", "tool")) == ("call", [TOOLS[1]])
    with pytest.raises(ApiError):
        tool_mode(TOOLS, {"type": "function", "function": {"name": "nope"}}, _msgs("user"))
    with pytest.raises(ApiError):
        tool_mode(TOOLS, "sometimes", _msgs("user"))


def test_tool_call_schema_pairs_each_name_with_its_arguments():
    schema = tool_call_schema(TOOLS)
    alternatives = schema["oneOf"]
    assert [a["properties"]["name"] for a in alternatives] == [{"const": "get_weather"}, {"const": "ping"}]
    weather_args = alternatives[0]["properties"]["arguments"]
    assert weather_args["required"] == ["city"]
    assert weather_args["properties"]["city"]["maxLength"] == MAX_STRING
    assert "maxLength" not in weather_args["properties"]["unit"]  # enums are already bounded
    assert alternatives[1]["properties"]["arguments"] == {"type": "object", "properties": {}}
    single = tool_call_schema(TOOLS[:1])
    assert "oneOf" not in single and single["required"] == ["name", "arguments"]


def test_bounded_schema_keeps_explicit_bounds():
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3},
                                               "b": {"type": "array", "items": {"type": "string"}},
                                               "d": {"type": "string", "format": "date"}}}
    out = bounded_schema(schema)
    assert out["properties"]["a"]["maxLength"] == 3
    assert out["properties"]["b"]["items"]["maxLength"] == MAX_STRING
    assert "maxLength" not in out["properties"]["d"]
    assert "maxLength" not in schema["properties"]["b"]["items"]  # the input is not mutated


def test_grammar_constrains_names_and_enums():
    pytest.importorskip("llama_cpp")
    from integrations.embedded.runtime import schema_to_gbnf

    gbnf = schema_to_gbnf(tool_call_schema(TOOLS))
    assert '"\\"get_weather\\""' in gbnf and '"\\"ping\\""' in gbnf
    assert '"\\"c\\""' in gbnf and '"\\"f\\""' in gbnf
    assert re.search(r"^root\s+::=", gbnf, re.M)
    assert re.search(r"^root\s+::= object", schema_to_gbnf(None), re.M)  # plain JSON mode: an object


def test_unsupported_schema_is_a_400():
    pytest.importorskip("llama_cpp")
    from integrations.embedded.runtime import schema_to_gbnf

    with pytest.raises(ApiError) as err:
        schema_to_gbnf({"type": "frobnicate"})
    assert err.value.status == 400


def test_openai_messages_with_tool_calls_and_tool_results_render_as_text_turns():
    messages = normalize_messages([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": 'He said "hi"'}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "3 degrees"},
    ], openai=True)
    assert messages[2].tool_calls[0]["arguments"] == {"city": "Oslo"}
    turns = render_for_template(messages, TOOLS, template_knows_tools=False)
    assert [t["role"] for t in turns] == ["system", "user", "user"]  # the call-only assistant turn is dropped
    assert turns[0]["content"].startswith("Be brief.") and "get_weather" in turns[0]["content"]
    assert turns[1]["content"] == 'He said "hi"'
    assert turns[2]["content"] == "The get_weather tool returned:\n3 degrees"  # name found via tool_call_id
    kept = render_for_template(messages, [], template_knows_tools=True)
    assert [t["role"] for t in kept] == ["system", "user", "assistant", "tool"]
    assert kept[2]["content"] == '(called get_weather with {"city": "Oslo"})'


def test_native_tool_call_arguments_are_objects():
    msgs = normalize_messages([{"role": "assistant", "content": "",
                                "tool_calls": [{"function": {"name": "ping", "arguments": {}}}]}], openai=False)
    assert msgs[0].tool_calls[0]["arguments"] == {}
    with pytest.raises(ApiError):
        normalize_messages([{"role": "assistant", "tool_calls": [{"function": {"name": "x", "arguments": "{bad"}}]}],
                           openai=True)


def test_bad_messages_are_400():
    for raw in ("nope", [1], [{"content": "no role"}], [{"role": "user", "content": 5}]):
        with pytest.raises(ApiError) as err:
            normalize_messages(raw, openai=True)
        assert err.value.status == 400
    with pytest.raises(ApiError):
        normalize_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
                           openai=True)


def test_parse_tool_call():
    assert parse_tool_call('{"name": "ping", "arguments": {}}', TOOLS) == ("ping", {})
    for bad in ('{"name": "ping"', '{"name": "other", "arguments": {}}', "[]"):
        with pytest.raises(ApiError):
            parse_tool_call(bad, TOOLS)


def test_call_ids():
    ids = {new_call_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("call_") and len(i) == 13 for i in ids)


def test_schema_grammar_strings_exclude_raw_control_characters() -> None:
    pytest.importorskip("llama_cpp")
    from integrations.embedded.runtime import schema_to_gbnf

    grammar = schema_to_gbnf({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})
    char_rule = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert "\\x00-\\x1F" in char_rule, "a raw newline inside a JSON string is not JSON"
