"""The library against faults a real server cannot be made to produce on demand (refusals, hangs, 5xx, cut streams)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

import integrations
from integrations import checks
from integrations.errors import (
    CapabilityMissing,
    ModelNotFound,
    OllamaServerError,
    OllamaUnreachable,
    OllamaVersionTooOld,
    PullFailed,
)
from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, closed_port

SHOW = {
    "details": {"family": "llama", "parameter_size": "8B", "quantization_level": "Q4_0"},
    "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
    "capabilities": ["completion"],
}
TAGS = {"models": [{"name": "llama3:latest", "model": "llama3:latest", "size": 1, "digest": "ab", "details": {}}]}


def settings_for(url: str, **extra: object) -> OllamaSettings:
    return OllamaSettings(host=url, **extra)


def test_connection_refused_is_reported_fast() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.perf_counter()
    with pytest.raises(OllamaUnreachable) as caught:
        checks.server_info(settings=settings_for(url))
    assert time.perf_counter() - started < 2
    assert url in str(caught.value)
    assert "ollama serve" in str(caught.value)


def test_unknown_host_is_unreachable() -> None:
    with pytest.raises(OllamaUnreachable):
        checks.server_info(settings=settings_for("http://no-such-host.invalid:11434"))


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """Accepts TCP connections and never answers: a hung server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_hung_server_fails_a_check_within_the_check_timeout(silent_listener: str) -> None:
    started = time.perf_counter()
    with pytest.raises(OllamaUnreachable, match=r"accepted the connection and did not answer within 0\.5 s"):
        checks.server_info(settings=settings_for(silent_listener, check_timeout=0.5))
    assert time.perf_counter() - started < 3


def test_a_hung_server_hits_the_read_timeout_when_generating(silent_listener: str) -> None:
    started = time.perf_counter()
    with pytest.raises(OllamaServerError, match="read timeout"):
        checks.warm_model("m", settings=settings_for(silent_listener, timeout=0.5))
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("body", [{"error": "boom"}, None])
def test_server_errors_with_and_without_json(stub: Stub, status: int, body: object) -> None:
    stub.route(
        "GET",
        "/api/version",
        Reply(status, body=body) if body else Reply(status, raw=b"oops", content_type="text/plain"),
    )
    with pytest.raises(OllamaServerError) as caught:
        checks.server_info(settings=settings_for(stub.url))
    assert caught.value.status == status
    assert ("boom" if body else "oops") in str(caught.value)


def test_garbage_json_is_a_server_error(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(raw=b"{not json", content_type="application/json"))
    with pytest.raises(OllamaServerError, match="not the JSON"):
        checks.server_info(settings=settings_for(stub.url))


