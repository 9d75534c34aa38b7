"""The JavaScript examples (OpenAI SDK, Vercel AI SDK) run by Node against the embedded server.

The packages are installed once with ``npm ci`` into ``examples/js/node_modules``,
which then serves later runs as a cache (reinstalled when it no longer matches the
pinned versions). Skipped only when Node.js or npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integrations import OllamaSettings, openai_client
from integrations.cli import app
from integrations.config_render import js_environment
from integrations.pytest_plugin import OllamaServerInfo

JS_DIR = Path(__file__).resolve().parents[3] / "examples" / "js"
NODE = shutil.which("node")
NPM = shutil.which("npm")
MAX_TOKENS = "32"  # keeps each generation to a few seconds on the tiny model
NODE_TIMEOUT = 240  # seconds; below pytest-timeout's 300 so a hang fails with the script's output
TICKERS = {"NVDA", "TSLA", "AAPL"}  # the tool's enum in vercel-ai-stream.mjs

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="the JavaScript examples need Node.js and npm on PATH (https://nodejs.org)"
)


def _installed_matches_pins() -> bool:
    pins: dict[str, str] = json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for name, version in pins.items():
        manifest = JS_DIR / "node_modules" / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text(encoding="utf-8"))["version"] != version:
            return False
    return True


@pytest.fixture(scope="session")
def js_packages() -> Path:
    """``examples/js`` with its pinned packages installed (``npm ci`` when missing or stale)."""
    if not _installed_matches_pins():
        assert NPM is not None
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed in {JS_DIR}:\n{done.stdout}\n{done.stderr}"
        assert _installed_matches_pins(), "npm ci did not install the versions pinned in package.json"
    return JS_DIR


def _node(script: str, env: dict[str, str], *, ok: bool = True) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, script],
        cwd=JS_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    if ok:
        assert done.returncode == 0, (
            f"{script} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


def _env_for(settings: OllamaSettings) -> dict[str, str]:
    return {**js_environment(settings), "MAX_TOKENS": MAX_TOKENS}


def test_quickstart_prints_a_completion(js_packages: Path, ollama_settings: OllamaSettings) -> None:
    done = _node("openai-quickstart.mjs", _env_for(ollama_settings))

    assert done.stdout.strip(), f"no answer on stdout; stderr:\n{done.stderr}"
    assert f"model smollm2:135m at {ollama_settings.base_url}" in done.stderr


def test_quickstart_explains_a_missing_server(js_packages: Path, ollama_settings: OllamaSettings) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    env = {**_env_for(ollama_settings), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    done = _node("openai-quickstart.mjs", env, ok=False)

    assert done.returncode == 1
    assert "no server at http://127.0.0.1:9/v1" in done.stderr
    assert "Traceback" not in done.stderr and "    at " not in done.stderr, "a message, not a stack trace"
    assert not done.stdout.strip()


@pytest.mark.plumbing
def test_vercel_streams_and_calls_a_tool(js_packages: Path, ollama_settings: OllamaSettings) -> None:
    done = _node("vercel-ai-stream.mjs", _env_for(ollama_settings))

    lines = done.stdout.rstrip("\n").splitlines()
    summary: dict[str, Any] = json.loads(lines[-1])
    # The streamed answer came in pieces and was printed as it came, before anything else.
    assert summary["chunks"] > 1, summary
    assert summary["text_length"] > 0
    streamed = done.stdout.split("\n\ntool call: ", 1)[0]
    assert len(streamed) == summary["text_length"], "stdout starts with exactly the streamed text"
    # The model's arguments passed the zod schema and the tool ran on them.
    assert len(summary["tool_calls"]) >= 1, summary
    call = summary["tool_calls"][0]
    assert call["name"] == "get_stock_price"
    assert isinstance(call["input"], dict) and set(call["input"]) == {"ticker"}
    assert call["input"]["ticker"] in TICKERS
    assert call["output"]["ticker"] == call["input"]["ticker"] and call["output"]["currency"] == "USD"
    assert isinstance(call["output"]["price"], float)
    assert f"tool call: get_stock_price({json.dumps(call['input'], separators=(',', ':'))})" in done.stdout
    # The tool result went back to the model for a second step (stopWhen: stepCountIs(2)).
    assert summary["steps"] == 2, summary
    assert "\nanswer: " in done.stdout


def test_config_env_drives_the_js_client_to_the_python_factories_host(
    js_packages: Path, ollama_server: OllamaServerInfo, ollama_settings: OllamaSettings
) -> None:
    result = CliRunner().invoke(
        app, ["config", "--format", "env", "--host", ollama_server.url, "--model", "smollm2:135m"]
    )
    assert result.exit_code == 0, result.output
    env = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    python_base_url = str(openai_client(settings=ollama_settings).base_url).rstrip("/")
    assert env["OPENAI_BASE_URL"] == python_base_url
    assert env["OPENAI_API_KEY"] == "ollama" and env["OLLAMA_MODEL"] == "smollm2:135m"

    # Only what the CLI printed (plus the token cap): nothing else points the script anywhere.
    done = _node("openai-quickstart.mjs", {**env, "MAX_TOKENS": MAX_TOKENS})

    assert f"model smollm2:135m at {python_base_url}\n" in done.stderr, "the JS SDK's own base URL"
    assert done.stdout.strip(), "the request reached the server and came back with an answer"


def test_cli_runs_the_js_example(
    js_packages: Path,
    ollama_server: OllamaServerInfo,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # `ollama-integrations run js/...` hands Node the environment from js_environment(); MAX_TOKENS passes through.
    monkeypatch.setenv("MAX_TOKENS", MAX_TOKENS)
    result = CliRunner().invoke(
        app, ["run", "js/openai-quickstart", "--host", ollama_server.url, "--model", "smollm2:135m"]
    )
    out, err = capfd.readouterr()  # node writes to the real file descriptors, not CliRunner's streams

    assert result.exit_code == 0, f"{result.output}\nstdout:\n{out}\nstderr:\n{err}"
    assert f"model smollm2:135m at {ollama_server.url}/v1" in err
    assert out.strip()
