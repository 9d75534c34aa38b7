"""LiteLLM in front of several Ollama hosts: a `litellm.Router`, the proxy's config, and the proxy as a process.

One deployment per host for the model and each spelling of its name, all speaking to
Ollama's OpenAI-compatible ``/v1`` (so the factories' transports still patch requests and
repair answers on the client side), with LiteLLM's routing strategy, retries and cooldown
taken from the settings. The router and the proxy are built from the same data, so Python
users without a proxy process get the same routing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations._deps import require, require_installed
from integrations._target import Target, resolve
from integrations.errors import ConfigError, GatewayFailed
from integrations.names import parse_model_name
from integrations.settings import OllamaSettings, env_name

if TYPE_CHECKING:
    from litellm.router import Router

__all__ = ["Gateway", "deployments", "model_names", "proxy_config", "router", "router_settings"]

PROVIDER = "openai"
"""LiteLLM's provider for an OpenAI-compatible server: requests reach Ollama's ``/v1`` as sent."""
MASTER_KEY_FROM_ENV = "os.environ/LITELLM_MASTER_KEY"
"""LiteLLM's syntax for a value read from the proxy's environment."""
STARTUP_TIMEOUT = 180.0
"""Seconds the proxy may take to come up: importing LiteLLM's proxy takes tens of seconds on a busy small machine."""


def model_names(model: str) -> list[str]:
    """The spellings a client may use for ``model``: as written, short, and without ``:latest``.

    >>> model_names("llama3.2")
    ['llama3.2', 'llama3.2:latest']
    >>> model_names("qwen2.5-coder:0.5b")
    ['qwen2.5-coder:0.5b']
    """
    parsed = parse_model_name(model)
    names = [model, parsed.short]
    if parsed.tag == "latest":
        names.append(parsed.model)
    return list(dict.fromkeys(names))


def deployments(target: Target, *, api_key: str | None = None) -> list[dict[str, Any]]:
    """LiteLLM ``model_list`` entries: one per host and name, each sending the model the host should run.

    The deployments make no retries of their own (``max_retries: 0``): a failed request
    goes back to the router, which retries it on another host.
    """
    key = target.api_key if api_key is None else api_key
    settings = target.settings
    return [
        {
            "model_name": name,
            "litellm_params": {
                "model": f"{PROVIDER}/{target.model}",
                "api_base": host.base_url,
                "api_key": key,
                "timeout": settings.timeout,
                "stream_timeout": settings.timeout,
                "max_retries": 0,
            },
            "model_info": {"id": f"{host.url}#{name}"},
        }
        for host in target.hosts
        for name in model_names(target.requested_model)
    ]


def router_settings(settings: OllamaSettings) -> dict[str, Any]:
    """``router_settings`` of the proxy config, and the keyword arguments of `litellm.Router`, from ``settings``."""
    return {
        "routing_strategy": settings.routing_strategy,
        "num_retries": settings.max_retries,
        "allowed_fails": settings.allowed_fails,
        "cooldown_time": settings.cooldown_time,
        "timeout": settings.timeout,
        "stream_timeout": settings.timeout,
        "retry_after": 0,
    }


def _target(settings: OllamaSettings | None, model: str | None, check: bool | None, pull: bool | None) -> Target:
    base = settings if settings is not None else OllamaSettings()
    # The router talks to the hosts themselves: a gateway setting (where clients go) must not point it at itself.
    return resolve(model, settings=base.merged(gateway=None), check=check, pull=pull)


def proxy_config(
    settings: OllamaSettings | None = None,
    *,
    model: str | None = None,
    check: bool | None = False,
    pull: bool | None = None,
    api_key: str | None = None,
    master_key: str | None = None,
) -> dict[str, Any]:
    """The LiteLLM proxy's ``config.yaml`` as data.

    ``api_key`` replaces the hosts' key (e.g. masked). The proxy refuses to start without a
    master key: ``master_key``, else the settings' ``gateway_key``, else the config reads
    ``LITELLM_MASTER_KEY`` from the proxy's environment. With ``check``, every host is asked
    first and derived models carrying ``num_ctx`` are created, so the deployments name what
    each host really runs.
    """
    if master_key is None and settings is not None and settings.gateway_key is not None:
        master_key = settings.gateway_key.get_secret_value()
    target = _target(settings, model, check, pull)
    return {
        "model_list": deployments(target, api_key=api_key),
        "router_settings": router_settings(target.settings),
        "litellm_settings": {"request_timeout": target.settings.timeout},
        "general_settings": {"master_key": master_key if master_key is not None else MASTER_KEY_FROM_ENV},
    }


