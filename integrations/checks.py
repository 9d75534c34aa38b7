"""Checks against Ollama's native API: reachable, version, model pulled, capabilities, context.

Everything here goes through the official ``ollama`` client and happens only
when called, never at import. Answers are cached per process per (host, model),
so building fifty agents costs at most two round trips per host and model;
pass ``refresh=True`` to ask again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integrations.errors import (
    CapabilityMissing,
    ConfigError,
    ModelNotFound,
    OllamaError,
    OllamaServerError,
    OllamaUnreachable,
    OllamaVersionTooOld,
    PullFailed,
)
from integrations.families import known_capabilities
from integrations.hosts import OllamaHost, parse_host
from integrations.names import parse_model_name
from integrations.settings import OllamaSettings, env_name

if TYPE_CHECKING:
    import ollama

__all__ = [
    "MIN_VERSION",
    "LocalModel",
    "ModelInfo",
    "PullProgress",
    "RunningModel",
    "ServerInfo",
    "WarmedModel",
    "clear_cache",
    "describe_models",
    "ensure_context",
    "ensure_model",
    "list_models",
    "loaded_context",
    "model_info",
    "pull_model",
    "reachable_hosts",
    "require_capabilities",
    "require_version",
    "running_models",
    "server_info",
    "version_tuple",
    "warm_model",
]

log = logging.getLogger("integrations")

MIN_VERSION = "0.1.24"
"""The first Ollama with ``/v1/chat/completions``."""
CREATE_MIN_VERSION = "0.5.5"
"""The first Ollama whose ``/api/create`` takes ``from`` and ``parameters``."""
CAPABILITIES_MIN_VERSION = "0.6.4"
"""The first Ollama that reports ``capabilities`` in ``/api/show``."""

TRUSTED_REGISTRIES = frozenset({"registry.ollama.ai", "ollama.com", "hf.co", "huggingface.co"})
"""Registries pulled from without ``insecure=True``."""

HostLike = OllamaHost | str | None
ProgressCallback = Callable[["PullProgress"], None]


@dataclass(frozen=True)
class ServerInfo:
    """A reachable server and its version."""

    host: str
    version: str

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def older_than(self, minimum: str) -> bool:
        """Whether this server predates ``minimum``; development builds (``0.0.0``) never do."""
        return self.version_tuple != (0, 0, 0) and self.version_tuple < version_tuple(minimum)


@dataclass(frozen=True)
class ModelInfo:
    """What ``/api/show`` says about a model, in the terms the factories need."""

    name: str
    host: str
    capabilities: frozenset[str]
    context_length: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    capabilities_reported: bool = True

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def num_ctx(self) -> int | None:
        """The context the model is configured to load with (its ``num_ctx`` parameter), if any."""
        value = self.parameters.get("num_ctx")
        return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None


@dataclass(frozen=True)
class LocalModel:
    """One row of ``/api/tags``."""

    name: str
    size: int
    digest: str
    modified_at: str | None
    family: str | None
    parameter_size: str | None
    quantization: str | None
    capabilities: tuple[str, ...] = ()
    context_length: int | None = None


@dataclass(frozen=True)
class RunningModel:
    """One row of ``/api/ps``."""

    name: str
    size: int
    expires_at: str | None
    context_length: int | None


@dataclass(frozen=True)
class PullProgress:
    """One event of a pull: a status line, and for layers the digest and byte counts."""

    model: str
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    @property
    def done(self) -> bool:
        return self.status == "success"


_cache: dict[tuple[str, ...], Any] = {}
_clients: dict[tuple[Any, ...], ollama.Client] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached answer (the next check asks the server again)."""
    with _lock:
        _cache.clear()


def _settings(settings: OllamaSettings | None) -> OllamaSettings:
    return settings if settings is not None else OllamaSettings()


def _host(host: HostLike, settings: OllamaSettings) -> OllamaHost:
    if isinstance(host, OllamaHost):
        return host
    return parse_host(host) if host else settings.hosts[0]


