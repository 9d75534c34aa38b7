"""Tool decisions of the catalogue's coder models on the embedded server: does the model call when it should?

    python benchmarks/tool_decisions.py [--models qwen2.5-coder:0.5b qwen2.5-coder:1.5b] [--no-write]

A fixed set of 24 prompts, 12 that need one of two offered tools and 12 that must be
answered in text, ``tool_choice`` left to the model, temperature 0. The embedded
server reads calls the way Ollama does (only inside the template's ``<tool_call>``
tag), so the raw OpenAI SDK sees what it would see from Ollama. Each answer is then
classified twice: as the raw SDK receives it (the baseline: what a user gets
without this package) and as the factories' clients receive it (the transport turns
a call written as bare or fenced JSON naming an offered tool into a real call; the
same function is applied here to the same answer, so both columns come from one
generation). Outcomes are counted, not passes:

* ``call`` — the right tool with the right argument, where a call was needed;
* ``wrong-call`` — a call to the wrong tool or with a wrong argument;
* ``text`` — text where a call was needed;
* ``answer`` — text where no call was needed;
* ``needless-call`` — a call where none was needed;
* ``invented-call`` — text that is a call to a tool nobody offered (``{"name": "say_hello", ...}``):
  text, but not an answer.

Accuracy is (call + answer) / prompts. Each model is asked twice: with no system message (the
template's default one applies) and with a plain agent-style one (``You are a helpful
assistant.``), since agents nearly always send one. The issue's "six simple prompts" figure
is the first three questions that need ``get_price`` and the first three that need no tool
(the six from the measured notes), through the factory clients, without a system message.
Entries merge into ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from integrations._toolcalls import parse_text_calls  # noqa: E402

TOOLS = [
    {"type": "function", "function": {
        "name": "get_price", "description": "The latest stock price for a ticker symbol.",
        "parameters": {"type": "object", "properties": {"ticker": {"type": "string", "description": "e.g. NVDA"}},
                       "required": ["ticker"]}}},
    {"type": "function", "function": {
        "name": "get_weather", "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
]

# (prompt, expected tool or None, a word the argument must contain)
PROMPTS: list[tuple[str, str | None, str]] = [
    ("What is NVDA trading at right now?", "get_price", "NVDA"),
    ("Get me the current price of TSLA.", "get_price", "TSLA"),
    ("How much does one AAPL share cost today?", "get_price", "AAPL"),
    ("Look up the stock price of MSFT.", "get_price", "MSFT"),
    ("I need Amazon's (AMZN) share price.", "get_price", "AMZN"),
    ("Check the latest quote for GOOG.", "get_price", "GOOG"),
    ("What's the weather like in Paris right now?", "get_weather", "Paris"),
    ("Is it raining in London at the moment?", "get_weather", "London"),
    ("Tell me the current weather in Tokyo.", "get_weather", "Tokyo"),
    ("How hot is it in Madrid today?", "get_weather", "Madrid"),
    ("Give me the weather for Berlin.", "get_weather", "Berlin"),
    ("Should I take an umbrella in Seattle today? Check the weather.", "get_weather", "Seattle"),
    ("What is 2 + 3?", None, ""),
    ("Name a primary colour.", None, ""),
    ("Say hello in French.", None, ""),
    ("Write a Python function that reverses a string.", None, ""),
    ("What does HTTP stand for?", None, ""),
    ("Explain in one sentence what a stock ticker is.", None, ""),
    ("What is the capital of Italy?", None, ""),
    ("Translate 'good morning' into Spanish.", None, ""),
    ("How many days are there in a leap year?", None, ""),
    ("What is the plural of 'mouse'?", None, ""),
    ("Sort these numbers: 5, 2, 9, 1.", None, ""),
    ("Who wrote 'Romeo and Juliet'?", None, ""),
]
OFFERED = {"get_price", "get_weather"}
SIMPLE_SIX = [*PROMPTS[:3], *PROMPTS[12:15]]  # NVDA, TSLA, AAPL prices; 2 + 3, a primary colour, hello in French
SYSTEMS: dict[str, str | None] = {"no system message": None, "agent system message": "You are a helpful assistant."}
_CALL_SHAPED = re.compile(r'^\s*(?:```[a-z]*\s*)?\{\s*"name"\s*:\s*"[^"]*"\s*,\s*"(?:arguments|parameters)"\s*:')


def _invented(text: str) -> bool:
    """The text is a call-shaped JSON object (bare or fenced, complete or cut short), whatever tool it names."""
    return bool(_CALL_SHAPED.match(text))


def classify(calls: list[tuple[str, str]], expected: str | None, word: str, text: str) -> str:
    if expected is None:
        if calls:
            return "needless-call"
        return "invented-call" if _invented(text) else "answer"
    if not calls:
        return "text"
    name, arguments = calls[0]
    return "call" if name == expected and word.lower() in arguments.lower() else "wrong-call"


def run_model(
    url: str, model: str, system: str | None, simple: Counter[str]
) -> tuple[Counter[str], Counter[str], float]:
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="ollama", timeout=600)
    raw: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    seconds = []
    for prompt, expected, word in PROMPTS:
        started = time.perf_counter()
        messages = [{"role": "system", "content": system}] if system else []
        message = client.chat.completions.create(
            model=model, messages=[*messages, {"role": "user", "content": prompt}],  # type: ignore[list-item]
            tools=TOOLS, temperature=0, max_tokens=160,  # type: ignore[arg-type]
        ).choices[0].message
        seconds.append(time.perf_counter() - started)
        structured = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]  # type: ignore[union-attr]
        raw_outcome = classify(structured, expected, word, message.content or "")
        text_calls = parse_text_calls(message.content or "", OFFERED) if not structured else None
        fixed = structured or [(c["function"]["name"], c["function"]["arguments"]) for c in text_calls or []]
        fixed_outcome = classify(fixed, expected, word, "" if fixed else message.content or "")
        raw[raw_outcome] += 1
        repaired[fixed_outcome] += 1
        if system is None and (prompt, expected, word) in SIMPLE_SIX:
            simple[fixed_outcome] += 1
        print(f"  {model:<20} {raw_outcome:>13} -> {fixed_outcome:<13} {seconds[-1]:5.1f}s  {prompt[:50]}",
              flush=True)
    return raw, repaired, sorted(seconds)[len(seconds) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from integrations.embedded import EmbeddedServer, default_models_dir

    entries: list[dict[str, Any]] = []
    with EmbeddedServer(models_dir=default_models_dir(), preload=args.models) as server:
        for model in args.models:
            simple: Counter[str] = Counter()
            for variant, system in SYSTEMS.items():
                raw, repaired, median = run_model(server.url, model, system, simple)
                n = len(PROMPTS)
                for label, counts in (("raw OpenAI SDK", raw), ("factory clients", repaired)):
                    accuracy = (counts["call"] + counts["answer"]) / n
                    kinds = ("call", "wrong-call", "text", "answer", "needless-call", "invented-call")
                    tally = ", ".join(f"{k} {counts[k]}" for k in kinds)
                    print(f"{model} {variant}, {label}: accuracy {accuracy:.0%} of {n}; {tally}")
                base = (raw["call"] + raw["answer"]) / n
                ours = (repaired["call"] + repaired["answer"]) / n
                target = 0.9 if model.endswith("1.5b") else None
                suffix = "" if system is None else f", {variant}"
                entries.append({
                    "name": f"tool decisions {model}: accuracy, factory clients (baseline raw SDK){suffix}",
                    "value": round(ours, 3), "unit": "share", "baseline": round(base, 3),
                    "target": ">= 0.9" if target else "reported", "met": ours >= target if target else True,
                    "outcomes": dict(repaired), "baseline_outcomes": dict(raw), "prompts": n,
                    "median_seconds": round(median, 2), "system": system,
                })
            right = simple["call"] + simple["answer"]
            print(f"{model} six simple prompts, factory clients: {right} of 6 ({dict(simple)})")
            entries.append({
                "name": f"tool decisions {model}: six simple prompts right, factory clients",
                "value": right, "unit": "of 6", "baseline": None,
                "target": ">= 5" if model.endswith("0.5b") else "reported",
                "met": right >= 5 if model.endswith("0.5b") else True, "outcomes": dict(simple),
            })
    if not args.no_write:
        path = HERE / "results.json"
        existing = json.loads(path.read_text()) if path.exists() else []
        names = {e["name"] for e in entries}
        merged = [e for e in existing if e["name"] not in names] + entries
        path.write_text(json.dumps(merged, indent=2) + "\n")
        print(f"wrote {len(entries)} entries to {path}")


if __name__ == "__main__":
    main()
