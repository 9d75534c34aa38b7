"""`diagnose`: everything ``ollama-integrations doctor`` reports, as data.

For each configured host: reachable, version, local models with capabilities and
context length, what is loaded; for the configured model: pulled, tools, vision,
context. Each failed check carries the fix, so the CLI only has to draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations import checks
from integrations.errors import ModelNotFound, OllamaError
from integrations.settings import OllamaSettings

__all__ = ["Check", "HostReport", "Report", "diagnose"]


@dataclass(frozen=True)
class Check:
    """One line of the verdict: what was checked, whether it passed, and the fix when it did not."""

    host: str
    name: str
    ok: bool
    detail: str
    fix: str | None = None


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
                    "Start Ollama ('ollama serve'), point OLLAMA_HOST at it, or run the embedded server: "
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
            for local in checks.list_models(host, settings=settings):
                try:
                    shown: checks.ModelInfo | None = checks.model_info(
                        local.name, host, settings=settings, refresh=True
                    )
                except OllamaError:
                    shown = None
                report.models.append((local, shown))
            report.running = checks.running_models(host, settings=settings)
        except OllamaError as exc:
            report.error = str(exc)
        verdict.extend(_model_checks(settings, host.url, requires))
    return Report(settings, hosts, verdict)


def _model_checks(settings: OllamaSettings, host: str, requires: tuple[str, ...]) -> list[Check]:
    model = settings.model
    try:
        info = checks.model_info(model, host, settings=settings)
    except ModelNotFound as exc:
        listed = ", ".join(exc.available) or "none"
        return [Check(host, f"{model} pulled", False, f"not pulled (local: {listed})", f"ollama pull {model}")]
    except OllamaError as exc:
        return [Check(host, f"{model} pulled", False, str(exc), None)]
    found = [Check(host, f"{model} pulled", True, ", ".join(sorted(info.capabilities)) or "no capabilities reported")]
    for capability in ("tools", "vision"):
        wanted = capability in requires
        has = info.supports(capability)
        found.append(
            Check(
                host,
                f"{model} {capability}",
                has or not wanted,
                "yes" if has else "no" + ("" if wanted else " (not required)"),
                None if has or not wanted else f"Choose a model with {capability} (e.g. qwen2.5, llama3.1).",
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
                f"Set OLLAMA_INTEGRATIONS_NUM_CTX to at most {ctx}.",
            )
        )
    else:
        configured = settings.num_ctx or info.num_ctx
        shown = f"{ctx} max" if ctx else "unknown max"
        found.append(Check(host, f"{model} context", True, f"{shown}; loads with {configured or 'the server default'}"))
    return found