def test_version_gate(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.1.20"}))
    with pytest.raises(OllamaVersionTooOld) as caught:
        checks.require_version(checks.MIN_VERSION, "the OpenAI-compatible API", settings=settings_for(stub.url))
    assert "0.1.20" in str(caught.value) and checks.MIN_VERSION in str(caught.value)
    import integrations

    with pytest.raises(OllamaVersionTooOld):
        integrations.openai_client("llama3", settings=settings_for(stub.url))


def test_missing_model_lists_local_models_and_the_pull_command(stub: Stub) -> None:
    stub.route("POST", "/api/show", Reply(404, body={"error": "model 'nope:latest' not found"}))
    stub.route("GET", "/api/tags", Reply(body=TAGS))
    with pytest.raises(ModelNotFound) as caught:
        checks.ensure_model("nope", settings=settings_for(stub.url))
    message = str(caught.value)
    assert "ollama pull nope" in message
    assert "llama3:latest" in message


def test_results_are_cached_per_host_and_model(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    import integrations

    settings = settings_for(stub.url)
    for _ in range(50):
        integrations.llm_config("llama3", settings=settings)
    assert len(stub.requests) == 2
    for _ in range(5):
        integrations.llm_config("llama3:latest", settings=settings)
    assert len(stub.requests) == 2, "llama3 and llama3:latest are one model"


def test_capability_missing_names_model_and_capability(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    import integrations

    with pytest.raises(CapabilityMissing) as caught:
        integrations.model_client("llama3", settings=settings_for(stub.url), requires=("tools",))
    assert "'llama3'" in str(caught.value) and "tools" in str(caught.value)


PULL_LINES = [
    {"status": "pulling manifest"},
    {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 100},
    {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 100, "completed": 60},
    {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 100, "completed": 100},
    {"status": "verifying sha256 digest"},
    {"status": "writing manifest"},
    {"status": "success"},
]


def test_pull_passes_progress_events_then_returns_info(stub: Stub) -> None:
    pulled = threading.Event()
    stub.route("POST", "/api/pull", lambda r: (pulled.set(), Reply(lines=PULL_LINES))[1])
    stub.route(
        "POST", "/api/show", lambda r: Reply(body=SHOW) if pulled.is_set() else Reply(404, body={"error": "not found"})
    )
    stub.route("GET", "/api/tags", Reply(body={"models": []}))
    events: list[checks.PullProgress] = []
    info = checks.ensure_model("llama3", pull=True, on_progress=events.append, settings=settings_for(stub.url))
    assert info.context_length == 8192
    assert events[0].status == "pulling manifest"
    assert events[-1].done
    assert [e.completed for e in events if e.digest] == [None, 60, 100]


def test_pull_error_line_is_pull_failed(stub: Stub) -> None:
    lines = [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    stub.route("POST", "/api/pull", Reply(lines=lines))
    with pytest.raises(PullFailed, match="file does not exist"):
        checks.pull_model("nope", settings=settings_for(stub.url))


def test_pull_cut_mid_stream_is_pull_failed(stub: Stub) -> None:
    stub.route("POST", "/api/pull", Reply(lines=PULL_LINES, cut_after=3))
    events: list[checks.PullProgress] = []
    with pytest.raises(PullFailed):
        checks.pull_model("llama3", on_progress=events.append, settings=settings_for(stub.url))
    assert len(events) == 3


def test_api_key_is_sent_as_bearer_to_the_native_api(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    checks.server_info(settings=settings_for(stub.url, api_key="sk-native"))
    assert stub.requests[-1].headers["authorization"] == "Bearer sk-native"


def test_failover_skips_an_unreachable_first_host(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    import integrations

    dead = f"http://127.0.0.1:{closed_port()}"
    entries = integrations.config_list("llama3", settings=settings_for(f"{dead},{stub.url}"))
    # The host that answered the check comes first; the other stays, for when it comes back.
    assert [e["base_url"] for e in entries] == [f"{stub.url}/v1", f"{dead}/v1"]


def test_all_hosts_unreachable_raises(stub: Stub) -> None:
    import integrations

    dead = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(OllamaUnreachable):
        integrations.config_list("llama3", settings=settings_for(dead))


def test_num_ctx_above_the_model_maximum_is_a_config_error(stub: Stub) -> None:
    from integrations.errors import ConfigError

    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/show", Reply(body=SHOW))
    import integrations

    with pytest.raises(ConfigError, match="8192"):
        integrations.openai_client("llama3", settings=settings_for(stub.url, num_ctx=65536))


def test_chat_stream_cut_mid_response_is_an_error_not_a_short_answer(stub: Stub) -> None:
    frame = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"part"},"finish_reason":null}]}\n\n'
    )
    stub.route("POST", "/v1/chat/completions", Reply(lines=[frame, frame, frame], cut_after=2, content_type="text/event-stream"))
    client = integrations.openai_client("m", settings=OllamaSettings(host=stub.url, max_retries=0), check=False)
    received: list[str] = []
    # The OpenAI SDK lets the transport error through once a stream has started.
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete") as caught:
        received.extend(chunk.choices[0].delta.content or "" for chunk in stream)
    assert received == ["part", "part"]
    assert "peer closed" in str(caught.value)
