"""What ``ollama-integrations config`` prints: the factories' output in each framework's own format.

The API key is masked unless asked for, except the placeholder ``ollama`` that a
local server ignores, which is no secret and keeps written files usable.
"""

from __future__ import annotations

import json
from typing import Any

from integrations._target import resolve
from integrations.settings import OllamaSettings, env_name

__all__ = ["MASK", "js_environment", "render_config"]

MASK = "**********"
PLACEHOLDER_KEY = "ollama"


def _key(settings: OllamaSettings, show_secrets: bool) -> str:
    key = settings.api_key.get_secret_value()
    return key if show_secrets or key == PLACEHOLDER_KEY else MASK


def _masked(data: Any, real: str, shown: str) -> Any:
    if real == shown:
        return data
    if isinstance(data, dict):
        return {k: _masked(v, real, shown) for k, v in data.items()}
    if isinstance(data, list):
        return [_masked(v, real, shown) for v in data]
    return shown if data == real else data


def js_environment(settings: OllamaSettings, *, show_secrets: bool = True) -> dict[str, str]:
    """The variables the OpenAI JavaScript SDK and the Vercel AI SDK read, pointing at Ollama."""
    return {
        "OPENAI_BASE_URL": settings.base_url,
        "OPENAI_API_KEY": _key(settings, show_secrets),
        "OLLAMA_MODEL": settings.model,
    }


def render_config(format: str, settings: OllamaSettings, *, check: bool = False, show_secrets: bool = False) -> str:
    """Render ``format`` (autogen, autogen-native, agentchat, langchain, env, json) for ``settings``."""
    from integrations.adapters import ag2

    real = settings.api_key.get_secret_value()
    shown = _key(settings, show_secrets)
    if format == "autogen":
        return _dump(_masked(ag2.config_list(settings=settings, check=check), real, shown))
    if format == "autogen-native":
        return _dump(_masked(ag2.native_config_list(settings=settings, check=check), real, shown))
    target = resolve(None, settings=settings, check=check, pull=None)
    if format == "agentchat":
        from integrations.adapters.agentchat import model_info_for

        config: dict[str, Any] = {
            "model": target.model,
            "base_url": target.base_url,
            "api_key": shown,
            "model_info": model_info_for(target),
            **target.request_defaults(),
        }
        return _dump({"provider": "autogen_ext.models.openai.OpenAIChatCompletionClient", "config": config})
    if format == "langchain":
        kwargs = {
            "model": target.model,
            "base_url": target.base_url,
            "api_key": shown,
            "stream_usage": True,
            **target.request_defaults(),
        }
        return _dump(kwargs)
    if format == "env":
        return "\n".join(f"{name}={value}" for name, value in _env_lines(settings, show_secrets).items())
    values = settings.model_dump(mode="json")
    values["api_key"] = shown
    values["hosts"] = [{"url": host.url, "base_url": host.base_url} for host in settings.hosts]
    return _dump(values)


def _env_lines(settings: OllamaSettings, show_secrets: bool) -> dict[str, str]:
    lines = {
        "OLLAMA_HOST": ",".join(host.url for host in settings.hosts),
        "OLLAMA_API_KEY": _key(settings, show_secrets),
    }
    defaults = OllamaSettings.model_fields
    for name, field in defaults.items():
        if name in {"host", "api_key", "profile"}:
            continue
        value = getattr(settings, name)
        if value is not None and (name == "model" or value != field.default):
            lines[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    # For JavaScript clients (OpenAI SDK, Vercel AI SDK), so one .env drives both sides.
    lines.update(js_environment(settings, show_secrets=show_secrets))
    return lines


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2)