def client(host: HostLike = None, *, settings: OllamaSettings | None = None, check: bool = False) -> ollama.Client:
    """The official client for ``host``: Bearer key, short connect timeout; a long read timeout, short for checks."""
    import httpx
    import ollama

    settings = _settings(settings)
    target = _host(host, settings)
    key = settings.api_key.get_secret_value()
    # A down server must be reported within the connect timeout. Generation, pulls and model
    # creation may legitimately take minutes (a cold model load), hence the long read timeout;
    # checks are small requests, so a host that accepts the connection and never answers
    # must fail them within seconds, not hold doctor or a factory for the generation timeout.
    read = settings.check_timeout if check else settings.timeout
    ident = (target.url, key, read, settings.connect_timeout)
    with _lock:
        found = _clients.get(ident)
        if found is None:
            timeout = httpx.Timeout(read, connect=settings.connect_timeout)
            found = ollama.Client(host=target.url, timeout=timeout, headers={"Authorization": f"Bearer {key}"})
            _clients[ident] = found
    return found


@contextlib.contextmanager
def _translated(
    host: OllamaHost, settings: OllamaSettings, model: str | None = None, *, check: bool = False
) -> Iterator[None]:
    """Turn transport and protocol failures into the library's errors (``check``: the request was a short check)."""
    import httpx
    import ollama

    try:
        yield
    except OllamaError:
        raise
    except ollama.ResponseError as exc:
        if exc.status_code == 404 and model is not None:
            raise ModelNotFound(model, host.url, _names_or_empty(host, settings)) from exc
        raise OllamaServerError(host.url, exc.status_code, exc.error) from exc
    except ConnectionError as exc:
        raise OllamaUnreachable(host.url, "connection refused or host unknown") from exc
    except httpx.ConnectTimeout as exc:
        raise OllamaUnreachable(host.url, "no answer within the connect timeout") from exc
    except httpx.ConnectError as exc:
        raise OllamaUnreachable(host.url, f"cannot connect: {exc}") from exc
    except httpx.ReadTimeout as exc:
        if check:
            raise OllamaUnreachable(
                host.url,
                f"the server accepted the connection and did not answer within {settings.check_timeout:g} s. "
                "Make sure it is Ollama (not another program) listening there and restart it; "
                f"for a slow remote server raise {env_name('check_timeout')}",
            ) from exc
        raise OllamaServerError(
            host.url, 0, f"no answer within the read timeout (raise {env_name('timeout')})"
        ) from exc
    except httpx.TransportError as exc:
        raise OllamaServerError(host.url, 0, f"the connection broke: {exc!r}") from exc
    except (json.JSONDecodeError, ValueError) as exc:
        raise OllamaServerError(host.url, 0, f"the answer is not the JSON Ollama sends: {exc}") from exc


def _names_or_empty(host: OllamaHost, settings: OllamaSettings) -> list[str]:
    with contextlib.suppress(OllamaError):
        return [m.name for m in _list(host, settings)]
    return []


def _cached(key: tuple[str, ...], refresh: bool, compute: Callable[[], Any]) -> Any:
    if not refresh:
        with _lock:
            if key in _cache:
                return _cache[key]
    value = compute()
    with _lock:
        _cache[key] = value
    return value


def _forget(host: OllamaHost, model: str) -> None:
    ident = parse_model_name(model).key
    with _lock:
        for key in [k for k in _cache if k[0] == host.url and k[2:] == ident]:
            del _cache[key]


def server_info(host: HostLike = None, *, settings: OllamaSettings | None = None, refresh: bool = False) -> ServerInfo:
    """Whether the server answers, and its version. Raises `OllamaUnreachable` within the connect timeout."""
    settings = _settings(settings)
    target = _host(host, settings)

    def ask() -> ServerInfo:
        with _translated(target, settings, check=True):
            # ollama-python has no version() call; _request_raw keeps its headers and errors.
            asker = client(target, settings=settings, check=True)
            response = asker._request_raw("GET", "/api/version")  # type: ignore[no-untyped-call]
            version = str(response.json().get("version", "0.0.0"))
        return ServerInfo(target.url, version)

    info: ServerInfo = _cached((target.url, "version"), refresh, ask)
    return info


