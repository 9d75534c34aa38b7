"""What every factory needs to know before it builds a client: the shared first step.

`prepare` splits a factory's keyword arguments into settings fields and the
framework's own, then `resolve` merges the former into the settings, runs the
checks when asked, and returns a `Target`: the model name to send (a derived one
when ``num_ctx`` asks for it), the servers in failover order, and the sampling
values that must always be sent explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.errors import CapabilityMissing
from integrations.families import is_known, known_capabilities
from integrations.hosts import OllamaHost
from integrations.names import parse_model_name
from integrations.settings import OllamaSettings

__all__ = [
    "OLLAMA_DEFAULT_TEMPERATURE",
    "OLLAMA_DEFAULT_TOP_P",
    "Target",
    "failover_transports",
    "http_clients",
    "prepare",
    "resolve",
    "split_overrides",
]

OLLAMA_DEFAULT_TEMPERATURE = 0.8
"""What Ollama's runner uses when neither the request nor the model sets a temperature."""
OLLAMA_DEFAULT_TOP_P = 0.9
"""What Ollama's runner uses when neither the request nor the model sets top_p."""


@dataclass(frozen=True)
class Target:
    """The resolved model and servers for one factory call."""

    settings: OllamaSettings
    model: str
    requested_model: str
    hosts: tuple[OllamaHost, ...]
    capabilities: frozenset[str]
    capabilities_checked: bool
    temperature: float
    top_p: float
    context_length: int | None = None
    running_context: int | None = None
    """The context the model runs with, when the checks know it (``num_ctx`` of the model sent)."""
    gateway: OllamaHost | None = None
    """Where OpenAI-compatible requests go instead of the hosts (a LiteLLM gateway spreading them over the hosts)."""

    @property
    def api_key(self) -> str:
        """The key OpenAI-compatible clients send: the gateway's when they go through one, else the hosts'."""
        if self.gateway is not None and self.settings.gateway_key is not None:
            return self.settings.gateway_key.get_secret_value()
        return self.settings.api_key.get_secret_value()

    @property
    def host_key(self) -> str:
        """The key for the hosts themselves: what clients of Ollama's native API send (they never use the gateway)."""
        return self.settings.api_key.get_secret_value()

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint: the gateway's when one is configured, else the first host's."""
        return (self.gateway or self.hosts[0]).base_url

    @property
    def openai_hosts(self) -> tuple[OllamaHost, ...]:
        """Where OpenAI-compatible clients send requests, in failover order: the gateway alone, or every host."""
        return (self.gateway,) if self.gateway is not None else self.hosts

    def aliases(self) -> dict[str, str]:
        """Caller's model name -> the name to send, when a derived model carries ``num_ctx``."""
        if self.model == self.requested_model:
            return {}
        parsed = parse_model_name(self.requested_model)
        names = {self.requested_model, parsed.short}
        if parsed.tag == "latest":
            names.add(parsed.model)
        return dict.fromkeys(names, self.model)

    def timeout(self) -> Any:
        """Short connect, long read: a down server fails fast, a cold load is waited for."""
        import httpx

        return httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout)

    def request_defaults(self) -> dict[str, Any]:
        """Body fields every chat or completion request must carry (see `integrations._transport`)."""
        defaults: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p}
        if self.settings.max_tokens is not None:
            defaults["max_tokens"] = self.settings.max_tokens
        if self.settings.seed is not None:
            defaults["seed"] = self.settings.seed
        return defaults


