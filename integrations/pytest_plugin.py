"""Pytest fixtures for code that talks to Ollama: a real model without Ollama.

Registered as the ``ollama_integrations`` pytest11 entry point. Fixtures:

* ``ollama_server`` (session): an `integrations.embedded.EmbeddedServer` on a
  free port with a temporary models dir and the test model pulled through the
  server's own ``/api/pull``; or, with ``--ollama-real``, the real server at
  ``OLLAMA_HOST``. Either way it has ``.url``. Without the embedded server's
  extra or model the tests that use it are skipped, or fail with ``--require-embedded``.
* ``ollama_model`` (session): the test model, ``"smollm2:135m"`` unless
  ``--ollama-model NAME`` or ``$OLLAMA_INTEGRATIONS_TEST_MODEL`` names another.
* ``ollama_settings``: ``OllamaSettings(host=<server url>, model=<model>)``.
* ``decider_model`` (session): ``"qwen2.5-coder:0.5b"``, a model that decides
  its own tool calls, pulled into the same server. Mark the tests that need it
  ``@pytest.mark.decider`` so ``-m decider`` (or ``-m "not decider"``) selects them.

Catalogue models are fetched once per machine into the default models dir
(``$OLLAMA_INTEGRATIONS_MODELS_DIR``, else ``~/.cache/ollama-integrations/models``:
cache that directory in CI) and hard-linked into each session's temporary
models dir, so a session never downloads the same bytes twice.

Importing this module is cheap: the engine and the server load inside the fixture. Tests marked
``@pytest.mark.engines`` run twice, on the configured engine (``--engine``, else
``$OLLAMA_INTEGRATIONS_ENGINE``, else ``auto``) and on the other one where it is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = [
    "OllamaServerInfo",
    "decider_model",
    "ollama_model",
    "ollama_server",
    "ollama_settings",
    "pytest_addoption",
    "pytest_configure",
]

MODEL = "smollm2:135m"
DECIDER = "qwen2.5-coder:0.5b"
MODEL_ENV = "OLLAMA_INTEGRATIONS_TEST_MODEL"


@dataclass(frozen=True)
class OllamaServerInfo:
    """What the ``ollama_server`` fixture yields."""

    url: str
    embedded: bool
    models_dir: Path | None = None
    server: Any = None  # the EmbeddedServer, when embedded
    cache_dir: Path | None = None  # where catalogue models are kept between sessions, when embedded
    engine: str | None = None  # the embedded server's engine ("xllamacpp" or "llama-cpp"), when embedded


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ollama-integrations")
    group.addoption(
        "--ollama-real",
        action="store_true",
        default=False,
        help="run Ollama tests against the real server at OLLAMA_HOST instead of the embedded llama.cpp server",
    )
    group.addoption(
        "--require-embedded",
        action="store_true",
        default=False,
        help="fail, instead of skipping, the tests that need the embedded server when its extra or model is missing",
    )
    group.addoption(
        "--engine",
        default=None,
        choices=("auto", "xllamacpp", "llama-cpp"),
        help="the embedded server's engine (default: $OLLAMA_INTEGRATIONS_ENGINE, else auto); tests marked "
        "'engines' also run on the other engine where it is installed",
    )
    group.addoption(
        "--ollama-model",
        default=None,
        metavar="NAME",
        help=f"the model the Ollama fixtures use (default: ${MODEL_ENV}, else {MODEL})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"decider: needs a model that decides its own tool calls (the decider_model fixture, {DECIDER})"
    )
    # Read now: test fixtures may clear OLLAMA_INTEGRATIONS_* variables to isolate each test.
    chosen = config.getoption("--ollama-model", default=None)
    if not chosen:
        from integrations.embedded.settings import embedded_settings

        chosen = embedded_settings().test_model
    config.stash[_MODEL_KEY] = chosen or MODEL
    config.addinivalue_line(
        "markers", "engines: also runs on the embedded server's second engine (xllamacpp or llama-cpp), where installed"
    )
    engine = config.getoption("--engine", default=None)
    if not engine:
        from integrations.embedded.settings import embedded_settings

        engine = embedded_settings().engine
    config.stash[_ENGINE_KEY] = engine


_MODEL_KEY = pytest.StashKey[str]()
_ENGINE_KEY = pytest.StashKey[str]()


def _unavailable(config: pytest.Config, reason: str) -> NoReturn:
    if config.getoption("--require-embedded", default=False):
        pytest.fail(f"{reason} (--require-embedded)", pytrace=False)
    pytest.skip(reason)


def _real_url() -> str:
    """The real server at ``OLLAMA_HOST``; a bind-all address is reached through loopback, as Ollama's CLI does."""
    from integrations.settings import OllamaSettings

    url = OllamaSettings().hosts[0].url
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        url = url.replace(wildcard, "//127.0.0.1:")
    return url