def require_version(
    minimum: str, feature: str, host: HostLike = None, *, settings: OllamaSettings | None = None
) -> None:
    """Raise `OllamaVersionTooOld` unless the server is at least ``minimum`` (development builds pass)."""
    info = server_info(host, settings=settings)
    if info.older_than(minimum):
        raise OllamaVersionTooOld(info.host, info.version, minimum, feature)


def _list(target: OllamaHost, settings: OllamaSettings) -> list[LocalModel]:
    with _translated(target, settings, check=True):
        # The typed list() drops the capabilities and context_length that servers since
        # v0.30 send; _request_raw is the client's own request path, with its error handling.
        asker = client(target, settings=settings, check=True)
        data = asker._request_raw("GET", "/api/tags").json()  # type: ignore[no-untyped-call]
    models = []
    for row in data.get("models") or []:
        details = row.get("details") or {}
        models.append(
            LocalModel(
                name=str(row.get("model") or row.get("name")),
                size=int(row.get("size") or 0),
                digest=str(row.get("digest") or ""),
                modified_at=row.get("modified_at"),
                family=details.get("family"),
                parameter_size=details.get("parameter_size"),
                quantization=details.get("quantization_level"),
                capabilities=tuple(row.get("capabilities") or ()),
                context_length=details.get("context_length"),
            )
        )
    return models


def list_models(host: HostLike = None, *, settings: OllamaSettings | None = None) -> list[LocalModel]:
    """The models pulled on the server (never cached: it is what the user asked to see)."""
    settings = _settings(settings)
    return _list(_host(host, settings), settings)


def describe_models(
    host: HostLike = None, *, settings: OllamaSettings | None = None
) -> list[tuple[LocalModel, ModelInfo | None]]:
    """Every pulled model with what ``/api/show`` says about it, asked afresh (None where the server would not say)."""
    settings = _settings(settings)
    target = _host(host, settings)
    described: list[tuple[LocalModel, ModelInfo | None]] = []
    for local in list_models(target, settings=settings):
        try:
            shown: ModelInfo | None = model_info(local.name, target, settings=settings, refresh=True)
        except OllamaError:
            shown = None
        described.append((local, shown))
    return described


def reachable_hosts(
    settings: OllamaSettings | None = None,
    *,
    minimum: str = MIN_VERSION,
    feature: str = "the OpenAI-compatible API",
) -> list[OllamaHost]:
    """The configured hosts that answer, in failover order: the one failover rule.

    An unreachable host is skipped (and logged); a host that answers but is older
    than ``minimum`` raises. When none answers, the first host's error is raised.
    """
    settings = _settings(settings)
    reachable: list[OllamaHost] = []
    failures: list[OllamaUnreachable] = []
    for host in settings.hosts:
        try:
            require_version(minimum, feature, host, settings=settings)
        except OllamaUnreachable as exc:
            failures.append(exc)
            log.warning("skipping unreachable Ollama host %s: %s", host.url, exc.reason)
            continue
        reachable.append(host)
    if not reachable:
        raise failures[0]
    return reachable


def running_models(host: HostLike = None, *, settings: OllamaSettings | None = None) -> list[RunningModel]:
    """The models loaded in memory right now (``/api/ps``)."""
    settings = _settings(settings)
    target = _host(host, settings)
    with _translated(target, settings, check=True):
        rows = client(target, settings=settings, check=True).ps().models
    return [
        RunningModel(
            name=str(row.model or row.name),
            size=int(row.size or 0),
            expires_at=row.expires_at.isoformat() if row.expires_at else None,
            context_length=row.context_length,
        )
        for row in rows
    ]


def model_info(
    name: str, host: HostLike = None, *, settings: OllamaSettings | None = None, refresh: bool = False
) -> ModelInfo:
    """Capabilities, context length, family, size and parameters of a pulled model.

    Raises `ModelNotFound` (listing the local models and the pull command) when it is absent.
    """
    settings = _settings(settings)
    target = _host(host, settings)
    parsed = parse_model_name(name)

    def ask() -> ModelInfo:
        with _translated(target, settings, model=name, check=True):
            shown = client(target, settings=settings, check=True).show(name)
            return _model_info(name, target, shown)

    info: ModelInfo = _cached((target.url, "show", *parsed.key), refresh, ask)
    return info


