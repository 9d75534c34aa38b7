"""The OpenAI SDK against the embedded server's /v1 endpoints."""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

pytestmark = pytest.mark.timeout(120)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "unit"],
        },
    },
}
CALC = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                       "required": ["a", "b"]},
    },
}


def _check_weather_args(args: dict) -> None:
    """A hand-rolled check of WEATHER's schema (types, enum, required, no extras)."""
    assert {"city", "unit"} <= set(args) <= {"city", "unit", "days"}
    assert isinstance(args["city"], str)
    assert args["unit"] in ("celsius", "fahrenheit")
    if "days" in args:
        assert isinstance(args["days"], int) and not isinstance(args["days"], bool)


@pytest.fixture
def client(ollama_server):
    return openai.OpenAI(base_url=ollama_server.url + "/v1", api_key="ollama", max_retries=0)


def test_chat_plain(client, ollama_model):
    response = client.chat.completions.create(model=ollama_model, messages=[{"role": "user", "content": "Hi!"}],
                                              max_tokens=12, temperature=0)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert response.object == "chat.completion"
    assert response.usage.completion_tokens <= 12
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_max_tokens_limits_output(client, ollama_model):
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Write a long essay about the sea."}],
        max_tokens=5, temperature=0)
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 5


def test_chat_streamed_with_usage(client, ollama_model):
    stream = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Describe a cat."}],
        max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 1
    assert content[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in content[1:])
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 16
    assert len({c.created for c in chunks}) == 1


def test_stop_sequence(client, ollama_model):
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "List the numbers from 1 to 20 separated by commas."}],
        max_tokens=32, temperature=0, stop=[","])
    assert "," not in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"


def test_forced_tool_call_matches_schema(client, ollama_model):
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "What's the weather like in Tokyo?"}],
        tools=[WEATHER, CALC], tool_choice="required", max_tokens=16)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and len(call.id) == 13
    assert call.function.name in ("get_weather", "add")
    args = json.loads(call.function.arguments)
    if call.function.name == "get_weather":
        _check_weather_args(args)
    else:
        assert isinstance(args["a"], int) and isinstance(args["b"], int)


def test_named_tool_choice_and_tool_round_trip(client, ollama_model):
    messages: list = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(
        model=ollama_model, messages=messages, tools=[WEATHER, CALC],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, max_tokens=16)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    _check_weather_args(json.loads(call.function.arguments))
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 3, "sky": "snow"}'})
    second = client.chat.completions.create(model=ollama_model, messages=messages, tools=[WEATHER], max_tokens=12)
    assert second.choices[0].finish_reason in ("stop", "length")
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content


def test_tool_choice_none_answers_in_text(client, ollama_model):
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=[WEATHER], tool_choice="none", max_tokens=8)
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].finish_reason != "tool_calls"


def test_streamed_tool_call(client, ollama_model):
    chunks = list(client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Add 2 and 3"}],
        tools=[CALC], tool_choice="required", max_tokens=16, stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "add"
    assert set(json.loads(calls[0].function.arguments)) == {"a", "b"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_schema_response_format(client, ollama_model):
    schema = {"type": "object", "properties": {
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "count": {"type": "integer"}}, "required": ["color", "count"], "additionalProperties": False}
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Pick a color and a number."}],
        response_format={"type": "json_schema", "json_schema": {"name": "pick", "schema": schema}}, max_tokens=24)
    data = json.loads(response.choices[0].message.content)
    assert set(data) == {"color", "count"}
    assert data["color"] in ("red", "green", "blue")
    assert isinstance(data["count"], int)


def test_json_object_response_format(client, ollama_model):
    response = client.chat.completions.create(
        model=ollama_model, messages=[{"role": "user", "content": "Reply with a JSON object describing a dog."}],
        response_format={"type": "json_object"}, max_tokens=256, temperature=0)
    # room enough to close the object: without the JSON grammar this model fences its JSON in markdown
    assert response.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_completions(client, ollama_model):
    response = client.completions.create(model=ollama_model, prompt="Once upon a time", max_tokens=8, temperature=0)
    assert response.choices[0].text
    assert response.object == "text_completion"
    assert response.usage.completion_tokens <= 8
    streamed = list(client.completions.create(model=ollama_model, prompt="Once upon a time", max_tokens=8,
                                              temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == response.choices[0].text


def test_embeddings_float_and_base64(client, ollama_model):
    response = client.embeddings.create(model=ollama_model, input=["alpha", "beta"])
    assert [d.index for d in response.data] == [0, 1]
    vector = response.data[0].embedding
    assert len(vector) == 576 and abs(sum(x * x for x in vector) - 1) < 1e-4
    single = client.embeddings.create(model=ollama_model, input="alpha")
    assert single.data[0].embedding == pytest.approx(vector, abs=1e-6)
    raw = client.embeddings.with_raw_response.create(model=ollama_model, input="alpha", encoding_format="base64")
    encoded = json.loads(raw.content)["data"][0]["embedding"]
    decoded = struct.unpack("<576f", base64.b64decode(encoded))
    assert list(decoded) == pytest.approx(vector, abs=1e-6)


def test_models_list_and_retrieve(client, ollama_model):
    ids = [m.id for m in client.models.list()]
    assert ollama_model in ids
    model = client.models.retrieve(ollama_model)
    assert model.id == ollama_model and model.owned_by == "library"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("missing-model")


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope:1b", messages=[{"role": "user", "content": "x"}])
    body = err.value.body
    assert body["message"] == "model 'nope:1b' not found"
    assert body["type"] == "not_found_error"


def test_empty_messages_is_400(client, ollama_model):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=ollama_model, messages=[])
    assert err.value.body["type"] == "invalid_request_error"
