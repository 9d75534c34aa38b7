"""A counting TCP proxy: how many connections and HTTP requests reach the server.

It forwards bytes both ways without parsing bodies; it counts a request each time
a client-to-server chunk starts with an HTTP method. Good enough for the small,
sequential requests the benchmarks send.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

_METHODS = (b"GET ", b"POST ", b"HEAD ", b"DELETE ", b"PUT ", b"OPTIONS ")


@dataclass
class CountingProxy:
    target_host: str
    target_port: int
    connections: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def reset(self) -> None:
        with self._lock:
            self.connections = 0
            self.requests = 0

    def start(self) -> CountingProxy:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            upstream = socket.create_connection((self.target_host, self.target_port))
            for args in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                if outbound and data.startswith(_METHODS):
                    with self._lock:
                        self.requests += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
