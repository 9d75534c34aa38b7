"""A model that decides (qwen2.5-coder:0.5b) through the embedded server: structured output and forced calls.

Whether it calls a tool under ``"auto"`` is its own choice (see benchmarks/tool_decisions.py for how
often it chooses well, and tests/integration/test_tool_call_repair_real.py for what the clients do
with a call written as text); what the server guarantees is checked here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import OpenAI

pytestmark = pytest.mark.decider

TOOLS = [{"type": "function", "function": {
    "name": "get_price", "description": "The latest stock price for a ticker symbol.",
    "parameters": {"type": "object", "properties": {"ticker": {"type": "string", "enum": ["NVDA", "TSLA"]}},
                   "required": ["ticker"]}}}]


@pytest.fixture
def client(ollama_server: Any) -> OpenAI:
    return OpenAI(base_url=f"{ollama_server.url}/v1", api_key="ollama", timeout=300)


def test_structured_output_follows_the_schema(client: OpenAI, decider_model: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                               "population_millions": {"type": "number"},
                                               "landmarks": {"type": "array", "items": {"type": "string"},
                                                             "minItems": 1, "maxItems": 3}},
              "required": ["city", "population_millions", "landmarks"], "additionalProperties": False}
    reply = client.chat.completions.create(
        model=decider_model, temperature=0, max_tokens=200,
        messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    answer = json.loads(reply.choices[0].message.content or "")
    assert set(answer) == {"city", "population_millions", "landmarks"}
    assert isinstance(answer["city"], str) and len(answer["city"]) <= 40
    assert isinstance(answer["population_millions"], (int, float))
    assert 1 <= len(answer["landmarks"]) <= 3 and all(isinstance(x, str) for x in answer["landmarks"])


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": list(properties)}}}


PRICE_AND_WEATHER = [
    *TOOLS, _tool("get_weather", "The current weather in a city.", {"city": {"type": "string"}}),
]
# The same two tools under names that say nothing: only their descriptions, which reach the model
# through its template, tell them apart.
OPAQUE = [
    _tool("tool_a", "The latest stock price for a ticker symbol.", {"ticker": {"type": "string", "enum": ["NVDA", "TSLA"]}}),
    _tool("tool_b", "The current weather in a city.", {"city": {"type": "string"}}),
]


@pytest.mark.parametrize(
    ("tools", "question", "name", "arguments"),
    [
        (PRICE_AND_WEATHER, "What is Tesla trading at?", "get_price", {"ticker": "TSLA"}),
        (PRICE_AND_WEATHER, "What is Nvidia trading at?", "get_price", {"ticker": "NVDA"}),
        (PRICE_AND_WEATHER, "Is it raining in Paris right now?", "get_weather", {"city": "Paris"}),
        (OPAQUE, "Is it raining in Paris right now?", "tool_b", {"city": "Paris"}),
    ],
    ids=["tesla", "nvidia", "weather", "weather-by-description"],
)
def test_a_required_call_is_the_one_the_question_asks_for(
    client: OpenAI, decider_model: str, tools: list[dict[str, Any]], question: str, name: str, arguments: dict[str, Any]
) -> None:
    """The grammar guarantees a well-formed call to some offered tool; which tool and which arguments
    come from the question and the tool descriptions, rendered by the model's own chat template.

    The cases ask for different answers under the same grammar, so a prompt that lost the
    question or the tools (a server that rendered something else) cannot pass them all.
    """
    reply = client.chat.completions.create(
        model=decider_model, temperature=0, max_tokens=64, tools=tools, tool_choice="required",  # type: ignore[arg-type]
        messages=[{"role": "user", "content": question}],
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == (name, arguments)


def test_a_tool_result_reaches_the_models_template(client: OpenAI, decider_model: str) -> None:
    """On every engine: the prompt grows by the tool result's text (the answer itself is the model's; see below)."""

    def prompt_tokens(result: str) -> int:
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": "What is NVDA trading at?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "get_price", "arguments": json.dumps({"ticker": "NVDA"})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]
        reply = client.chat.completions.create(model=decider_model, temperature=0, max_tokens=1, tools=TOOLS,  # type: ignore[arg-type]
                                               messages=messages)  # type: ignore[arg-type]
        assert reply.usage is not None
        return reply.usage.prompt_tokens

    short = prompt_tokens("1")
    long = prompt_tokens("NVDA closed at 123.45 USD, up 2.3 percent on the day, after a week of gains.")
    assert long - short >= 15, f"the tool result added {long - short} tokens to the prompt"


def test_after_a_tool_result_the_model_answers_from_it(
    client: OpenAI, decider_model: str, request: pytest.FixtureRequest
) -> None:
    """The result goes back in the template's own tool role; the model's answer uses it."""
    from integrations.embedded.engines import resolve_engine
    from integrations.pytest_plugin import _ENGINE_KEY

    if resolve_engine(request.config.stash.get(_ENGINE_KEY, "auto")) == "xllamacpp":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="on llama.cpp's server (the prebuilt engine, as on Ollama's runner) the prompt counts in the "
                "repeat-penalty window and the 0.5B model repeats its get_price call instead of answering; "
                "llama-cpp-python penalises generated tokens only, and the model answers 123.45",
            )
        )
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What is NVDA trading at?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_price", "arguments": json.dumps({"ticker": "NVDA"})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "NVDA: 123.45 USD"},
    ]
    reply = client.chat.completions.create(model=decider_model, temperature=0, max_tokens=60, tools=TOOLS,  # type: ignore[arg-type]
                                           messages=messages)  # type: ignore[arg-type]
    assert "123.45" in (reply.choices[0].message.content or "")
