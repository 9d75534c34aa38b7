"""A host that accepts connections and never answers: checks give up within their own short timeout."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

import integrations
from integrations import checks
from integrations.cli import app
from integrations.errors import OllamaUnreachable
from integrations.settings import OllamaSettings
from tests.stub import Reply, Stub, running_stub

HANG = Reply(delay=120, body={})


def test_a_hung_host_fails_the_version_check_within_the_check_timeout(stub: Stub) -> None:
    stub.route("GET", "/api/version", HANG)
    settings = OllamaSettings(host=stub.url, check_timeout=1)
    started = time.monotonic()
    with pytest.raises(OllamaUnreachable) as caught:
        checks.server_info(settings=settings)
    assert time.monotonic() - started < 4
    message = str(caught.value)
    assert stub.url in message
    assert "accepted the connection and did not answer within 1 s" in message
    assert "OLLAMA_INTEGRATIONS_CHECK_TIMEOUT" in message and "broken stream" not in message


@pytest.mark.parametrize(
    ("path", "ask"),
    [
        ("/api/tags", lambda s: checks.list_models(settings=s)),
        ("/api/show", lambda s: checks.model_info("m", settings=s)),
        ("/api/ps", lambda s: checks.running_models(settings=s)),
    ],
)
def test_every_check_uses_the_short_timeout(stub: Stub, path: str, ask: object) -> None:
    stub.route("GET", path, HANG)
    stub.route("POST", path, HANG)
    started = time.monotonic()
    with pytest.raises(OllamaUnreachable, match="did not answer within 1 s"):
        ask(OllamaSettings(host=stub.url, check_timeout=1))  # type: ignore[operator]
    assert time.monotonic() - started < 4


def test_the_first_factory_call_fails_fast_and_fails_over(stub: Stub) -> None:
    stub.route("GET", "/api/version", HANG)
    with pytest.raises(OllamaUnreachable, match="did not answer within 1 s"):
        integrations.openai_client("m", settings=OllamaSettings(host=stub.url, check_timeout=1))
    for healthy in running_stub():
        healthy.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
        healthy.route("POST", "/api/show", Reply(body={"capabilities": ["completion"], "model_info": {}, "details": {}}))
        started = time.monotonic()
        integrations.openai_client("m", settings=OllamaSettings(host=f"{stub.url},{healthy.url}", check_timeout=1))
        assert time.monotonic() - started < 4
        assert healthy.bodies("/api/show") == [{"model": "m"}]  # the checks moved on to the host that answers


def test_doctor_reports_the_hang_within_seconds(stub: Stub) -> None:
    from integrations.doctor import diagnose

    stub.route("GET", "/api/version", HANG)
    report = diagnose(OllamaSettings(host=stub.url, check_timeout=1))
    reachable = next(check for check in report.checks if check.name == "reachable")
    assert not reachable.ok and "accepted the connection and did not answer within 1 s" in reachable.detail
    started = time.monotonic()
    result = CliRunner().invoke(app, ["doctor", "--host", stub.url])  # the default check timeout
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert elapsed < OllamaSettings().check_timeout + 3, elapsed


def test_generation_keeps_the_long_timeout(stub: Stub) -> None:
    stub.route("GET", "/api/version", Reply(body={"version": "0.12.0"}))
    stub.route("POST", "/api/generate", Reply(delay=2, body={"model": "m", "response": "", "done": True}))
    stub.route("GET", "/api/ps", Reply(body={"models": []}))
    checks.warm_model("m", settings=OllamaSettings(host=stub.url, check_timeout=1))  # slower than a check may be
