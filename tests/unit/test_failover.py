"""Without a gateway, a request that cannot connect goes to the next host (a refused port stands in for a dead one)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from integrations._failover import FailoverTransport, HostRotation
from integrations.hosts import parse_host
from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, chat_completion, closed_port


@pytest.fixture
def live(stub: Stub) -> Stub:
    stub.route("POST", "/v1/chat/completions", Reply(body=chat_completion("m", "from the live host")))
    return stub


def _settings(live: Stub, dead: int) -> OllamaSettings:
    return OllamaSettings(host=f"127.0.0.1:{dead},{live.url}", model="m", check=False, max_retries=0)


def test_openai_client_sends_to_the_next_host_when_the_first_refuses(live: Stub) -> None:
    from integrations.openai import openai_client

    client = openai_client(settings=_settings(live, closed_port()))
    for _ in range(2):
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "from the live host"
    assert len(live.bodies("/v1/chat/completions")) == 2
    assert live.bodies("/v1/chat/completions")[0]["temperature"] == 0.8  # still patched on the way


def test_async_clients_fail_over_too(live: Stub) -> None:
    from integrations.openai import async_openai_client

    async def ask() -> str | None:
        client = async_openai_client(settings=_settings(live, closed_port()))
        reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        return reply.choices[0].message.content

    assert asyncio.run(ask()) == "from the live host"


def test_langchain_fails_over(live: Stub) -> None:
    pytest.importorskip("langchain_openai")
    from integrations.langchain import chat_openai

    assert chat_openai(settings=_settings(live, closed_port())).invoke("hi").content == "from the live host"


def test_when_every_host_refuses_the_connect_error_reaches_the_caller() -> None:
    import openai

    from integrations.openai import openai_client

    settings = OllamaSettings(host=f"127.0.0.1:{closed_port()},127.0.0.1:{closed_port()}", check=False, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        openai_client(settings=settings).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_a_refused_host_is_left_out_for_the_cooldown_then_tried_first_again() -> None:
    now = [100.0]
    a, b, c = parse_host("a:1"), parse_host("b:2"), parse_host("c:3")
    rotation = HostRotation((a, b, c), cooldown=30, clock=lambda: now[0])
    assert rotation.order() == [a, b, c]
    rotation.failed(a)
    now[0] += 1
    rotation.failed(b)
    assert rotation.order() == [c, a, b]  # cooling hosts last, the one that comes back soonest first
    now[0] += 29.5
    assert rotation.order() == [a, c, b]  # a's cooldown is over: back in its configured place
    rotation.succeeded(b)
    assert rotation.order() == [a, b, c]


def test_the_request_moves_to_the_other_host_with_its_host_header(live: Stub) -> None:
    dead = parse_host(f"127.0.0.1:{closed_port()}")
    rotation = HostRotation((dead, parse_host(live.url)), cooldown=30)
    with httpx.Client(transport=FailoverTransport(rotation, httpx.HTTPTransport())) as client:
        response = client.post(f"{dead.url}/v1/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in live.requests[-1].headers.items()}
    assert headers["host"] == live.url.removeprefix("http://")
    assert rotation.order()[0].url == live.url


def test_chat_ollama_fails_over_on_the_native_api(stub: Stub) -> None:
    pytest.importorskip("langchain_ollama")
    from integrations.langchain import chat_ollama

    answer = {
        "model": "m",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "native, from the live host"},
        "done": True,
        "done_reason": "stop",
    }
    stub.route("POST", "/api/chat", Reply(body=answer))
    chat = chat_ollama(settings=_settings(stub, closed_port()))
    assert chat.invoke("hi").content == "native, from the live host"
    assert len(stub.bodies("/api/chat")) == 1


def test_one_host_gets_no_failover_layer(live: Stub) -> None:
    from integrations._target import failover_transports, resolve

    target = resolve(None, settings=OllamaSettings(host=live.url, check=False), check=False, pull=None)
    assert failover_transports(target) == (None, None)
    gateway = resolve(
        None, settings=_settings(live, closed_port()).merged(gateway="127.0.0.1:4000"), check=False, pull=None
    )
    assert failover_transports(gateway) == (None, None)  # the gateway fails over itself
    assert failover_transports(gateway, native=True) != (None, None)  # native clients still go to the hosts
