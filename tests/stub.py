"""A scriptable HTTP server for what a real server cannot be made to do on demand.

It records every request (method, path, headers, JSON body) and answers from a
route table: a status and body, an NDJSON stream that may break off, a hang, or
garbage. Real-model behaviour is tested against the embedded server instead.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    lines: list[Any] | None = None  # NDJSON stream
    cut_after: int | None = None  # drop the connection after this many stream lines
    delay: float = 0.0  # sleep before answering (a hang when long)
    raw: bytes | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Stub:
    routes: dict[tuple[str, str], Reply | Callable[[Recorded], Reply]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, path: str, reply: Reply | Callable[[Recorded], Reply]) -> None:
        self.routes[(method, path)] = reply

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]


def chat_completion(model: str = "m", content: str = "hi") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            path = self.path.split("?")[0]
            record = Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
            stub.requests.append(record)
            reply = stub.routes.get((self.command, path))
            if callable(reply):
                reply = reply(record)
            if reply is None:
                reply = Reply(404, {"error": f"stub has no route {self.command} {path}"})
            if reply.delay:
                time.sleep(reply.delay)
            if reply.lines is not None:
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type if reply.content_type != "application/json" else "application/x-ndjson")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for index, line in enumerate(reply.lines):
                    if reply.cut_after is not None and index >= reply.cut_after:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    data = line if isinstance(line, bytes) else (json.dumps(line) + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                return
            data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_HEAD = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def running_stub() -> Iterator[Stub]:
    stub = Stub()
    server = _Server(("127.0.0.1", 0), _handler(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on loopback where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
