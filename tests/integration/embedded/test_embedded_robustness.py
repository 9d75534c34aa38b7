"""Bad input over raw HTTP: each gets a 4xx with an error body, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from integrations.embedded import EmbeddedServer
from integrations.errors import ConfigError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def http(ollama_server):
    with httpx.Client(base_url=ollama_server.url, timeout=60) as client:
        yield client
        assert client.get("/api/version").status_code == 200  # still serving afterwards


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/chat", b"{not json", 400, None),
        ("/api/chat", b"", 400, "missing request body"),
        ("/api/chat", b"[1, 2]", 400, None),
        ("/api/chat", b'{"messages": []}', 400, "model is required"),
        ("/api/show", b"{}", 400, "model is required"),
        ("/api/chat", b'{"model": "ghost", "messages": [{"role": "user", "content": "x"}]}', 404, "model 'ghost' not found"),
        ("/api/generate", b'{"model": "ghost", "prompt": "x"}', 404, "model 'ghost' not found"),
        ("/api/embed", b'{"model": "ghost", "input": "x"}', 404, 'model "ghost" not found, try pulling it first'),
        ("/api/generate", b'{"model": "smollm2:135m", "prompt": "x", "options": {"num_predict": -3}}', 400, None),
        ("/api/generate", b'{"model": "smollm2:135m", "prompt": "x", "options": {"num_ctx": "big"}}', 400,
         'option "num_ctx" must be of type integer'),
        ("/api/chat", b'{"model": "smollm2:135m", "messages": [], "keep_alive": "300"}', 400,
         'time: missing unit in duration "300"'),
        ("/api/pull", b'{"model": "../../etc/passwd"}', 400, "invalid model name"),
        ("/api/pull", b'{"model": "/abs/path:tag"}', 400, "invalid model name"),
        ("/api/create", b'{"model": "x", "from": "../y"}', 400, "invalid model name"),
        ("/api/create", b'{"model": "x"}', 400, "neither 'from' or 'files' was specified"),
        ("/api/embed", b'{"model": "smollm2:135m", "input": [1, 2]}', 400, "invalid input type"),
        ("/api/chat", b'{"model": "smollm2:135m", "messages": [{"content": "no role"}]}', 400, None),
    ],
)
def test_bad_native_requests(http, path, body, status, message):
    response = http.post(path, content=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error
    if message is not None:
        assert error == message


def test_negative_num_predict_on_chat(http, ollama_model):
    response = http.post("/api/chat", json={"model": ollama_model, "messages": [{"role": "user", "content": "x"}],
                                            "options": {"num_predict": -7}})
    assert response.status_code == 400
    assert "num_predict" in response.json()["error"]


def test_huge_body_is_413(http):
    response = http.post("/api/chat", content=b"x" * (33 * 1024 * 1024))
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_unknown_route_and_wrong_method(http):
    missing = http.get("/api/nothing")
    assert missing.status_code == 404 and missing.text == "404 page not found"
    wrong = http.get("/api/chat")
    assert wrong.status_code == 405 and wrong.text == "405 method not allowed"


def test_root_and_version(http):
    assert http.get("/").text == "Ollama is running"
    head = http.head("/")
    assert head.status_code == 200 and head.content == b""
    assert http.get("/api/version").json() == {"version": "0.32.15"}


def test_openai_errors_use_the_envelope(http):
    bad = http.post("/v1/chat/completions", content=b"{oops")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert bad.json()["error"]["param"] is None
    missing = http.post("/v1/chat/completions",
                        json={"model": "ghost", "messages": [{"role": "user", "content": "x"}], "stream": True})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"message": "model 'ghost' not found", "type": "not_found_error",
                                       "param": None, "code": None}
    empty = http.post("/v1/embeddings", json={"model": "smollm2:135m", "input": []})
    assert empty.status_code == 400 and empty.json()["error"]["message"] == "invalid input"


def test_streamed_chat_is_ndjson(http, ollama_model):
    with http.stream("POST", "/api/chat", json={"model": ollama_model, "options": {"num_predict": 6},
                                               "messages": [{"role": "user", "content": "hi"}]}) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = list(response.iter_lines())
    assert all(lines), "no blank lines in NDJSON"
    assert '"done":true' in lines[-1]


def test_non_loopback_bind_refused():
    with pytest.raises(ConfigError) as err:
        EmbeddedServer(host="0.0.0.0")
    assert "0.0.0.0" in str(err.value) and "allow_remote" in str(err.value)
    EmbeddedServer(host="localhost")  # loopback names are fine (not started)


def test_host_header_and_origin_checks(http):
    assert http.get("/api/version", headers={"Host": "evil.example.com"}).status_code == 403
    assert http.get("/api/version", headers={"Host": "localhost:11434"}).status_code == 200
    assert http.get("/api/version", headers={"Host": "192.168.1.5"}).status_code == 200
    denied = http.get("/api/version", headers={"Origin": "https://evil.example.com"})
    assert denied.status_code == 403 and denied.content == b""
    allowed = http.get("/api/version", headers={"Origin": "http://localhost:3000"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    preflight = http.options("/v1/chat/completions", headers={
        "Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-stainless-os"})
    assert preflight.status_code == 204
    assert "x-stainless-os" in preflight.headers["access-control-allow-headers"]


def test_client_disconnect_stops_generation(ollama_server, ollama_model):
    """Closing a stream early frees the model at once instead of generating to the end."""
    if not ollama_server.embedded:
        pytest.skip("inspects the embedded server's model lock")
    import time

    # 64 strings of at least 1,000 characters: the model cannot end before num_predict, so a generation
    # that kept running after the client left would hold the model for 2,000 tokens
    long_output = {"type": "array", "items": {"type": "string", "minLength": 1000}, "minItems": 64}
    body = {"model": ollama_model, "messages": [{"role": "user", "content": "Write a very long essay."}],
            "format": long_output, "options": {"num_predict": 2000}}
    with httpx.Client(base_url=ollama_server.url, timeout=60) as client, \
            client.stream("POST", "/api/chat", json=body) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i == 2:
                break
    runtime = ollama_server.server.runtime
    deadline = time.monotonic() + 10
    while any(m.lock.locked() or m.active for m in runtime.loaded()):
        assert time.monotonic() < deadline, "generation kept running after the client left"
        time.sleep(0.02)


def test_concurrent_requests_with_different_num_ctx_reload_safely(http, ollama_model):
    """Requests that need the model reloaded wait for in-flight ones instead of pulling it from under them."""
    import threading

    statuses: list[int] = []

    def ask(num_ctx: int) -> None:
        r = http.post("/api/generate", json={"model": ollama_model, "prompt": "Hi", "stream": False,
                                             "options": {"num_predict": 3, "num_ctx": num_ctx}})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in (1024, 2048, 1024, 2048, 1024, 2048)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert statuses == [200] * 6