def _model_info(name: str, host: OllamaHost, shown: ollama.ShowResponse) -> ModelInfo:
    meta = dict(shown.modelinfo or {})
    arch = meta.get("general.architecture")
    context = meta.get(f"{arch}.context_length") if arch else None
    reported = shown.capabilities
    capabilities = frozenset(reported) if reported is not None else known_capabilities(name)
    details = shown.details
    return ModelInfo(
        name=name,
        host=host.url,
        capabilities=capabilities,
        context_length=int(context) if isinstance(context, int | float) else None,
        family=details.family if details else None,
        parameter_size=details.parameter_size if details else None,
        quantization=details.quantization_level if details else None,
        parameters=parse_parameters(shown.parameters or ""),
        capabilities_reported=reported is not None,
    )


def parse_parameters(text: str) -> dict[str, Any]:
    """Parse ``/api/show``'s ``parameters`` text (``key  value`` lines; repeated keys become lists).

    >>> parse_parameters('num_ctx                        8192\\nstop                           "<|im_end|>"\\nstop "x"')
    {'num_ctx': 8192, 'stop': ['<|im_end|>', 'x']}
    """
    result: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, raw = line.strip().partition(" ")
        if not key:
            continue
        value: Any
        try:
            value = json.loads(raw.strip())
        except ValueError:
            value = raw.strip()
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = [value] if key == "stop" else value
    return result


def require_capabilities(info: ModelInfo, capabilities: Iterable[str]) -> None:
    """Raise `CapabilityMissing` for the first capability the model lacks."""
    for capability in capabilities:
        if not info.supports(capability):
            raise CapabilityMissing(info.name, capability, info.capabilities)


def pull_model(
    name: str,
    *,
    on_progress: ProgressCallback | None = None,
    host: HostLike = None,
    settings: OllamaSettings | None = None,
    insecure: bool = False,
) -> None:
    """Pull ``name``, passing every progress event to ``on_progress``. An interrupted pull resumes.

    A name from a registry other than Ollama's own or Hugging Face's needs
    ``insecure=True``, as Ollama needs ``--insecure`` for registries it cannot verify.
    """

    settings = _settings(settings)
    target = _host(host, settings)
    registry = parse_model_name(name).host.lower()
    if registry not in TRUSTED_REGISTRIES and not insecure:
        raise ConfigError(
            f"model {name!r} comes from registry {registry!r}, which is not Ollama's or Hugging Face's; "
            "pass insecure=True (CLI: --insecure) if you trust it"
        )
    try:
        with _translated(target, settings):
            stream = client(target, settings=settings).pull(name, insecure=insecure, stream=True)
            for part in stream:
                event = PullProgress(name, str(part.status or ""), part.digest, part.total, part.completed)
                if on_progress is not None:
                    on_progress(event)
    except OllamaServerError as exc:
        raise PullFailed(name, target.url, exc.message) from exc
    _forget(target, name)


def ensure_model(
    name: str,
    *,
    pull: bool = False,
    on_progress: ProgressCallback | None = None,
    host: HostLike = None,
    settings: OllamaSettings | None = None,
) -> ModelInfo:
    """Return the model's info, pulling it first when absent and ``pull`` is true.

    Without ``host``, every configured host that answers is checked (and pulled to), and
    the first one's info is returned: with several hosts, each must be able to serve the model.
    """
    settings = _settings(settings)
    if host is None and len(settings.hosts) > 1:
        infos = [
            ensure_model(name, pull=pull, on_progress=on_progress, host=each, settings=settings)
            for each in reachable_hosts(settings)
        ]
        return infos[0]
    target = _host(host, settings)
    try:
        return model_info(name, target, settings=settings)
    except ModelNotFound:
        if not pull:
            raise
    pull_model(name, on_progress=on_progress, host=target, settings=settings)
    return model_info(name, target, settings=settings, refresh=True)


@dataclass(frozen=True)
class WarmedModel:
    """A model `warm_model` loaded: how long it took, and the context it was loaded with."""

    name: str
    seconds: float
    context_length: int | None
    """From ``/api/ps`` (Ollama 0.10+): what the server allocated, which may differ from what was asked."""
    hosts: tuple[str, ...] = ()
    """The servers it was loaded on (every reachable configured host when none was named)."""


