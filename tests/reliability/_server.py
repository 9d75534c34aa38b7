"""The embedded server in a child process, so an input that crashes it is counted instead of killing pytest.

It serves the models directory the ``ollama_server`` fixture pulled into; `send`
classifies how each request ended and restarts the server after a crash.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from integrations.embedded import serve
serve(port=0, models_dir=sys.argv[1], models=[sys.argv[2]])
"""


class ChildServer:
    """``python -c serve(...)`` on a free port; `restart` after it dies."""

    def __init__(self, models_dir: Path, model: str, log: Path) -> None:
        self.models_dir = models_dir
        self.model = model
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.crashes: list[int] = []
        self.client = httpx.Client(timeout=30)

    def start(self) -> ChildServer:
        env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
        self.log.write_bytes(b"")
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(self.models_dir), self.model],
                                         stdout=sink, stderr=sink, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = re.search(rb"listening on (http://\S+:\d+)", self.log.read_bytes())
            if found:
                self.url = found.group(1).decode()
                self.client.post(f"{self.url}/api/generate", json={"model": self.model, "keep_alive": -1})
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the embedded server did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self) -> None:
        if self.proc is not None:
            self.crashes.append(self.proc.wait())
        self.client.close()
        self.client = httpx.Client(timeout=30)
        self.start()

    def stop(self) -> None:
        self.client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def send(self, method: str, path: str, body: Any, *, timeout: float = 30) -> tuple[str, httpx.Response | None]:
        """Send one request; returns its outcome (``"200"``, ``"400"``, ``"server crash"``, ``"timeout"``...)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response: httpx.Response | None = None
        try:
            response = self.client.request(method, f"{self.url}{path}", content=content, timeout=timeout)
            outcome = str(response.status_code)
            if response.status_code == 200 and response.headers.get("content-type", "").startswith(
                    ("application/x-ndjson", "text/event-stream")) and '"error"' in response.text:
                outcome = "200 with an error in the stream"
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError as exc:
            outcome = f"connection error ({type(exc).__name__})"
        if not self.alive():
            outcome = "server crash"
            self.restart()
        return outcome, response