def _pull(url: str, model: str) -> None:
    import httpx

    response = httpx.post(f"{url}/api/pull", json={"model": model, "stream": False}, timeout=1800)
    if response.status_code != 200:
        pytest.fail(f"pulling {model} from {url} failed with {response.status_code}: {response.text}")


@pytest.fixture(scope="session")
def ollama_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ollama_model: str
) -> Iterator[OllamaServerInfo]:
    """An Ollama-compatible server with ``ollama_model`` pulled (embedded unless ``--ollama-real``)."""
    model = ollama_model
    if request.config.getoption("--ollama-real", default=False):
        url = _real_url()
        _pull(url, model)
        yield OllamaServerInfo(url=url, embedded=False)
        return
    from integrations._deps import require
    from integrations.embedded.engines import resolve_engine
    from integrations.errors import ConfigError, MissingDependency

    wanted = getattr(request, "param", "engine")
    try:
        require("integrations.embedded.server", "embedded")
        engine = resolve_engine(request.config.stash.get(_ENGINE_KEY, "auto"))
    except (MissingDependency, ConfigError) as exc:
        _unavailable(request.config, f"the embedded Ollama server is unavailable: {exc}")
    if wanted == "second-engine":
        engine = _second_engine(engine)
    from integrations.embedded import EmbeddedServer, default_models_dir

    models_dir = tmp_path_factory.mktemp("ollama-models")
    _seed(request.config, models_dir, model)
    server = EmbeddedServer(models_dir=models_dir, engine=engine).start()
    try:
        _pull(server.url, model)
        yield OllamaServerInfo(url=server.url, embedded=True, models_dir=models_dir, server=server,
                               cache_dir=default_models_dir(), engine=engine)
    finally:
        server.stop()


def _second_engine(first: str) -> str:
    """The engine other than ``first``, or a skip naming what to install (CI installs the default engine only)."""
    from integrations.embedded.engines import ENGINES, resolve_engine
    from integrations.errors import ConfigError, MissingDependency

    other = next(e for e in ENGINES if e != first)
    try:
        return resolve_engine(other)
    except (MissingDependency, ConfigError) as exc:
        pytest.skip(f"the second engine {other!r} is not installed here: {exc}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``engines`` run twice: on the configured engine and on the other one, where installed."""
    if metafunc.definition.get_closest_marker("engines") is None or "ollama_server" not in metafunc.fixturenames:
        return
    if metafunc.config.getoption("--ollama-real", default=False):
        return
    metafunc.parametrize("ollama_server", ["engine", "second-engine"], indirect=True, scope="session")


def _seed(config: pytest.Config, models_dir: Path, model: str) -> None:
    """Put a catalogue model's file into ``models_dir`` from the machine's models dir, pulling it there once."""
    from integrations.embedded.catalogue import lookup
    from integrations.embedded.protocol import ApiError
    from integrations.embedded.store import Store, default_models_dir

    entry = lookup(model)
    if entry is None:
        return  # not in the catalogue: the server's own pull says so
    cache = Store(default_models_dir())
    try:
        for _ in cache.pull(model):
            pass
    except ApiError as exc:
        _unavailable(config, f"the embedded model {model} could not be pulled into {cache.root}: {exc.message}")
    source, target = cache.blob_path(entry.digest), Store(models_dir).blob_path(entry.digest)
    if target.exists():
        return
    try:
        os.link(source, target)  # same file, no copy; deleting it in the session leaves the cache intact
    except OSError:
        shutil.copyfile(source, target)


@pytest.fixture(scope="session")
def ollama_model(request: pytest.FixtureRequest) -> str:
    """The model every fixture-backed test uses: ``--ollama-model``, ``$OLLAMA_INTEGRATIONS_TEST_MODEL`` or smollm2."""
    return request.config.stash.get(_MODEL_KEY, MODEL)


@pytest.fixture(scope="session")
def decider_model(request: pytest.FixtureRequest, ollama_server: OllamaServerInfo) -> str:
    """A model that decides its own tool calls (qwen2.5-coder:0.5b), pulled into ``ollama_server``."""
    if ollama_server.embedded and ollama_server.models_dir is not None:
        _seed(request.config, ollama_server.models_dir, DECIDER)
    _pull(ollama_server.url, DECIDER)
    return DECIDER


@pytest.fixture
def ollama_settings(ollama_server: OllamaServerInfo, ollama_model: str) -> Any:
    """`OllamaSettings` pointing at ``ollama_server`` and ``ollama_model``."""
    from integrations.settings import OllamaSettings

    return OllamaSettings(host=ollama_server.url, model=ollama_model)
