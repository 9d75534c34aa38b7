"""Ollama's OpenAI-compatibility quickstart: the World Series chat through the OpenAI SDK, curl and plain HTTP.

Shows the announcement's Python snippet (a system message and a multi-turn
conversation) sent with ``integrations.openai_client()``, then the same request as
the curl command you could paste (printed with your configured base URL) and sent
with the standard library's ``urllib``, to show there is nothing more to it than
JSON over HTTP. Both answers and the raw responses are saved as ``responses.json``.

Needs: ``pip install ollama-integrations`` only (the OpenAI SDK is a core dependency) and any chat model
(default: the library's default model; the announcement used ``llama2``).

Run:
    python examples/openai_quickstart.py [--model llama3.2]
    ollama-integrations run openai-quickstart --embedded
"""

from __future__ import annotations

import json
import shlex
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common

from integrations import OllamaError, OllamaSettings, openai_client

EXAMPLE = "openai_quickstart"
MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Who won the world series in 2020?"},
    {"role": "assistant", "content": "The LA Dodgers won in 2020."},
    {"role": "user", "content": "Where was it played?"},
]


@dataclass
class Result:
    """Both answers and what was sent, for printing and for tests."""

    sdk_answer: str
    http_answer: str
    curl: str
    request: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sdk_answer.strip()) and bool(self.http_answer.strip())


def request_body(settings: OllamaSettings) -> dict[str, Any]:
    """The chat request as JSON, with the output cap and seed when configured (the SDK path adds them itself)."""
    body: dict[str, Any] = {"model": settings.model, "messages": MESSAGES}
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    if settings.seed is not None:
        body["seed"] = settings.seed
    return body


def curl_command(settings: OllamaSettings, body: dict[str, Any]) -> str:
    """A copy-pasteable curl command for ``body`` against the configured server."""
    lines = [
        f"curl {shlex.quote(settings.base_url + '/chat/completions')}",
        '-H "Content-Type: application/json"',
    ]
    if settings.api_key.get_secret_value() != "ollama":  # local Ollama ignores the key; never print a real one
        lines.append('-H "Authorization: Bearer $OLLAMA_API_KEY"')
    lines.append(f"-d {shlex.quote(json.dumps(body, indent=2))}")
    return " \\\n    ".join(lines)


def post_json(url: str, body: dict[str, Any], *, api_key: str, timeout: float) -> dict[str, Any]:
    """POST ``body`` as JSON with urllib; raises `RuntimeError` with the server's message on failure."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url} answered {exc.code}: {exc.read().decode(errors='replace')}") from exc
    except urllib.error.URLError as exc:
        raise RuntimeError(f"{url} is not reachable: {exc.reason}") from exc


def run(settings: OllamaSettings, *, work_dir: Path) -> Result:
    """Ask the same question through the SDK and through raw HTTP; save both to ``responses.json``."""
    client = openai_client(settings=settings)  # checks the server and model first (unless check=False)
    response = client.chat.completions.create(model=settings.model, messages=MESSAGES)  # type: ignore[arg-type]
    sdk_answer = response.choices[0].message.content or ""

    body = request_body(settings)
    raw = post_json(
        settings.base_url + "/chat/completions",
        body,
        api_key=settings.api_key.get_secret_value(),
        timeout=settings.timeout,
    )
    http_answer = str(raw["choices"][0]["message"].get("content") or "")

    work_dir.mkdir(parents=True, exist_ok=True)
    saved = work_dir / "responses.json"
    record = {"request": body, "sdk": response.model_dump(), "http": raw}
    saved.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return Result(sdk_answer, http_answer, curl_command(settings, body), body, [saved])


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, max_turns=1)  # one request each way; --max-turns is accepted for uniformity
    args = p.parse_args(argv)
    try:
        settings = _common.settings_from(args)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[openai_quickstart] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        result = run(settings, work_dir=work_dir)
    except (OllamaError, RuntimeError) as exc:
        print(f"[openai_quickstart] error: {exc}", file=sys.stderr)
        return 2
    print(f"\nOpenAI SDK answer:\n{result.sdk_answer}\n")
    print(f"The same request with curl:\n{result.curl}\n")
    print(f"Answer over plain HTTP (urllib):\n{result.http_answer}\n")
    print(f"[openai_quickstart] saved {result.files[0]}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
