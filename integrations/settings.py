"""`OllamaSettings`: the one typed object every factory and check is built from.

Precedence, highest first:

1. explicit arguments (``OllamaSettings(model=...)`` or a factory's keyword overrides);
2. environment variables (``OLLAMA_HOST``, ``OLLAMA_API_KEY`` and ``OLLAMA_INTEGRATIONS_*``);
3. a ``.env`` file in the working directory;
4. the chosen profile (``configs/<name>.toml``; chosen with ``profile=`` or ``OLLAMA_INTEGRATIONS_PROFILE``);
5. the defaults below.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from integrations.errors import ConfigError
from integrations.hosts import OllamaHost, mask_credentials, parse_host, parse_hosts
from integrations.names import parse_model_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ENV_PREFIX", "OllamaSettings", "available_profiles", "env_name", "find_profile"]

ENV_PREFIX = "OLLAMA_INTEGRATIONS_"
_PACKAGE_DIR = Path(__file__).resolve().parent
_PROFILE_EXTRAS = {"description"}

RoutingStrategy = Literal["least-busy", "simple-shuffle", "latency-based-routing", "usage-based-routing-v2"]
"""LiteLLM's routing strategies that need no Redis and no cost table."""


class OllamaSettings(BaseSettings):
    """Where Ollama is, which model to use, and how to talk to it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        frozen=True,
    )

    profile: str | None = Field(
        None, description="Name of a profile in configs/ (or a path to a .toml file) supplying defaults."
    )
    host: str = Field(
        "",
        validation_alias="OLLAMA_HOST",
        description="Ollama server(s), parsed like OLLAMA_HOST; comma-separate several for failover.",
    )
    api_key: SecretStr = Field(
        SecretStr("ollama"),
        validation_alias="OLLAMA_API_KEY",
        description="Bearer token for remote or authenticated Ollama; local Ollama ignores it.",
    )
    model: str = Field("llama3.2", description="Model name as Ollama knows it, e.g. 'qwen2.5-coder:7b'.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; unset means the model's own default."
    )
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling; unset means the model's own default.")
    seed: int | None = Field(None, description="Sampling seed for reproducible runs.")
    max_tokens: int | None = Field(None, gt=0, le=1_000_000, description="Cap on generated tokens per reply.")
    num_ctx: int | None = Field(
        None,
        ge=256,
        le=1_048_576,
        description="Context window in tokens; a derived model with this num_ctx is created when it differs.",
    )
    keep_alive: str | None = Field(
        None, description="How long Ollama keeps the model loaded: '5m', '1h', '-1' (forever), '0'."
    )
    timeout: float = Field(
        600.0, gt=0, le=86_400, description="Read timeout in seconds; long, because a cold model load takes minutes."
    )
    connect_timeout: float = Field(
        2.0, gt=0, le=300, description="Connect timeout in seconds; short, so a down server is reported at once."
    )
    check_timeout: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Read timeout of the checks (version, tags, show, ps) in seconds; short, because they are "
        "small requests and a host that accepts connections but never answers must not hold a run.",
    )
    max_retries: int = Field(2, ge=0, le=20, description="Retries of the OpenAI SDK on transient errors.")
    cache_seed: int | None = Field(None, description="AG2/Autogen response cache seed; unset disables the cache.")
    check: bool = Field(True, description="Check server, model and capabilities before building a client.")
    pull: bool = Field(False, description="Pull a missing model instead of failing.")
    repair_tool_calls: bool = Field(
        True,
        description="Turn tool calls a model wrote as bare or fenced JSON text into real tool calls.",
    )
    think: bool | Literal["low", "medium", "high"] | None = Field(
        None,
        description="Thinking for models that can: unset (the model's default), false, true, low, medium or high.",
    )
    gateway: str | None = Field(
        None,
        description="URL of a LiteLLM gateway in front of the hosts (e.g. http://127.0.0.1:4000, what "
        "'ollama-integrations gateway' prints): the factories' OpenAI-compatible traffic goes there, "
        "while checks, pulls and warm-ups still go to every host directly.",
    )
    gateway_key: SecretStr | None = Field(
        None,
        description="Key the gateway requires and the factories present to it (LiteLLM's master key, 'sk-...'); "
        "unset, 'ollama-integrations gateway' makes one and prints it.",
    )
    routing_strategy: RoutingStrategy = Field(
        "least-busy",
        description="How the gateway and integrations.litellm.router() pick a host for each request: least-busy, "
        "simple-shuffle, latency-based-routing or usage-based-routing-v2 (LiteLLM's names).",
    )
    allowed_fails: int = Field(
        0,
        ge=0,
        le=1000,
        description="Failures of one host within a minute that the gateway tolerates before cooling it down.",
    )
    cooldown_time: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="Seconds a failing host is left out before it is tried again, by the gateway and by the "
        "clients' own failover between hosts.",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from exc

    @field_validator("host")
    @classmethod
    def _valid_hosts(cls, value: str) -> str:
        hosts = parse_hosts(value)
        # An empty OLLAMA_HOST (common in shells) means the default: show the host that will be used.
        return value if value.strip() else ",".join(host.url for host in hosts)

    @field_validator("gateway", mode="before")
    @classmethod
    def _valid_gateway(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            return parse_host(value, setting="gateway").url
        return value

    @field_validator("model")
    @classmethod
    def _valid_model(cls, value: str) -> str:
        parse_model_name(value)
        return value.strip()

    @field_validator("think", mode="before")
    @classmethod
    def _think_words(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in _THINK_WORDS:
            return _THINK_WORDS[word]
        raise ValueError("think must be unset, false, true, low, medium or high")

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _keep_alive_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @property
    def hosts(self) -> tuple[OllamaHost, ...]:
        """The configured servers in failover order."""
        return parse_hosts(self.host)

    @property
    def base_url(self) -> str:
        """The first server's OpenAI-compatible URL."""
        return self.hosts[0].base_url

    @property
    def gateway_host(self) -> OllamaHost | None:
        """The gateway, when one is configured: its ``base_url`` is the OpenAI-compatible endpoint."""
        return parse_host(self.gateway, setting="gateway") if self.gateway else None

    def merged(self, **changes: Any) -> OllamaSettings:
        """A copy with ``changes`` applied and validated like constructor arguments."""
        if not changes:
            return self
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)._from_values(values)

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> OllamaSettings:
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from exc

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, ProfileSource(settings_cls))