def warm_model(
    name: str, keep_alive: str | float | None = None, *, host: HostLike = None, settings: OllamaSettings | None = None
) -> WarmedModel:
    """Load the model into memory so the first agent turn does not pay the cold start.

    Returns the seconds taken and the context length actually loaded: Ollama picks a
    default from free memory when nothing sets ``num_ctx``, so it may not be what you expect.
    Without ``host`` and with several configured hosts, every host that answers loads it
    (at the same time); the seconds are then the slowest host's, the context the first's.
    """
    settings = _settings(settings)
    if host is None and len(settings.hosts) > 1:
        return _warm_all(name, keep_alive, settings)
    target = _host(host, settings)
    alive = keep_alive if keep_alive is not None else settings.keep_alive
    options = {"num_ctx": settings.num_ctx} if settings.num_ctx is not None else None
    started = time.perf_counter()
    with _translated(target, settings, model=name):
        client(target, settings=settings).generate(
            model=name, prompt="", keep_alive=_keep_alive_value(alive) if alive is not None else None, options=options
        )
    seconds = time.perf_counter() - started
    return WarmedModel(name, seconds, loaded_context(name, target, settings=settings), (target.url,))


def _warm_all(name: str, keep_alive: str | float | None, settings: OllamaSettings) -> WarmedModel:
    from concurrent.futures import ThreadPoolExecutor

    hosts = reachable_hosts(settings)
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        warmed = list(pool.map(lambda h: warm_model(name, keep_alive, host=h, settings=settings), hosts))
    slowest = max(w.seconds for w in warmed)
    return WarmedModel(name, slowest, warmed[0].context_length, tuple(h.url for h in hosts))


def loaded_context(name: str, host: HostLike = None, *, settings: OllamaSettings | None = None) -> int | None:
    """The context length ``name`` is loaded with right now (``/api/ps``), or None when not loaded or not reported."""
    wanted = parse_model_name(name).key
    for running in running_models(host, settings=settings):
        if parse_model_name(running.name).key == wanted:
            return running.context_length
    return None


def _keep_alive_value(value: str | float) -> str | float:
    """Numbers mean seconds to Ollama; strings are Go durations. A bare numeric string is sent as a number."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return text
    return value


def derived_name(name: str, num_ctx: int) -> str:
    """The name of the derived model that carries ``num_ctx``.

    >>> derived_name("llama3.1", 16384)
    'llama3.1:latest-ctx16384'
    >>> derived_name("user/m:7b", 8192)
    'user/m:7b-ctx8192'
    """
    parsed = parse_model_name(name)
    return parsed.with_tag(f"{parsed.tag}-ctx{num_ctx}").short


def ensure_context(name: str, num_ctx: int, *, host: HostLike = None, settings: OllamaSettings | None = None) -> str:
    """Return a model name that loads with ``num_ctx``: ``name`` itself or a derived model, created once.

    Ollama's ``/v1`` endpoint cannot set ``num_ctx`` per request, so a long agent chat is
    silently truncated at the server's default; a derived model carries the setting.
    """
    settings = _settings(settings)
    target = _host(host, settings)
    info = model_info(name, target, settings=settings)
    if info.num_ctx == num_ctx:
        return name
    if info.context_length is not None and num_ctx > info.context_length:
        raise ConfigError(
            f"num_ctx {num_ctx} is larger than {name!r} supports ({info.context_length} tokens); "
            f"set {env_name('num_ctx')} to at most {info.context_length}"
        )
    derived = derived_name(name, num_ctx)
    with contextlib.suppress(ModelNotFound):
        if model_info(derived, target, settings=settings).num_ctx == num_ctx:
            return derived
    require_version(CREATE_MIN_VERSION, "setting num_ctx through a derived model", target, settings=settings)
    with _translated(target, settings, model=name):
        client(target, settings=settings).create(model=derived, from_=name, parameters={"num_ctx": num_ctx})
    model_info(derived, target, settings=settings, refresh=True)
    return derived


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.5.1"`` -> ``(0, 5, 1)``; suffixes such as ``-rc2`` are ignored."""
    numbers = []
    for part in version.split("-")[0].split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers + [0] * (3 - len(numbers)))
