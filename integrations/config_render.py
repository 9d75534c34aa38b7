"""What ``ollama-integrations config`` prints: the factories' output in each framework's own format.

The API key is masked unless asked for, except the placeholder ``ollama`` that a
local server ignores, which is no secret and keeps written files usable. Files
that may hold the key are written by `write_private`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from integrations._target import Target, resolve
from integrations.errors import ConfigError
from integrations.settings import OllamaSettings, env_name

__all__ = ["FORMATS", "MASK", "js_environment", "render_config", "to_yaml", "write_private"]

FORMATS = (
    "autogen", "autogen-native", "agentchat", "langchain", "crewai", "pydantic-ai", "agent-framework", "anthropic",
    "litellm", "env", "json",
)
"""What `render_config` renders, in the order ``--help`` lists them."""
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
    """Render ``format`` (one of `FORMATS`) for ``settings``, with what the adapters would pass."""
    from integrations.adapters import ag2, agentchat, langchain

    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r} for the config; choose one of: {', '.join(FORMATS)}")
    real = settings.api_key.get_secret_value()
    shown = _key(settings, show_secrets)
    if format == "autogen":
        return _dump(_masked(ag2.config_list(settings=settings, check=check), real, shown))
    if format == "autogen-native":
        return _dump(_masked(ag2.native_config_list(settings=settings, check=check), real, shown))
    if format == "litellm":
        from integrations.adapters.litellm import proxy_config

        gateway_key = settings.gateway_key.get_secret_value() if settings.gateway_key is not None else None
        master = gateway_key if show_secrets or gateway_key is None else MASK
        return to_yaml(proxy_config(settings, check=check, api_key=shown, master_key=master))
    target = resolve(None, settings=settings, check=check, pull=None)  # runs the checks when asked, for every format
    if format == "langchain":
        return _dump(_masked(langchain.chat_kwargs(target), real, shown))
    if format == "agentchat":
        config = _masked(agentchat.client_config(target), real, shown)
        return _dump({"provider": "autogen_ext.models.openai.OpenAIChatCompletionClient", "config": config})
    if format == "crewai":
        return _dump(_crewai(target, shown))
    if format in _FRAMEWORK_ENV:
        return "\n".join(f"{name}={value}" for name, value in _FRAMEWORK_ENV[format](target, shown).items())
    if format == "env":
        return "\n".join(f"{name}={value}" for name, value in _env_lines(settings, show_secrets).items())
    values = settings.model_dump(mode="json")
    values["api_key"] = shown
    values["hosts"] = [{"url": host.url, "base_url": host.base_url} for host in settings.hosts]
    return _dump(values)


def _crewai(target: Target, key: str) -> dict[str, Any]:
    """``LLM(**llm)`` and ``Crew(embedder=embedder)``: CrewAI's own Ollama route, and embeddings that stay local."""
    llm = {"model": target.model, "provider": "ollama", "base_url": target.base_url, "api_key": key,
           "temperature": target.temperature, "top_p": target.top_p, "timeout": target.settings.timeout}
    if target.settings.max_tokens is not None:
        llm["max_tokens"] = target.settings.max_tokens
    embedder = {"provider": "ollama",
                "config": {"model_name": target.requested_model, "url": f"{target.hosts[0].url}/api/embeddings"}}
    return {"llm": llm, "embedder": embedder}


def _pydantic_ai_env(target: Target, key: str) -> dict[str, str]:
    """What Pydantic AI's ``OllamaProvider`` reads, and the model string ``Agent("ollama:...")`` takes."""
    return {"OLLAMA_BASE_URL": target.base_url, "OLLAMA_API_KEY": key, "PYDANTIC_AI_MODEL": f"ollama:{target.model}"}


def _agent_framework_env(target: Target, key: str) -> dict[str, str]:
    """What Agent Framework's ``OllamaChatClient`` reads (``OLLAMA_`` prefix)."""
    return {"OLLAMA_HOST": target.hosts[0].url, "OLLAMA_MODEL_ID": target.requested_model}


def _anthropic_env(target: Target, key: str) -> dict[str, str]:
    """What the Anthropic SDKs and Claude Code read, pointed at Ollama's ``/v1/messages``."""
    return {"ANTHROPIC_BASE_URL": target.hosts[0].url, "ANTHROPIC_API_KEY": key, "ANTHROPIC_AUTH_TOKEN": key,
            "ANTHROPIC_MODEL": target.model}


_FRAMEWORK_ENV = {"pydantic-ai": _pydantic_ai_env, "agent-framework": _agent_framework_env,
                  "anthropic": _anthropic_env}


def _env_lines(settings: OllamaSettings, show_secrets: bool) -> dict[str, str]:
    lines = {
        env_name("host"): ",".join(host.url for host in settings.hosts),
        env_name("api_key"): _key(settings, show_secrets),
    }
    defaults = OllamaSettings.model_fields
    for name, field in defaults.items():
        if name in {"host", "api_key", "profile"}:
            continue
        value = getattr(settings, name)
        if name == "gateway_key" and value is not None:
            secret = value.get_secret_value()
            lines[env_name(name)] = secret if show_secrets else MASK
            continue
        if value is not None and (name == "model" or value != field.default):
            lines[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    # For JavaScript clients (OpenAI SDK, Vercel AI SDK), so one .env drives both sides.
    lines.update(js_environment(settings, show_secrets=show_secrets))
    return lines


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2)


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block-style YAML for JSON-like data; strings are JSON-quoted, which YAML reads as double-quoted scalars.

    >>> print(to_yaml({"model_list": [{"model_name": "m:1", "litellm_params": {"timeout": 600.0}}], "empty": []}))
    model_list:
      - model_name: "m:1"
        litellm_params:
          timeout: 600.0
    empty: []
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = json.dumps(str(key))[1:-1] if str(key).replace("_", "").isalnum() else json.dumps(str(key))
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{name}:")
                lines.append(to_yaml(value, indent + 2))
            else:
                lines.append(f"{pad}{name}: {_scalar(value)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict | list) and item:
                nested = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {nested.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(data)}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def write_private(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path``, readable by its owner only from the first byte, never through a symlink.

    The text goes to a new file created with mode 0600 (``O_CREAT | O_EXCL | O_NOFOLLOW``)
    beside the target, which then replaces the target in one rename: no reader ever sees
    the key under wider permissions or half-written, and a symlink's target is never
    written or re-moded. Raises `ConfigError` naming the path when it is a symlink, a
    directory, or cannot be written.
    """
    target = Path(path)
    if target.is_symlink():
        raise ConfigError(
            f"{target} is a symbolic link; refusing to write a file that may hold the API key through it. "
            "Remove the link or choose another path"
        )
    if target.is_dir():
        raise ConfigError(f"{target} is a directory; give a file path to write to")
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}; choose a path you can write to") from exc
    return target