def split_overrides(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a factory's ``**overrides`` into settings fields and the framework's own keyword arguments."""
    fields = OllamaSettings.model_fields
    ours = {key: value for key, value in overrides.items() if key in fields}
    theirs = {key: value for key, value in overrides.items() if key not in fields}
    return ours, theirs


def prepare(
    model: str | None,
    *,
    settings: OllamaSettings | None,
    check: bool | None,
    pull: bool | None,
    requires: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
    derive: bool = True,
) -> tuple[Target, dict[str, Any]]:
    """Every factory's first step: the `Target`, and the keyword arguments meant for the framework.

    ``derive=False`` is for native clients, which send ``num_ctx`` with every request
    and so need no derived model.
    """
    ours, theirs = split_overrides(overrides or {})
    target = resolve(model, settings=settings, check=check, pull=pull, requires=requires, overrides=ours,
                     derive=derive)
    return target, theirs


def resolve(
    model: str | None,
    *,
    settings: OllamaSettings | None,
    check: bool | None,
    pull: bool | None,
    requires: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
    derive: bool = True,
) -> Target:
    """Merge arguments into settings, check the servers when asked, and return the `Target`."""
    changes = dict(overrides or {})
    if model is not None:
        changes["model"] = model
    if pull is not None:
        changes["pull"] = pull
    base = settings if settings is not None else OllamaSettings()
    merged = base.merged(**changes)
    parse_model_name(merged.model)
    needed = tuple(requires)
    if merged.think not in (None, False) and "thinking" not in needed:
        needed += ("thinking",)  # Ollama refuses think for models without it; say so before the first request
    if check if check is not None else merged.check:
        return _checked(merged, needed, derive=derive)
    capabilities = known_capabilities(merged.model)
    if is_known(merged.model):
        # Unchecked, the table is all we know: refuse only what a known family certainly lacks.
        for capability in needed:
            if capability not in capabilities:
                raise CapabilityMissing(merged.model, capability, capabilities)
    return Target(
        settings=merged,
        model=merged.model,
        requested_model=merged.model,
        hosts=merged.hosts,
        capabilities=capabilities,
        capabilities_checked=False,
        temperature=_pick(merged.temperature, None, OLLAMA_DEFAULT_TEMPERATURE),
        top_p=_pick(merged.top_p, None, OLLAMA_DEFAULT_TOP_P),
        gateway=merged.gateway_host,
    )


def _checked(settings: OllamaSettings, requires: tuple[str, ...], *, derive: bool = True) -> Target:
    from integrations import checks

    reachable = checks.reachable_hosts(settings)
    infos = [
        checks.ensure_model(settings.model, pull=settings.pull, host=host, settings=settings) for host in reachable
    ]
    first = infos[0]
    for info in infos:
        checks.require_capabilities(info, requires)
    model = settings.model
    if settings.num_ctx is not None and derive:
        names = {checks.ensure_context(settings.model, settings.num_ctx, host=h, settings=settings) for h in reachable}
        model = names.pop()
    gateway = settings.gateway_host
    if gateway is not None:
        model = settings.model  # the gateway maps the name to the derived model on each host
    # Hosts that answered come first, so a client's first request goes to a live server.
    hosts = (*reachable, *(host for host in settings.hosts if host not in reachable))
    return Target(
        settings=settings,
        model=model,
        requested_model=settings.model,
        hosts=hosts,
        capabilities=first.capabilities,
        capabilities_checked=first.capabilities_reported,
        temperature=_pick(settings.temperature, first.parameters.get("temperature"), OLLAMA_DEFAULT_TEMPERATURE),
        top_p=_pick(settings.top_p, first.parameters.get("top_p"), OLLAMA_DEFAULT_TOP_P),
        context_length=first.context_length,
        running_context=settings.num_ctx if settings.num_ctx is not None else first.num_ctx,
        gateway=gateway,
    )


def _pick(configured: float | None, from_model: object, fallback: float) -> float:
    if configured is not None:
        return configured
    if isinstance(from_model, int | float) and not isinstance(from_model, bool):
        return float(from_model)
    return fallback


def http_clients(target: Target) -> tuple[Any, Any]:
    """A sync and an async ``httpx`` client whose transports patch requests for ``target``."""
    from integrations._transport import (
        AsyncOllamaClient,
        AsyncOllamaTransport,
        OllamaClient,
        OllamaTransport,
        TransportOptions,
    )

    defaults = target.request_defaults()
    aliases = target.aliases()
    timeout = target.timeout()
    sync_inner, async_inner = failover_transports(target)
    options = TransportOptions(
        model=target.requested_model,
        repair_tool_calls=target.settings.repair_tool_calls,
        think=target.settings.think,
        context=target.running_context,
        vision=("vision" in target.capabilities) if target.capabilities_checked else None,
    )
    return (
        OllamaClient(
            transport=OllamaTransport(defaults, aliases, sync_inner, options=options),
            timeout=timeout,
            follow_redirects=True,
        ),
        AsyncOllamaClient(
            transport=AsyncOllamaTransport(defaults, aliases, async_inner, options=options),
            timeout=timeout,
            follow_redirects=True,
        ),
    )


def failover_transports(target: Target, *, native: bool = False) -> tuple[Any, Any]:
    """With several hosts, a sync and an async transport that send a request that cannot connect to the next host.

    ``(None, None)`` with one host, or (for OpenAI-compatible clients, not ``native`` ones)
    when a gateway is configured: the gateway fails over itself.
    """
    hosts = target.hosts if native else target.openai_hosts
    if len(hosts) < 2:
        return None, None
    import httpx

    from integrations._failover import AsyncFailoverTransport, FailoverTransport, HostRotation
    from integrations._transport import _LIMITS

    rotation = HostRotation(hosts, target.settings.cooldown_time)
    return (
        FailoverTransport(rotation, httpx.HTTPTransport(limits=_LIMITS)),
        AsyncFailoverTransport(rotation, httpx.AsyncHTTPTransport(limits=_LIMITS)),
    )
