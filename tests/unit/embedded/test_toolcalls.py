"""Tool calls read out of free model text at the template's tag, as Ollama reads them."""

from __future__ import annotations

import pytest

from integrations.embedded.prompting import ToolSpec
from integrations.embedded.toolcalls import TagParser, template_tool_tag

TOOLS = [ToolSpec("get_price", "", {"type": "object", "properties": {"ticker": {"type": "string"}}})]
CALL = '<tool_call>\n{"name": "get_price", "arguments": {"ticker": "NVDA"}}\n</tool_call>'


def run(pieces: list[str]) -> tuple[str, list[tuple[str, dict[str, object]]]]:
    parser = TagParser("<tool_call>", TOOLS)
    shown: list[str] = []
    calls = []
    for piece in pieces:
        text, found = parser.feed(piece)
        shown.append(text)
        calls += found
    text, found = parser.finish()
    shown.append(text)
    calls += found
    return "".join(shown), [(c.name, c.arguments) for c in calls]


def chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_a_tagged_call_becomes_a_call_however_the_stream_splits_it(size: int) -> None:
    assert run(chunks(CALL, size)) == ("", [("get_price", {"ticker": "NVDA"})])


def test_prose_before_the_tag_streams_as_content() -> None:
    text, calls = run(chunks("Let me look that up.\n" + CALL, 4))
    assert text == "Let me look that up.\n"
    assert calls == [("get_price", {"ticker": "NVDA"})]


def test_a_partial_tag_is_held_back_until_it_is_known() -> None:
    parser = TagParser("<tool_call>", TOOLS)
    assert parser.feed("Price: <tool_") == ("Price: ", [])
    assert parser.feed("call>") == ("", [])


def test_text_that_only_looks_like_a_tag_is_released() -> None:
    assert run(["a <tool", "box> b"]) == ("a <toolbox> b", [])


def test_bare_json_without_the_tag_stays_text() -> None:
    bare = '{"name": "get_price", "arguments": {"ticker": "NVDA"}}'
    assert run(chunks(bare, 5)) == (bare, [])


def test_a_call_to_a_tool_that_was_not_offered_stays_text() -> None:
    other = '<tool_call>{"name": "say_hello", "arguments": {}}</tool_call>'
    assert run([other]) == (other, [])


def test_two_calls_and_string_arguments() -> None:
    second = '<tool_call>{"name": "get_price", "arguments": "{\\"ticker\\": \\"TSLA\\"}"}</tool_call>'
    text, calls = run([CALL, "\n", second])
    assert text == ""
    assert calls == [("get_price", {"ticker": "NVDA"}), ("get_price", {"ticker": "TSLA"})]


def test_an_unclosed_call_at_the_end_of_generation_is_still_a_call() -> None:
    assert run(['<tool_call>{"name": "get_price", "arguments": {"ticker": "NVDA"}}']) == (
        "", [("get_price", {"ticker": "NVDA"})])


def test_invalid_json_inside_the_tag_stays_text() -> None:
    broken = "<tool_call>{not json}</tool_call>"
    assert run([broken]) == (broken, [])


def test_the_tag_comes_from_the_template() -> None:
    qwen = ('{%- if tools %}<tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}</tools> For each call, '
            'return <tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call>{%- endif %}')
    assert template_tool_tag(qwen) == "<tool_call>"
    assert template_tool_tag("{% for m in messages %}{{ m.content }}{% endfor %}") is None
    assert template_tool_tag("<tool_call> shown, but no tool list is rendered") is None
