"""Failover between hosts for the factories' HTTP clients: a request that cannot connect goes to the next host.

Only a failure to connect is retried: the request never reached a server, so sending
it elsewhere cannot run it twice. A host that refused is left out for the cooldown
(``cooldown_time``), then tried again first, so a restarted host takes its traffic back.
Requests built for one host's URL are sent to another by swapping the URL prefix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import httpx

from integrations.hosts import OllamaHost

__all__ = ["AsyncFailoverTransport", "FailoverTransport", "HostRotation"]

log = logging.getLogger("integrations")

_CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout)
"""The request was never sent: safe to send to another host."""


class HostRotation:
    """The hosts in the order to try them now: the ones not cooling down first, each group in configured order."""

    def __init__(
        self, hosts: Sequence[OllamaHost], cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hosts = tuple(hosts)
        self.cooldown = cooldown
        self._clock = clock
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def order(self) -> list[OllamaHost]:
        now = self._clock()
        with self._lock:
            up = [h for h in self.hosts if self._down_until.get(h.url, 0.0) <= now]
            down = sorted((h for h in self.hosts if h not in up), key=lambda h: self._down_until[h.url])
        return up + down

    def failed(self, host: OllamaHost) -> None:
        with self._lock:
            self._down_until[host.url] = self._clock() + self.cooldown

    def succeeded(self, host: OllamaHost) -> None:
        with self._lock:
            self._down_until.pop(host.url, None)

    def host_of(self, request: httpx.Request) -> OllamaHost | None:
        url = str(request.url)
        return next((h for h in self.hosts if url == h.url or url.startswith(h.url + "/")), None)

    def moved(self, request: httpx.Request, source: OllamaHost, target: OllamaHost) -> httpx.Request:
        if target == source:
            return request
        url = target.url + str(request.url)[len(source.url) :]
        headers = httpx.Headers({k: v for k, v in request.headers.items() if k.lower() != "host"})
        return httpx.Request(
            request.method, url, headers=headers, content=request.content, extensions=request.extensions
        )


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)


class FailoverTransport(httpx.BaseTransport):
    """Sends each request to the first host of the rotation that accepts a connection."""

    def __init__(self, rotation: HostRotation, inner: httpx.BaseTransport) -> None:
        self.rotation = rotation
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        source = self.rotation.host_of(request)
        if source is None or not _replayable(request):
            return self.inner.handle_request(request)
        order = self.rotation.order()
        for index, host in enumerate(order):
            try:
                response = self.inner.handle_request(self.rotation.moved(request, source, host))
            except _CONNECT_FAILURES as exc:
                self.rotation.failed(host)
                if index == len(order) - 1:
                    raise
                log.warning("cannot connect to %s (%s); sending the request to %s", host.url, exc, order[index + 1].url)
                continue
            self.rotation.succeeded(host)
            return response
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        self.inner.close()


class AsyncFailoverTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of `FailoverTransport`."""

    def __init__(self, rotation: HostRotation, inner: httpx.AsyncBaseTransport) -> None:
        self.rotation = rotation
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        source = self.rotation.host_of(request)
        if source is None or not _replayable(request):
            return await self.inner.handle_async_request(request)
        order = self.rotation.order()
        for index, host in enumerate(order):
            try:
                response = await self.inner.handle_async_request(self.rotation.moved(request, source, host))
            except _CONNECT_FAILURES as exc:
                self.rotation.failed(host)
                if index == len(order) - 1:
                    raise
                log.warning("cannot connect to %s (%s); sending the request to %s", host.url, exc, order[index + 1].url)
                continue
            self.rotation.succeeded(host)
            return response
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def aclose(self) -> None:
        await self.inner.aclose()
