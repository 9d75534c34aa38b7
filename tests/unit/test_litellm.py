"""The LiteLLM gateway's config and router come from the settings; the factories follow the gateway setting."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from integrations._target import resolve
from integrations.adapters.litellm import deployments, model_names, proxy_config, router_settings
from integrations.config_render import MASK, render_config
from integrations.errors import ConfigError
from integrations.settings import OllamaSettings, env_name
from tests.stub import Reply, Stub, closed_port

SETTINGS = OllamaSettings(
    host="gpu-a:11434,gpu-b:11434",
    model="llama3.2",
    api_key="host-secret",
    gateway_key="sk-gateway-secret",
    routing_strategy="simple-shuffle",
    allowed_fails=3,
    cooldown_time=12.5,
    max_retries=4,
    timeout=90,
)


def test_gateway_settings_are_read_from_their_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_name("gateway") == "OLLAMA_INTEGRATIONS_GATEWAY"
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_GATEWAY", "127.0.0.1:4000")
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_GATEWAY_KEY", "sk-from-env")
    monkeypatch.setenv("OLLAMA_INTEGRATIONS_ROUTING_STRATEGY", "latency-based-routing")
    settings = OllamaSettings()
    assert settings.gateway == "http://127.0.0.1:4000"
    assert settings.gateway_host is not None and settings.gateway_host.base_url == "http://127.0.0.1:4000/v1"
    assert settings.gateway_key is not None and settings.gateway_key.get_secret_value() == "sk-from-env"
    assert settings.routing_strategy == "latency-based-routing"


def test_a_bad_gateway_names_the_gateway_setting_not_the_host() -> None:
    with pytest.raises(ConfigError, match="OLLAMA_INTEGRATIONS_GATEWAY 'ftp://x:1' has scheme 'ftp'"):
        OllamaSettings(gateway="ftp://x:1")
    with pytest.raises(ConfigError, match="routing_strategy"):
        OllamaSettings(routing_strategy="round-robin")


def test_openai_compatible_factories_go_to_the_gateway_and_native_ones_to_the_hosts() -> None:
    settings = SETTINGS.merged(gateway="http://127.0.0.1:4000", num_ctx=8192)
    target = resolve(None, settings=settings, check=False, pull=None)
    assert target.base_url == "http://127.0.0.1:4000/v1"
    assert target.openai_hosts == (settings.gateway_host,)
    assert target.api_key == "sk-gateway-secret" and target.host_key == "host-secret"
    assert target.aliases() == {}  # the gateway maps names; clients send the name they were given
    from integrations.adapters import _native, ag2, openai

    assert [entry["base_url"] for entry in ag2.config_list(settings=settings, check=False)] == [target.base_url]
    client = openai.openai_client(settings=settings, check=False)
    assert str(client.base_url) == "http://127.0.0.1:4000/v1/" and client.api_key == "sk-gateway-secret"
    assert _native.client_kwargs(target)["headers"]["Authorization"] == "Bearer host-secret"


def test_without_a_gateway_ag2_keeps_one_entry_per_host() -> None:
    from integrations.adapters import ag2

    entries = ag2.config_list(settings=SETTINGS, check=False)
    assert [e["base_url"] for e in entries] == ["http://gpu-a:11434/v1", "http://gpu-b:11434/v1"]


def test_one_deployment_per_host_and_name_with_the_router_settings() -> None:
    target = resolve(None, settings=SETTINGS, check=False, pull=None)
    listed = deployments(target)
    assert model_names("llama3.2") == ["llama3.2", "llama3.2:latest"]
    assert [(d["model_name"], d["litellm_params"]["api_base"]) for d in listed] == [
        ("llama3.2", "http://gpu-a:11434/v1"),
        ("llama3.2:latest", "http://gpu-a:11434/v1"),
        ("llama3.2", "http://gpu-b:11434/v1"),
        ("llama3.2:latest", "http://gpu-b:11434/v1"),
    ]
    assert {d["litellm_params"]["model"] for d in listed} == {"openai/llama3.2"}
    assert router_settings(SETTINGS) == {
        "routing_strategy": "simple-shuffle",
        "num_retries": 4,
        "allowed_fails": 3,
        "cooldown_time": 12.5,
        "timeout": 90.0,
        "stream_timeout": 90.0,
        "retry_after": 0,
    }


def test_the_config_masks_both_keys_unless_asked() -> None:
    masked = render_config("litellm", SETTINGS)
    assert "host-secret" not in masked and "sk-gateway-secret" not in masked and masked.count(MASK) == 5
    shown = render_config("litellm", SETTINGS, show_secrets=True)
    assert shown.count('"host-secret"') == 4 and 'master_key: "sk-gateway-secret"' in shown
    unset = render_config("litellm", SETTINGS.merged(gateway_key=None))
    assert 'master_key: "os.environ/LITELLM_MASTER_KEY"' in unset


def test_the_rendered_config_loads_in_litellms_own_proxy_config_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table fetch from the internet
    proxy_server = pytest.importorskip("litellm.proxy.proxy_server")
    path = tmp_path / "config.yaml"
    path.write_text(render_config("litellm", SETTINGS, show_secrets=True), encoding="utf-8")
    loaded, models, _ = asyncio.run(proxy_server.ProxyConfig().load_config(router=None, config_file_path=str(path)))
    assert len(models) == 4
    assert {(m["model_name"], m["litellm_params"]["api_base"]) for m in models} == {
        (d["model_name"], d["litellm_params"]["api_base"]) for d in proxy_config(SETTINGS)["model_list"]
    }
    assert (loaded.routing_strategy, loaded.num_retries, loaded.allowed_fails, loaded.cooldown_time) == (
        "simple-shuffle",
        4,
        3,
        12.5,
    )
    assert loaded.timeout == 90.0
    assert proxy_server.master_key == "sk-gateway-secret"


def test_router_is_a_litellm_router_over_every_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    pytest.importorskip("litellm")
    from integrations.litellm import router

    made = router(settings=SETTINGS.merged(gateway="http://127.0.0.1:4000"), check=False)
    assert made.routing_strategy == "simple-shuffle" and made.num_retries == 4 and made.cooldown_time == 12.5
    bases = sorted({d["litellm_params"]["api_base"] for d in made.get_model_list()})
    assert bases == ["http://gpu-a:11434/v1", "http://gpu-b:11434/v1"]  # the hosts, never the gateway itself


def test_the_cli_prints_the_litellm_config() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "integrations", "config", "--format", "litellm", "--host", "a:1,b:2", "-m", "m:1"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('api_base: "http://') == 2 and "routing_strategy" in done.stdout


@pytest.mark.parametrize(
    ("reply", "ok", "fragment"),
    [
        ({"data": [{"id": "m"}, {"id": "other"}]}, True, "OpenAI-compatible endpoint"),
        ({"data": [{"id": "other"}]}, False, "serves other"),
        (401, False, "refused the key"),
    ],
)
def test_doctor_says_whether_the_gateway_serves_the_model(
    stub: Stub, reply: dict[str, object] | int, ok: bool, fragment: str
) -> None:
    from integrations.doctor import gateway_check

    answer = Reply(status=reply) if isinstance(reply, int) else Reply(body=reply)
    stub.route("GET", "/v1/models", answer)
    check = gateway_check(OllamaSettings(model="m", gateway=stub.url, gateway_key="sk-doctor"))
    assert check.ok is ok and fragment in check.detail
    assert stub.requests[-1].headers["authorization"] == "Bearer sk-doctor"
    if not ok:
        assert check.fix


def test_doctor_reports_an_unreachable_gateway_with_the_command_to_start_it() -> None:
    from integrations.doctor import diagnose

    report = diagnose(OllamaSettings(host=f"127.0.0.1:{closed_port()}", gateway=f"127.0.0.1:{closed_port()}"))
    row = report.checks[-1]
    assert row.name.startswith("gateway") and not row.ok
    assert row.fix is not None and "ollama-integrations gateway" in row.fix


def test_env_format_masks_the_gateway_key_unless_asked() -> None:
    settings = SETTINGS.merged(gateway="127.0.0.1:4000")
    masked = render_config("env", settings)
    assert f"OLLAMA_INTEGRATIONS_GATEWAY_KEY={MASK}" in masked and "OLLAMA_INTEGRATIONS_GATEWAY=http://127.0.0.1:4000" in masked
    assert "OLLAMA_INTEGRATIONS_GATEWAY_KEY=sk-gateway-secret" in render_config("env", settings, show_secrets=True)
