"""Connection limits for uvicorn: head and body deadlines, and a cap on open connections that slow clients cannot hold.

uvicorn starts its keep-alive timer only after a response, so a connection that
never sends a request line stays open forever; 20,000 of them exhausted the
server's file limit. And uvicorn's own ``limit_concurrency`` answers 503 to every
new request once that many requests wait for their bodies, so 1,100 clients that
send a head and never finish the body made every other request fail.
`GuardedH11Protocol` therefore:

* closes a connection whose request head has not arrived within `HEADER_TIMEOUT`
  seconds of connecting or of the previous response (keep-alive included);
* closes a connection whose request body stalls: no byte for `BODY_IDLE_TIMEOUT`
  seconds, or less than `MIN_BODY_RATE` bytes per second on average after
  `BODY_GRACE` seconds (time spent paused by our own flow control does not count),
  so an ``N``-byte body must arrive within ``BODY_GRACE + N / MIN_BODY_RATE`` seconds,
  and a stalled ``/api/blobs`` upload is dropped, with its temporary file, at
  ``BODY_IDLE_TIMEOUT``;
* caps open connections at `max_connections`; at the cap a new connection evicts the
  connection that has waited longest for a head or a body, so a client that sends
  its requests promptly is served however many slow ones are open. Only when every
  open connection has a request being answered is the new one closed.

No 503 for concurrency: the cap above replaces uvicorn's ``limit_concurrency``.
`raise_file_limit` lifts the soft file limit to the hard one, as Go programs such
as Ollama do at start. `uvicorn_options` gathers what `serve` and `EmbeddedServer`
pass to ``uvicorn.Config``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "BODY_GRACE",
    "BODY_IDLE_TIMEOUT",
    "HEADER_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "LISTEN_BACKLOG",
    "MIN_BODY_RATE",
    "GuardedH11Protocol",
    "max_connections",
    "raise_file_limit",
    "uvicorn_options",
]

log = logging.getLogger("integrations.embedded")

HEADER_TIMEOUT = 10.0
"""Seconds a client has, from connecting (or from the previous response), to send a complete request head."""

BODY_IDLE_TIMEOUT = 10.0
"""Seconds a request body may go without a byte arriving (while we are ready to read it)."""

BODY_GRACE = 10.0
"""Seconds of a request body before `MIN_BODY_RATE` applies."""

MIN_BODY_RATE = 16 * 1024
"""Bytes per second a request body must average after `BODY_GRACE` (128 kbit/s)."""

KEEP_ALIVE_TIMEOUT = 5.0
"""Seconds an idle keep-alive connection stays open between requests (uvicorn's default, stated)."""

LISTEN_BACKLOG = 2048
"""Connections the kernel queues before we accept them (capped by ``net.core.somaxconn``)."""

_TICK = 0.5  # seconds between checks of a body in progress


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


def raise_file_limit(wanted: int = 65536) -> int:
    """Lift the soft open-file limit towards ``wanted`` (never above the hard limit); the soft limit after."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (ImportError, OSError, ValueError):  # not on a Unix, or not allowed
        return 0


def _waiting(protocol: H11Protocol) -> OrderedDict[GuardedH11Protocol, None]:
    """The server's connections that wait for a head or a body, longest-waiting first (one registry per server)."""
    state = protocol.server_state
    registry: OrderedDict[GuardedH11Protocol, None] | None = getattr(state, "_integrations_waiting", None)
    if registry is None:
        registry = OrderedDict()
        state._integrations_waiting = registry  # type: ignore[attr-defined]  # our own attribute on uvicorn's state
    return registry


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with head and body deadlines and an open-connection cap that evicts the slowest."""

    header_timeout = HEADER_TIMEOUT
    body_idle_timeout = BODY_IDLE_TIMEOUT
    body_grace = BODY_GRACE
    min_body_rate = MIN_BODY_RATE
    limit: int | None = None  # None: `max_connections()` when the connection arrives (after `raise_file_limit`)

    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._received = 0
        waiting = _waiting(self)
        if len(self.connections) > (self.limit if self.limit is not None else max_connections()):
            victim = next((p for p in waiting if p is not self and not p.transport.is_closing()), None)
            if victim is None:  # every connection has a request being answered: refuse the newcomer
                transport.close()  # the fd is freed now; the client sees a reset and may retry
                return
            victim.evict()
        self._wait_for_head()

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self.transport.is_closing():
            self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start the next cycle and handle a pipelined request
        if not self.transport.is_closing():
            self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(head=True)
        self._cancel(head=False)
        _waiting(self).pop(self, None)
        super().connection_lost(exc)

    def evict(self) -> None:
        """Close this waiting connection to make room for a new one."""
        log.debug("closing a connection that waited longest for its request (open-connection cap reached)")
        self._close()

    # -- where the request is -------------------------------------------------

    def _track(self) -> None:
        """Arm the deadline for what the connection waits for: a head, a body, or nothing (being answered)."""
        theirs = self.conn.their_state
        if theirs is h11.IDLE:
            if self._head_timer is None and self.conn.our_state is h11.IDLE:
                self._wait_for_head()  # a new cycle on a keep-alive connection
        elif theirs is h11.SEND_BODY:
            if self._body_timer is None:
                self._wait_for_body()
        elif self._head_timer is not None or self._body_timer is not None:
            self._served()

    # -- the head ------------------------------------------------------------

    def _wait_for_head(self) -> None:
        self._cancel(head=True)
        self._cancel(head=False)
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timeout)
        waiting = _waiting(self)
        waiting.pop(self, None)
        waiting[self] = None  # waits from now: the newest end of the queue

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._close()

    # -- the body ------------------------------------------------------------

    def _wait_for_body(self) -> None:
        self._cancel(head=True)
        now = time.monotonic()
        self._body_started = self._last_progress = now
        self._body_base = self._received
        self._body_seen = self._received
        self._paused = 0.0
        self._body_timer = self.loop.call_later(_TICK, self._check_body)

    def _check_body(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        now = time.monotonic()
        if self.flow.read_paused:  # our app is slow to take the body: the client is not to blame
            self._paused += _TICK
            self._last_progress = now
        elif self._received > self._body_seen:
            self._body_seen = self._received
            self._last_progress = now
        elapsed = now - self._body_started - self._paused
        owed = (elapsed - self.body_grace) * self.min_body_rate
        if now - self._last_progress > self.body_idle_timeout or self._received - self._body_base < owed:
            log.debug(
                "closing a connection whose request body stalled (%d bytes in %.1f s)",
                self._received - self._body_base,
                elapsed,
            )
            self._close()
            return
        self._body_timer = self.loop.call_later(_TICK, self._check_body)

    def _served(self) -> None:
        """The whole request is in: the app answers it, and this connection is no longer evictable."""
        self._cancel(head=False)
        _waiting(self).pop(self, None)

    # -- helpers -------------------------------------------------------------

    def _cancel(self, *, head: bool) -> None:
        timer = self._head_timer if head else self._body_timer
        if timer is not None:
            timer.cancel()
        if head:
            self._head_timer = None
        else:
            self._body_timer = None

    def _close(self) -> None:
        _waiting(self).pop(self, None)
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: the guarded protocol, the keep-alive timeout, no 503 cap."""
    return {
        "http": GuardedH11Protocol,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
        "limit_concurrency": None,  # GuardedH11Protocol.limit bounds connections without refusing prompt clients
    }
