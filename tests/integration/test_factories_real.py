"""Every factory makes real requests to the real model on the embedded server."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

import integrations
from integrations.settings import OllamaSettings
from tests.stub import closed_port

ASK = [{"role": "user", "content": "Name one colour."}]


def test_openai_client_chat(ollama_settings: OllamaSettings) -> None:
    client = integrations.openai_client(settings=ollama_settings)
    reply = client.chat.completions.create(model="smollm2:135m", messages=ASK, max_tokens=12)
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_openai_client_stream_reports_usage(ollama_settings: OllamaSettings) -> None:
    client = integrations.openai_client(settings=ollama_settings)
    chunks = list(client.chat.completions.create(model="smollm2:135m", messages=ASK, max_tokens=12, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = [c.usage for c in chunks if c.usage]
    assert text
    assert usage and usage[-1].completion_tokens > 0


def test_async_openai_client(ollama_settings: OllamaSettings) -> None:
    client = integrations.async_openai_client(settings=ollama_settings)
    reply = asyncio.run(client.chat.completions.create(model="smollm2:135m", messages=ASK, max_tokens=8))
    assert reply.choices[0].message.content


def test_announcement_openai_snippet(ollama_settings: OllamaSettings) -> None:
    client = integrations.openai_client(settings=ollama_settings)
    response = client.chat.completions.create(
        model="smollm2:135m",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who won the world series in 2020?"},
            {"role": "assistant", "content": "The LA Dodgers won in 2020."},
            {"role": "user", "content": "Where was it played?"},
        ],
        max_tokens=24,
    )
    assert response.choices[0].message.content


def test_langchain_chain_and_stream(ollama_settings: OllamaSettings) -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    llm = integrations.chat_openai(settings=ollama_settings.merged(max_tokens=10))
    chain = ChatPromptTemplate.from_template("Say {word}.") | llm | StrOutputParser()
    assert chain.invoke({"word": "yes"})
    chunks = list(llm.stream("Count to three."))
    assert len(chunks) > 1
    tokens = sum((c.usage_metadata or {}).get("output_tokens", 0) for c in chunks)
    assert 0 < tokens <= 10


def test_langchain_embeddings(ollama_settings: OllamaSettings) -> None:
    embeddings = integrations.openai_embeddings(settings=ollama_settings)
    docs = embeddings.embed_documents(["The cat sat.", "Stocks rose today."])
    query = embeddings.embed_query("A cat.")
    assert len(docs) == 2 and len(docs[0]) == len(query) > 100
    assert math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-3)


def test_agentchat_round(ollama_settings: OllamaSettings) -> None:
    from autogen_agentchat.agents import AssistantAgent

    client = integrations.model_client(settings=ollama_settings.merged(max_tokens=16))
    assert client.model_info["function_calling"] is True
    agent = AssistantAgent("assistant", model_client=client)
    result = asyncio.run(agent.run(task="Say hello."))
    assert len(result.messages) >= 2
    assert result.messages[-1].source == "assistant"
    assert result.messages[-1].models_usage is not None
    assert result.messages[-1].models_usage.completion_tokens > 0


def test_ag2_two_agent_chat(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    from autogen import AssistantAgent, UserProxyAgent

    assistant = AssistantAgent(
        "assistant", llm_config=integrations.llm_config(settings=ollama_settings.merged(max_tokens=16))
    )
    user = UserProxyAgent(
        "user_proxy", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=1
    )
    result = user.initiate_chat(assistant, message="Say hello.", max_turns=2)
    speakers = [m.get("name") for m in result.chat_history]
    assert "assistant" in speakers
    assert len(result.chat_history) >= 3


def test_ag2_native_client_chats_through_native_config_list(ollama_settings: OllamaSettings) -> None:
    """The ``api_type: "ollama"`` entries run AG2's own Ollama client, which needs the autogen extra's ``ollama`` part."""
    from autogen import AssistantAgent

    entries = integrations.native_config_list(settings=ollama_settings.merged(max_tokens=16))
    assistant = AssistantAgent("assistant", llm_config={"config_list": entries, "cache_seed": None})
    reply = assistant.generate_reply(messages=ASK)
    assert [type(c).__name__ for c in assistant.client._clients] == ["OllamaClient"]
    text = reply if isinstance(reply, str) else (reply or {}).get("content")
    assert isinstance(text, str) and text.strip()
    usage = assistant.client.total_usage_summary or {}
    assert any(isinstance(v, dict) and v.get("completion_tokens", 0) > 0 for v in usage.values()), usage


def test_ag2_fails_over_to_the_second_host(ollama_settings: OllamaSettings) -> None:
    from autogen import AssistantAgent

    dead = f"http://127.0.0.1:{closed_port()}"
    settings = ollama_settings.merged(host=f"{dead},{ollama_settings.host}", max_tokens=8)
    # Unchecked, the entries keep the configured order (a check puts the hosts that answered first).
    config = integrations.llm_config(settings=settings, check=False)
    assert config["config_list"][0]["base_url"].startswith(dead)
    reply = AssistantAgent("assistant", llm_config=config).generate_reply(messages=ASK)
    assert reply


def test_capability_check_against_the_real_model(ollama_settings: OllamaSettings) -> None:
    with pytest.raises(integrations.CapabilityMissing, match="vision"):
        integrations.model_client(settings=ollama_settings, requires=("vision",))
    client = integrations.model_client(settings=ollama_settings, requires=("tools",))
    assert client.model_info["function_calling"] is True  # read from the server's capabilities