def router(
    model: str | None = None,
    *,
    settings: OllamaSettings | None = None,
    check: bool | None = None,
    pull: bool | None = None,
    requires: Iterable[str] = (),
    **overrides: Any,
) -> Router:
    """A ``litellm.Router`` spreading requests for the model over every configured host.

    Use it as LiteLLM documents: ``router.completion(model="qwen2.5-coder:0.5b", messages=...)``
    or ``await router.acompletion(...)``. Keyword ``overrides`` that are settings fields change
    the settings; the rest go to ``litellm.Router`` (e.g. ``fallbacks=...``).
    """
    from integrations._target import prepare

    require("litellm", "gateway")
    from litellm.router import Router as LiteLLMRouter

    base = settings if settings is not None else OllamaSettings()
    target, theirs = prepare(
        model, settings=base.merged(gateway=None), check=check, pull=pull, requires=requires, overrides=overrides
    )
    made: Router = LiteLLMRouter(model_list=deployments(target), **{**router_settings(target.settings), **theirs})
    return made


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the proxy binds it a moment later)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class Gateway:
    """The real LiteLLM proxy in a child process, configured from the settings, on a loopback port.

    Usage::

        with Gateway(settings) as gateway:
            openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key)
            chat_openai(settings=gateway.client_settings())

    ``stop()`` (or leaving the ``with``) ends the process; its log is kept in ``log_path``
    until then. The config file holds the hosts' key, so it is written readable by its owner only.
    """

    def __init__(
        self,
        settings: OllamaSettings | None = None,
        *,
        model: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        check: bool = True,
        pull: bool | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        if not _is_loopback(host):
            raise ConfigError(
                f"the gateway binds to loopback only, not {host!r}: it forwards requests with the hosts' key. "
                "Put a reverse proxy with authentication in front of it to share it"
            )
        self.settings = settings if settings is not None else OllamaSettings()
        self.model = model
        self.host = host
        self.port = port
        self.check = check
        self.pull = pull
        self.startup_timeout = startup_timeout
        configured = self.settings.gateway_key
        self.key = configured.get_secret_value() if configured is not None else f"sk-{secrets.token_hex(24)}"
        """The master key the proxy requires: the settings' ``gateway_key``, else a new random one."""
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint: what `OllamaSettings.gateway` is set to, plus ``/v1``."""
        return f"{self.url}/v1"

    def client_settings(self) -> OllamaSettings:
        """The settings with ``gateway`` and ``gateway_key`` pointing the factories at this proxy."""
        return self.settings.merged(gateway=self.url, gateway_key=self.key)

    @property
    def log_path(self) -> Path | None:
        return Path(self._folder.name) / "litellm.log" if self._folder is not None else None

    def config_text(self) -> str:
        """The YAML the proxy is started with (the key unmasked: the proxy needs it)."""
        from integrations.config_render import to_yaml

        config = proxy_config(self.settings, model=self.model, check=self.check, pull=self.pull, master_key=self.key)
        return to_yaml(config)

    def start(self) -> Gateway:
        """Write the config, start the proxy, and return once it answers its liveness probe."""
        if self._process is not None:
            return self
        require_installed("litellm.proxy.proxy_cli", "gateway")
        from integrations.config_render import write_private

        text = self.config_text()
        self._folder = tempfile.TemporaryDirectory(prefix="ollama-integrations-gateway-")
        config = write_private(Path(self._folder.name) / "config.yaml", text)
        if not self.port:
            self.port = free_port(self.host)
        command = [
            sys.executable,
            "-m",
            "litellm.proxy.proxy_cli",
            "--config",
            str(config),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--num_workers",
            "1",
            "--telemetry",
            "False",
        ]
        # The proxy fetches a price table from the internet at start unless told to use its own copy;
        # prices mean nothing for Ollama, and a machine without internet would wait for the fetch.
        environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        with (Path(self._folder.name) / "litellm.log").open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,  # Ctrl-C reaches the CLI, which stops the proxy in order
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll() if self._process is not None else 1
            if code is not None:
                raise GatewayFailed(self.url, f"exited with code {code} while starting; its log:\n{self._log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/liveliness", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise GatewayFailed(
                    self.url, f"did not answer within {self.startup_timeout:g} s; its log:\n{self._log_tail()}"
                )
            time.sleep(0.25)

    def _log_tail(self, lines: int = 20) -> str:
        path = self.log_path
        if path is None or not path.is_file():
            return "(no log)"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def wait(self) -> None:
        """Block until the caller is interrupted; raise `GatewayFailed` if the proxy ends on its own first."""
        if self._process is None:
            return
        code = self._process.wait()
        raise GatewayFailed(self.url, f"stopped on its own with code {code}; its log:\n{self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """End the proxy: SIGTERM, then SIGKILL after ``timeout`` seconds; remove its config."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_environment(gateway: Gateway) -> dict[str, str]:
    """The variables that point the factories of another process at a running gateway."""
    return {env_name("gateway"): gateway.url, env_name("gateway_key"): gateway.key}