class ProfileSource(PydanticBaseSettingsSource):
    """Reads the profile named by the sources above it (arguments, environment, .env)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        name = self.current_state.get("profile")
        if not name:
            return {}
        path = find_profile(str(name))
        data = _read_profile(path)
        known = set(self.settings_cls.model_fields) | _PROFILE_EXTRAS
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"profile {path} has unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}"
            )
        return {key: value for key, value in data.items() if key not in _PROFILE_EXTRAS}


def profile_dirs() -> list[Path]:
    """Where profiles are looked up: ``./configs``, then the ones shipped with the package."""
    candidates = [Path.cwd() / "configs", _PACKAGE_DIR / "configs", _PACKAGE_DIR.parent / "configs"]
    seen: list[Path] = []
    for directory in candidates:
        if directory.is_dir() and directory.resolve() not in seen:
            seen.append(directory.resolve())
    return seen


def available_profiles() -> dict[str, Path]:
    """Profile name -> file, the first directory of `profile_dirs` winning."""
    found: dict[str, Path] = {}
    for directory in profile_dirs():
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def find_profile(name: str) -> Path:
    """Resolve a profile name or a path to a ``.toml`` file."""
    if name.endswith(".toml") or "/" in name or "\\" in name:
        path = Path(name).expanduser()
        if path.is_file():
            return path
        raise ConfigError(f"profile file {name!r} does not exist; pass an existing .toml file or a profile name")
    profiles = available_profiles()
    if name in profiles:
        return profiles[name]
    names = ", ".join(sorted(profiles)) or "none"
    raise ConfigError(f"unknown profile {name!r}; available profiles: {names} (or pass a path to a .toml file)")


def _read_profile(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"profile {path} cannot be read: {exc.strerror}") from exc


def env_name(field: str, settings_class: type[BaseSettings] | None = None) -> str:
    """The environment variable that sets ``field`` of ``settings_class`` (default `OllamaSettings`).

    >>> env_name("host"), env_name("num_ctx")
    ('OLLAMA_HOST', 'OLLAMA_INTEGRATIONS_NUM_CTX')
    """
    alias = (settings_class or OllamaSettings).model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{field.upper()}"


_THINK_WORDS: dict[str, bool | str | None] = {
    "": None, "true": True, "1": True, "yes": True, "on": True,
    "false": False, "0": False, "no": False, "off": False, "none": False,
    "low": "low", "medium": "medium", "high": "high",
}



def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        field = next((name for name in OllamaSettings.model_fields if env_name(name) == field), field)
        shown = "'**********'" if field == "api_key" else repr(error.get("input"))
        if field == "host" and isinstance(error.get("input"), str):
            shown = repr(mask_credentials(error["input"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a check of the whole object: its input is every field, the host and key included
            problems.append(message.removeprefix("invalid settings: "))
            continue
        env = f" (env {env_name(field)})" if field in OllamaSettings.model_fields else ""
        problems.append(f"{field}{env} = {shown}: {message}")
    return "invalid settings: " + "; ".join(problems)
