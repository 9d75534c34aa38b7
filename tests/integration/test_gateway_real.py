"""Two embedded servers behind the real LiteLLM proxy: clients reach both, and lose nothing when one dies."""

from __future__ import annotations

import asyncio
import importlib.util
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.settings import OllamaSettings

pytestmark = [pytest.mark.gateway, pytest.mark.timeout(300)]

REQUESTS = 8
BASE_HEADER = "x-litellm-model-api-base"  # the proxy names the deployment that answered


@dataclass
class Pair:
    servers: list[Any]
    dirs: list[Path]
    settings: OllamaSettings
    gateway: Any

    def restart(self, index: int) -> None:
        from integrations.embedded import EmbeddedServer

        port = self.servers[index].port
        self.servers[index] = EmbeddedServer(port=port, models_dir=self.dirs[index]).start()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, ollama_model: str, request: pytest.FixtureRequest) -> Iterator[Pair]:
    from integrations.pytest_plugin import _unavailable

    for module, extra in (("xllamacpp", "embedded"), ("litellm", "gateway")):
        if importlib.util.find_spec(module) is None:  # found, not imported: LiteLLM's import is slow
            _unavailable(request.config, f"{module} is not installed (extra '{extra}')")
    from integrations import checks
    from integrations.embedded import EmbeddedServer
    from integrations.litellm import Gateway

    dirs = [tmp_path_factory.mktemp("host-a"), tmp_path_factory.mktemp("host-b")]
    servers = [EmbeddedServer(models_dir=d).start() for d in dirs]
    gateway = None
    try:
        settings = OllamaSettings(host=",".join(s.url for s in servers), model=ollama_model, max_tokens=4)
        checks.ensure_model(ollama_model, pull=True, settings=settings)  # pulls on every host
        gateway = Gateway(settings).start()
        yield Pair(servers, dirs, settings, gateway)
    finally:
        if gateway is not None:
            gateway.stop()
        for server in servers:
            server.stop()


def _ask_all(pair: Pair) -> tuple[Counter[str], list[str]]:
    """REQUESTS chat requests, four at a time, through the gateway with the OpenAI SDK: hosts used, and failures."""
    import openai

    client = openai.OpenAI(base_url=pair.gateway.base_url, api_key=pair.gateway.key, max_retries=0)

    def ask(number: int) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model=pair.settings.model, messages=[{"role": "user", "content": f"Say hello {number}"}], max_tokens=4
        )
        assert raw.parse().choices[0].message.content is not None
        return raw.headers[BASE_HEADER]

    used: Counter[str] = Counter()
    failures: list[str] = []
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(ask, n) for n in range(REQUESTS)]:
            try:
                used[future.result()] += 1
            except Exception as exc:  # counted: the test reports how each request ended
                failures.append(f"{type(exc).__name__}: {exc}")
    return used, failures


def test_ensure_model_pulled_on_every_host(pair: Pair) -> None:
    from integrations import checks

    for server in pair.servers:
        names = [m.name for m in checks.list_models(server.url, settings=pair.settings)]
        assert any(name.startswith(pair.settings.model.split(":")[0]) for name in names), names


def test_warm_model_loads_on_every_host(pair: Pair) -> None:
    from integrations import checks

    warmed = checks.warm_model(pair.settings.model, settings=pair.settings)
    assert set(warmed.hosts) == {s.url for s in pair.servers}


def test_openai_sdk_requests_are_spread_over_both_hosts(pair: Pair) -> None:
    used, failures = _ask_all(pair)
    assert failures == []
    assert set(used) == {f"{s.url}/v1" for s in pair.servers}, used
    assert min(used.values()) >= 2, used


def test_the_router_spreads_requests_over_both_hosts_without_a_proxy(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table fetch from the internet
    from integrations.litellm import router

    # simple-shuffle: least-busy sends calls issued in one instant from one process all to the first host
    # (a call counts as busy only once under way), which would make this test depend on timing.
    made = router(settings=pair.settings.merged(routing_strategy="simple-shuffle"), check=False)
    assert made.routing_strategy == "simple-shuffle"

    async def ask_all() -> list[Any]:
        messages = [{"role": "user", "content": "Say hello"}]
        calls = [made.acompletion(model=pair.settings.model, messages=messages, max_tokens=4) for _ in range(16)]
        return await asyncio.gather(*calls)

    replies = asyncio.run(ask_all())
    used = Counter(str(reply._hidden_params.get("api_base")) for reply in replies)
    assert set(used) == {f"{s.url}/v1" for s in pair.servers}, used  # all on one: 2 in 65536 by chance


def test_chat_openai_and_agentchat_go_through_the_gateway(pair: Pair) -> None:
    pytest.importorskip("langchain_openai")
    pytest.importorskip("autogen_ext")
    import openai
    from autogen_core.models import UserMessage

    from integrations.agentchat import model_client
    from integrations.langchain import chat_openai

    settings = pair.gateway.client_settings()
    llm = chat_openai(settings=settings)
    assert llm.openai_api_base == pair.gateway.base_url
    assert isinstance(llm.invoke("Say hello").content, str)
    client = model_client(settings=settings)
    reply = asyncio.run(client.create([UserMessage(content="Say hello", source="user")]))
    assert isinstance(reply.content, str)
    # The proxy is on the path: it refuses a wrong key, which the hosts themselves would not check
    # (without a database LiteLLM answers 400 "No connected db." rather than 401).
    with pytest.raises(openai.APIStatusError, match=r"db|key|auth"):
        chat_openai(settings=settings.merged(gateway_key="sk-wrong"), max_retries=0).invoke("Say hello")


def test_a_stopped_host_costs_no_request_through_the_gateway_or_the_clients_own_failover(pair: Pair) -> None:
    from integrations.langchain import chat_openai

    pair.servers[0].stop()
    try:
        used, failures = _ask_all(pair)
        assert failures == []
        assert used == Counter({f"{pair.servers[1].url}/v1": REQUESTS})
        # Without a gateway: the first host refuses, the transport sends the request to the second.
        direct = chat_openai(settings=pair.settings.merged(check=False, max_retries=0))
        assert isinstance(direct.invoke("Say hello").content, str)
        if importlib.util.find_spec("langchain_ollama") is not None:  # the native API fails over too
            from integrations.langchain import chat_ollama

            assert isinstance(chat_ollama(settings=pair.settings.merged(check=False)).invoke("Say hi").content, str)
    finally:
        pair.restart(0)


def test_the_gateway_command_prints_its_url_serves_and_stops_on_ctrl_c(pair: Pair) -> None:
    import os
    import signal
    import subprocess
    import sys

    import httpx

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "integrations", "gateway", "--host", pair.settings.host]
    command += ["--model", pair.settings.model, "--port", "0"]
    environment = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        lines = []
        assert cli.stdout is not None
        for line in cli.stdout:
            lines.append(line)
            if "OLLAMA_INTEGRATIONS_GATEWAY_KEY=" in line:
                break
        text = "".join(lines)
        url = text.split("LiteLLM gateway on ")[1].split()[0]
        key = text.split("OLLAMA_INTEGRATIONS_GATEWAY_KEY=")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and f"OLLAMA_INTEGRATIONS_GATEWAY={url}" in text
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert pair.settings.model in {row["id"] for row in models.json()["data"]}
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=30) == 0
        assert "stopped" in (cli.stderr.read() if cli.stderr else "")
        with pytest.raises(httpx.ConnectError):  # the proxy went with it
            httpx.get(f"{url}/health/liveliness", timeout=5)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
