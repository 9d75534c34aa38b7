"""`diagnose`: everything ``ollama-integrations doctor`` reports, as data.

For each configured host: reachable, version, local models with capabilities and
context length, what is loaded; for the configured model: pulled, tools, vision,
context, the context it is loaded with, and (asked with ``tools``) how a one-shot
tool-call probe came back. Each failed check carries the fix, so the CLI only has to draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from integrations import checks
from integrations.errors import ModelNotFound, OllamaError
from integrations.settings import OllamaSettings, env_name

__all__ = ["Check", "HostReport", "Report", "ToolProbe", "diagnose", "gateway_check", "probe_tools"]


@dataclass(frozen=True)
class Check:
    """One line of the verdict: what was checked, whether it passed, and the fix when it did not."""

    host: str
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    warning: bool = False
    """Passed, but worth a look (the fix says what to do)."""


@dataclass(frozen=True)
class ToolProbe:
    """How a model answered one request that needs an offered tool, read without any repair.

    ``structured``: Ollama parsed a tool call. ``text``: the call came back as JSON text
    in ``content``, which the factories' clients turn into a tool call (``repair_tool_calls``).
    ``neither``: no call at all.
    """

    outcome: Literal["structured", "text", "neither"]
    detail: str


@dataclass
class HostReport:
    """What one server said."""

    host: str
    reachable: bool
    version: str | None = None
    error: str | None = None
    models: list[tuple[checks.LocalModel, checks.ModelInfo | None]] = field(default_factory=list)
    running: list[checks.RunningModel] = field(default_factory=list)


@dataclass
class Report:
    """The whole diagnosis."""

    settings: OllamaSettings
    hosts: list[HostReport]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def fixes(self) -> list[str]:
        seen: list[str] = []
        for check in self.checks:
            if check.fix and check.fix not in seen:
                seen.append(check.fix)
        return seen


def diagnose(settings: OllamaSettings | None = None, *, requires: tuple[str, ...] = ()) -> Report:
    """Ask every configured host about itself and the configured model. Never raises for server trouble."""
    settings = settings if settings is not None else OllamaSettings()
    hosts: list[HostReport] = []
    verdict: list[Check] = []
    for host in settings.hosts:
        report = HostReport(host.url, reachable=False)
        hosts.append(report)
        try:
            info = checks.server_info(host, settings=settings, refresh=True)
        except OllamaError as exc:
            report.error = str(exc)
            verdict.append(
                Check(
                    host.url,
                    "reachable",
                    False,
                    str(getattr(exc, "reason", exc)),
                    f"Start Ollama ('ollama serve'), point {env_name('host')} at it, or run the embedded server: "
                    "'ollama-integrations serve' (or add --embedded to 'ollama-integrations run').",
                )
            )
            continue
        report.reachable, report.version = True, info.version
        verdict.append(Check(host.url, "reachable", True, f"Ollama {info.version}"))
        too_old = info.older_than(checks.MIN_VERSION)
        verdict.append(
            Check(
                host.url,
                "version",
                not too_old,
                info.version,
                f"Upgrade Ollama to {checks.MIN_VERSION} or newer: https://ollama.com/download" if too_old else None,
            )
        )
        try:
            report.models = checks.describe_models(host, settings=settings)
            report.running = checks.running_models(host, settings=settings)
        except OllamaError as exc:
            report.error = str(exc)
        verdict.extend(_model_checks(settings, host.url, requires, report.running))
    if settings.gateway_host is not None:
        verdict.append(gateway_check(settings))
    return Report(settings, hosts, verdict)


def gateway_check(settings: OllamaSettings) -> Check:
    """Whether the gateway answers, accepts the key, and serves the model (its ``/v1/models``)."""
    import httpx

    gateway = settings.gateway_host
    if gateway is None:
        raise ValueError("gateway_check needs settings with a gateway")
    name = f"gateway serves {settings.model}"
    key = (settings.gateway_key or settings.api_key).get_secret_value()
    start = f"Start it with 'ollama-integrations gateway' and set {env_name('gateway')} to the URL it prints"
    try:
        response = httpx.get(
            f"{gateway.base_url}/models",
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(settings.check_timeout, connect=settings.connect_timeout),
        )
    except httpx.HTTPError as exc:
        return Check(gateway.url, name, False, f"not reachable: {exc}", f"{start}, or unset {env_name('gateway')}.")
    if response.status_code in (401, 403):
        return Check(
            gateway.url,
            name,
            False,
            f"the gateway refused the key ({response.status_code})",
            f"Set {env_name('gateway_key')} to the key 'ollama-integrations gateway' printed.",
        )
    try:
        served = {str(row.get("id")) for row in response.json().get("data") or []}
    except (ValueError, AttributeError, TypeError):
        served = set()
    if response.status_code != 200 or not served:
        detail = f"answered {response.status_code} without a model list: is it a LiteLLM proxy?"
        return Check(gateway.url, name, False, detail, f"{start}.")
    if settings.model not in served:
        listed = ", ".join(sorted(served))
        return Check(
            gateway.url,
            name,
            False,
            f"serves {listed}",
            f"Restart the gateway for this model: 'ollama-integrations gateway --model {settings.model}'.",
        )
    return Check(gateway.url, name, True, f"OpenAI-compatible endpoint {gateway.base_url}")


def _model_checks(
    settings: OllamaSettings, host: str, requires: tuple[str, ...], running: list[checks.RunningModel]
) -> list[Check]:
    model = settings.model
    try:
        info = checks.model_info(model, host, settings=settings)
    except ModelNotFound as exc:
        listed = ", ".join(exc.available) or "none"
        return [Check(host, f"{model} pulled", False, f"not pulled (local: {listed})", f"ollama pull {model}")]
    except OllamaError as exc:
        return [Check(host, f"{model} pulled", False, str(exc), None)]
    found = [Check(host, f"{model} pulled", True, ", ".join(sorted(info.capabilities)) or "no capabilities reported")]
    for capability in ("tools", "vision", "thinking"):
        wanted = capability in requires or (capability == "thinking" and settings.think not in (None, False))
        has = info.supports(capability)
        found.append(
            Check(
                host,
                f"{model} {capability}",
                has or not wanted,
                "yes" if has else "no" + ("" if wanted else " (not required)"),
                None if has or not wanted else _CHOOSE[capability],
            )
        )
    ctx = info.context_length
    if settings.num_ctx is not None and ctx is not None and settings.num_ctx > ctx:
        found.append(
            Check(
                host,
                f"{model} context",
                False,
                f"num_ctx {settings.num_ctx} > model maximum {ctx}",
                f"Set {env_name('num_ctx')} to at most {ctx}.",
            )
        )
    else:
        configured = settings.num_ctx or info.num_ctx
        shown = f"{ctx} max" if ctx else "unknown max"
        found.append(Check(host, f"{model} context", True, f"{shown}; loads with {configured or 'the server default'}"))
    found.extend(_loaded_context_checks(settings, host, info, running))
    if "tools" in requires and info.supports("tools"):
        found.append(_tool_probe_check(settings, host))
    return found


_CHOOSE = {
    "tools": "Choose a model with tools (e.g. qwen2.5, llama3.1).",
    "vision": "Choose a model with vision (e.g. llava, gemma3, qwen2.5vl).",
    "thinking": f"Choose a model with thinking (e.g. qwen3, deepseek-r1, gpt-oss), or unset {env_name('think')}.",
}


def _loaded_context_checks(
    settings: OllamaSettings, host: str, info: checks.ModelInfo, running: list[checks.RunningModel]
) -> list[Check]:
    """The context the model the factories send is loaded with (``/api/ps``), against ``num_ctx``."""
    from integrations.names import parse_model_name

    model = settings.model
    wanted = settings.num_ctx
    sent = checks.derived_name(model, wanted) if wanted is not None and info.num_ctx != wanted else model
    key = parse_model_name(sent).key
    loaded = next((m for m in running if parse_model_name(m.name).key == key), None)
    if loaded is None or loaded.context_length is None:
        return []
    actual = loaded.context_length
    name = f"{model} loaded context"
    if wanted is None or actual == wanted:
        return [Check(host, name, True, f"{sent} is loaded with {actual} tokens")]
    detail = f"{sent} is loaded with {actual} tokens, num_ctx asks for {wanted}"
    if actual > wanted:
        return [Check(host, name, True, detail, None, warning=True)]
    return [
        Check(
            host,
            name,
            False,
            detail + "; longer conversations are truncated",
            f"Ollama loaded {sent} with less context than {env_name('num_ctx')}={wanted} (short of memory, or "
            f"OLLAMA_CONTEXT_LENGTH on the server): lower num_ctx, or free memory and reload with "
            f"'ollama-integrations warm {model}'.",
        )
    ]


def _tool_probe_check(settings: OllamaSettings, host: str) -> Check:
    name = f"{settings.model} tool calls"
    try:
        probe = probe_tools(settings, host)
    except OllamaError as exc:
        return Check(host, name, False, f"the probe failed: {exc}")
    if probe.outcome == "structured":
        return Check(host, name, True, f"structured (Ollama parsed the call): {probe.detail}")
    if probe.outcome == "text":
        detail = f"as JSON text that Ollama returns as content: {probe.detail}"
        if settings.repair_tool_calls:
            return Check(host, name, True, detail + "; the factories' clients turn it into a tool call")
        return Check(
            host,
            name,
            False,
            detail + "; repair is off, so frameworks see prose",
            f"Turn the repair on: {env_name('repair_tool_calls')}=true (or repair_tool_calls=True).",
        )
    return Check(
        host,
        name,
        True,
        f"no tool call in a one-shot probe: {probe.detail}",
        "This model may not call tools reliably; try a larger or tool-trained model (e.g. qwen2.5, llama3.1).",
        warning=True,
    )


PROBE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city, e.g. Paris"}},
            "required": ["city"],
        },
    },
}
PROBE_PROMPT = "What is the weather in Paris right now? Use the get_weather tool."


def probe_tools(settings: OllamaSettings, host: str | None = None) -> ToolProbe:
    """Ask the model once for a call to an offered tool through raw ``/v1`` and say how the call came back.

    Raw on purpose: what Ollama itself returns, before any repair by this library.
    Raises `OllamaServerError` or `OllamaUnreachable` when the request fails.
    """
    import httpx

    from integrations._toolcalls import parse_text_calls
    from integrations.errors import OllamaServerError, OllamaUnreachable
    from integrations.hosts import parse_host

    target = parse_host(host) if host else settings.hosts[0]
    body = {
        "model": settings.model,
        "messages": [{"role": "user", "content": PROBE_PROMPT}],
        "tools": [PROBE_TOOL],
        "temperature": 0,
        "max_tokens": 256,
        "stream": False,
    }
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
    timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
    try:
        response = httpx.post(f"{target.base_url}/chat/completions", json=body, headers=headers, timeout=timeout)
    except httpx.ConnectError as exc:
        raise OllamaUnreachable(target.url, f"cannot connect: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OllamaServerError(target.url, 0, f"the tool-call probe broke off: {exc!r}") from exc
    if response.status_code != 200:
        raise OllamaServerError(target.url, response.status_code, response.text[:300])
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise OllamaServerError(target.url, 200, f"the answer is not a chat completion: {exc!r}") from exc
    calls = message.get("tool_calls") or []
    if calls:
        function = calls[0].get("function") or {}
        return ToolProbe("structured", f"{function.get('name')}({function.get('arguments')})")
    content = str(message.get("content") or "")
    shown = " ".join(content.split())[:120] or "(empty)"
    if parse_text_calls(content, {"get_weather"}) is not None:
        return ToolProbe("text", shown)
    return ToolProbe("neither", shown)
