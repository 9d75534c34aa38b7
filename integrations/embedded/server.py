"""The application and its two ways to run: `EmbeddedServer` (a background thread) and `serve` (foreground).

The routes live in `native` (``/api``) and `openai_compat` (``/v1``), both over
the generation core in `core`; `guard` adds Ollama's browser protections.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from integrations.embedded.anthropic_api import anthropic_routes
from integrations.embedded.connections import LISTEN_BACKLOG, raise_file_limit, uvicorn_options
from integrations.embedded.core import Core
from integrations.embedded.engines import select_engine
from integrations.embedded.guard import Guard, is_loopback
from integrations.embedded.native import OLLAMA_VERSION, NativeApi, native_routes
from integrations.embedded.openai_compat import openai_routes
from integrations.embedded.protocol import FOREVER, ApiError, parse_options
from integrations.embedded.responses_api import responses_routes
from integrations.embedded.runtime import Runtime
from integrations.embedded.settings import embedded_settings
from integrations.embedded.store import ModelRecord, Store
from integrations.embedded.wire import MAX_BODY
from integrations.errors import ConfigError

__all__ = ["MAX_BODY", "OLLAMA_VERSION", "EmbeddedServer", "build_app", "serve"]

log = logging.getLogger("integrations.embedded")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return PlainTextResponse("404 page not found", status_code=404)
    if status == 405:
        return PlainTextResponse("405 method not allowed", status_code=405)
    return PlainTextResponse(str(getattr(exc, "detail", "")), status_code=status)


def _extra_origins() -> tuple[str, ...]:
    return embedded_settings().allowed_origins()


def build_app(store: Store, runtime: Runtime, *, check_host: bool = True,
              origins: Sequence[str] | None = None) -> Any:
    """The ASGI application serving ``store`` through ``runtime``.

    ``check_host`` enables Ollama's Host-header check (servers bound to loopback use it);
    ``origins`` are allowed CORS origins beyond Ollama's defaults (``OLLAMA_ORIGINS``).
    """
    core = Core(store, runtime)
    native = NativeApi(core)
    routes = [*native_routes(native), *openai_routes(core, native), *responses_routes(core), *anthropic_routes(core)]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return Guard(app, check_host, _extra_origins() if origins is None else origins)


def _check_bind(host: str, allow_remote: bool) -> None:
    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            f"refusing to bind the embedded Ollama server to {host!r}: it has no authentication, so it only "
            "listens on loopback (127.0.0.1) by default. Bind 127.0.0.1, or pass allow_remote=True "
            "(CLI: --allow-remote) if the network is trusted."
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another port (port=0 picks a free one)."
        ) from None
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


def _ensure_models(store: Store, names: Iterable[str]) -> list[ModelRecord]:
    records = []
    for name in names:
        record = store.resolve(name)
        if record is None:
            try:
                for _ in store.pull(name):
                    pass
            except ApiError as exc:
                raise ConfigError(f"cannot provide model {name!r}: {exc.message}") from None
            record = store.resolve(name)
        if record is None:
            raise ConfigError(f"cannot provide model {name!r}: the pull finished but the model is not in the store")
        records.append(record)
    return records


class EmbeddedServer:
    """An Ollama-compatible server on a background thread.

    ``preload`` pulls models when missing and keeps them loaded; ``prompt_cache_slots``
    is how many conversations stay evaluated per model (see `integrations.embedded.slots`);
    ``engine`` is ``auto``, ``xllamacpp`` or ``llama-cpp`` (default: the ``engine`` setting;
    see `integrations.embedded.engines`).
    Usage::

        with EmbeddedServer(preload=["smollm2:135m"]) as server:
            ollama.Client(host=server.url).list()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        models_dir: str | Path | None = None,
        *,
        allow_remote: bool = False,
        preload: Iterable[str] = (),
        prompt_cache_slots: int | None = None,
        engine: str | None = None,
    ) -> None:
        _check_bind(host, allow_remote)
        self.host = host
        self._requested_port = port
        self.store = Store(models_dir)
        self.runtime = Runtime(prompt_cache_slots, select_engine(engine))
        self.preload = tuple(preload)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _prepare(self) -> tuple[uvicorn.Server, socket.socket, list[ModelRecord]]:
        """Provide the preloaded models, bind, and build the uvicorn server (not yet running)."""
        records = _ensure_models(self.store, self.preload)
        raise_file_limit()  # before binding: GuardedH11Protocol.limit is half of it
        sock = _bind(self.host, self._requested_port)
        self._sock = sock
        self.port = sock.getsockname()[1]
        app = build_app(self.store, self.runtime, check_host=is_loopback(self.host))
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2, **uvicorn_options())
        self._server = uvicorn.Server(config)
        self.runtime.start()
        return self._server, sock, records

    def _preload(self, records: list[ModelRecord]) -> None:
        for record in records:
            lm, _ = self.runtime.acquire(record, parse_options(record.parameters))
            self.runtime.release(lm, FOREVER)  # preloaded models stay loaded

    def start(self) -> EmbeddedServer:
        """Bind, serve on a daemon thread, and return once the socket accepts connections."""
        if self._thread is not None:
            return self
        server, sock, records = self._prepare()
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="embedded-ollama", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive():
                raise ConfigError(f"the embedded server on {self.url} failed to start; see the log for the cause")
            if time.monotonic() > deadline:
                raise ConfigError(f"the embedded server on {self.url} did not start within 30 s")
            time.sleep(0.005)
        self._preload(records)
        log.info("embedded Ollama server listening on %s (models dir %s)", self.url, self.store.root)
        return self

    def serve_forever(self, logger: logging.Logger | None = None) -> None:
        """Serve in the foreground until Ctrl-C."""
        logger = logger or log
        server, sock, records = self._prepare()
        self._preload(records)
        names = [r.short for r in self.store.list()]
        logger.info("embedded Ollama server (protocol %s) listening on %s", OLLAMA_VERSION, self.url)
        logger.info("models dir %s; models: %s", self.store.root,
                    ", ".join(names) if names else "none (pull smollm2:135m)")
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # pragma: no cover - uvicorn normally handles SIGINT itself
            pass
        finally:
            self.stop()
            logger.info("embedded Ollama server on port %d stopped", self.port)

    def stop(self) -> None:
        """Stop serving and unload every model."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self.runtime.stop()
        self._server = None
        self._thread = None
        self._sock = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 11434,
    models_dir: str | Path | None = None,
    *,
    allow_remote: bool = False,
    models: Iterable[str] = (),
    log: logging.Logger | None = None,
    engine: str | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C; ``models`` are pulled first if missing.

    ``log`` is the logger to report to (default ``integrations.embedded``); ``engine`` overrides the
    ``engine`` setting (``auto``, ``xllamacpp`` or ``llama-cpp``).
    """
    server = EmbeddedServer(host, port, models_dir, allow_remote=allow_remote, preload=models, engine=engine)
    server.serve_forever(log)
