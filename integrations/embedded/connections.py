"""Connection limits for uvicorn: a header timeout and a cap on open connections.

uvicorn starts its keep-alive timer only after a response, so a connection that
never sends a request line stays open forever; 20,000 of them exhausted the
server's file limit. `GuardedH11Protocol` closes a connection whose request head
has not arrived within `HEADER_TIMEOUT` seconds, and closes new connections at
once while `max_connections` are open. `uvicorn_options` gathers what `serve`
and `EmbeddedServer` pass to ``uvicorn.Config``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "GuardedH11Protocol", "max_connections", "uvicorn_options"]

HEADER_TIMEOUT = 10.0
"""Seconds a client has, from connecting, to send a complete request head."""

KEEP_ALIVE_TIMEOUT = 5.0
"""Seconds an idle keep-alive connection stays open between requests (uvicorn's default, stated)."""


def max_connections() -> int:
    """Open connections allowed: half the file limit (models, logs and threads need the rest), at most 4096."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # not on a Unix
        return 1024
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(32, min(4096, soft // 2))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout and an open-connection cap."""

    header_timeout = HEADER_TIMEOUT
    limit = max_connections()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limit:
            transport.close()  # the fd is freed now; the client sees a reset and may retry
            return
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout, self._head_timeout)

    def handle_events(self) -> None:
        super().handle_events()
        if self.scope is not None:
            self._cancel_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.scope is None and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: the guarded protocol and the keep-alive timeout."""
    return {"http": GuardedH11Protocol, "timeout_keep_alive": KEEP_ALIVE_TIMEOUT}
