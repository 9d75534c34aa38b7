"""Faults produced with real embedded servers: a host killed mid-run, a model deleted under a client.

Faults only a scripted server can produce (a stream cut mid-response) are in ``test_faults.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ollama
import openai
import pytest

import integrations
from integrations import checks
from integrations.settings import OllamaSettings


def test_failover_when_the_first_host_dies_mid_run(ollama_settings: OllamaSettings, tmp_path: Path) -> None:
    from autogen import AssistantAgent, UserProxyAgent

    from integrations.embedded import EmbeddedServer

    first = EmbeddedServer(models_dir=tmp_path).start()
    try:
        checks.ensure_model("smollm2:135m", pull=True, settings=OllamaSettings(host=first.url))
        settings = ollama_settings.merged(host=f"{first.url},{ollama_settings.host}", max_tokens=8, max_retries=0)
        config = integrations.llm_config(settings=settings)
        assert [e["base_url"] for e in config["config_list"]] == [f"{first.url}/v1", f"{ollama_settings.host}/v1"]
        assistant = AssistantAgent("assistant", llm_config=config, system_message="Answer in one word.")
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        killed: list[str] = []

        def kill_first_host(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, None]:
            if not killed:
                first.stop()
                killed.append(first.url)
            return False, None

        user.register_reply([AssistantAgent], kill_first_host, position=0)
        result = user.initiate_chat(assistant, message="Name a colour.", max_turns=3)
    finally:
        first.stop()
    assert killed, "the first host was never killed"
    answers = [m for m in result.chat_history if m.get("name") == "assistant"]
    assert len(answers) == 3, "the run must finish on the second host"
    with pytest.raises(integrations.OllamaUnreachable):
        checks.server_info(settings=OllamaSettings(host=first.url), refresh=True)


def test_model_deleted_between_check_and_request(ollama_server: Any) -> None:
    native = ollama.Client(host=ollama_server.url)
    native.create(model="victim", from_="smollm2:135m")
    client = integrations.openai_client("victim", settings=OllamaSettings(host=ollama_server.url))
    native.delete("victim")
    with pytest.raises(openai.NotFoundError, match="victim"):
        client.chat.completions.create(model="victim", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
