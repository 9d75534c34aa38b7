"""`serve()` in the foreground of its own process: it logs where it listens and which models it has."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[3]


def test_serve_logs_and_answers_until_interrupted(tmp_path: Path, ollama_server):
    if not ollama_server.embedded:
        pytest.skip("starts the embedded server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import logging; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s');"
        "from integrations.embedded import serve;"
        f"serve(port={port}, models_dir={str(tmp_path)!r}, models=['smollm2:135m'])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                tags = httpx.get(f"http://127.0.0.1:{port}/api/tags", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert [m["name"] for m in tags.json()["models"]] == ["smollm2:135m"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"integrations.embedded embedded Ollama server (protocol 0.32.15) listening on http://127.0.0.1:{port}" in err
    assert "models: smollm2:135m" in err
