"""Tool decisions of the catalogue's coder models on the embedded server: does the model call when it should?

    python benchmarks/tool_decisions.py [--models qwen2.5-coder:0.5b qwen2.5-coder:1.5b]
        [--apis chat native responses messages] [--systems none agent] [--no-write]

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

Every prompt is asked through each of the four APIs the factories' clients use (``--apis``):
``/v1/chat/completions`` (OpenAI SDK, ``chat_openai()``, AgentChat, AG2), native ``/api/chat``
(``chat_ollama()``, ``llamaindex.llm()``, ``agent_framework.chat_client()``), ``/v1/responses``
(``openai_client().responses``) and ``/v1/messages`` (``anthropic_client()``); the baseline is
the raw JSON each raw client receives, the factory column the same answer after the repair
function the factories' transport applies to that wire format.

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

from integrations._toolcalls import offered_tools  # noqa: E402
from integrations._toolwire import repair_completion, repair_message, repair_native, repair_response  # noqa: E402

REPAIRS: dict[str, Any] = {
    "chat": repair_completion, "native": repair_native, "responses": repair_response, "messages": repair_message,
}
APIS = {"chat": "/v1 chat completions", "native": "native /api/chat", "responses": "/v1/responses",
        "messages": "/v1/messages"}
BASELINES = {"chat": "raw OpenAI SDK", "native": "raw ollama client", "responses": "raw OpenAI SDK Responses",
             "messages": "raw Anthropic SDK"}

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


def _ask(http: Any, url: str, api: str, model: str, system: str | None, prompt: str) -> tuple[dict[str, Any], Any]:
    """One answer from ``api`` as the raw JSON a client receives, and the tools its request offered."""
    user = [{"role": "user", "content": prompt}]
    chat = [*([{"role": "system", "content": system}] if system else []), *user]
    if api == "chat":
        body: dict[str, Any] = {"model": model, "messages": chat, "tools": TOOLS, "temperature": 0, "max_tokens": 160}
        path = "/v1/chat/completions"
    elif api == "native":
        options = {"temperature": 0, "num_predict": 160}
        body = {"model": model, "messages": chat, "tools": TOOLS, "stream": False, "options": options}
        path = "/api/chat"
    elif api == "responses":
        body = {"model": model, "input": user, "tools": [{"type": "function", **t["function"]} for t in TOOLS],
                "temperature": 0, "max_output_tokens": 160, **({"instructions": system} if system else {})}
        path = "/v1/responses"
    else:
        body = {"model": model, "messages": user, "max_tokens": 160, "temperature": 0,
                "tools": [{"name": t["function"]["name"], "description": t["function"]["description"],
                           "input_schema": t["function"]["parameters"]} for t in TOOLS],
                **({"system": system} if system else {})}
        path = "/v1/messages"
    response = http.post(url + path, json=body)
    response.raise_for_status()
    return response.json(), offered_tools(body)


def _calls_and_text(api: str, answer: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    """The structured calls (name, JSON arguments) and the text of one answer, in any of the four formats."""
    if api == "chat":
        message = answer["choices"][0]["message"]
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or ()]
        return calls, message.get("content") or ""
    if api == "native":
        message = answer["message"]
        native = message.get("tool_calls") or ()
        calls = [(c["function"]["name"], json.dumps(c["function"]["arguments"])) for c in native]
        return calls, message.get("content") or ""
    if api == "responses":
        items = answer.get("output") or []
        calls = [(i["name"], i["arguments"]) for i in items if i.get("type") == "function_call"]
        text = "".join(p.get("text") or "" for i in items if i.get("type") == "message" for p in i.get("content") or ())
        return calls, text
    blocks = answer.get("content") or []
    calls = [(b["name"], json.dumps(b["input"])) for b in blocks if b.get("type") == "tool_use"]
    return calls, "".join(b.get("text") or "" for b in blocks if b.get("type") == "text")


def run_model(
    url: str, model: str, system: str | None, simple: Counter[str], api: str = "chat"
) -> tuple[Counter[str], Counter[str], float]:
    """Each prompt asked once through ``api``: classified as the raw client receives it and after the
    factories' repair of that same answer (the function their transport applies to that wire format)."""
    import copy

    import httpx

    raw: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    seconds = []
    with httpx.Client(timeout=600) as http:
        for prompt, expected, word in PROMPTS:
            started = time.perf_counter()
            answer, tools = _ask(http, url, api, model, system, prompt)
            seconds.append(time.perf_counter() - started)
            structured, text = _calls_and_text(api, answer)
            raw_outcome = classify(structured, expected, word, text)
            fixed_answer = copy.deepcopy(answer)
            REPAIRS[api](fixed_answer, tools)
            fixed, fixed_text = _calls_and_text(api, fixed_answer)
            fixed_outcome = classify(fixed, expected, word, fixed_text if not fixed else "")
            raw[raw_outcome] += 1
            repaired[fixed_outcome] += 1
            if system is None and (prompt, expected, word) in SIMPLE_SIX:
                simple[fixed_outcome] += 1
            print(f"  {model:<20} {api:<9} {raw_outcome:>13} -> {fixed_outcome:<13} {seconds[-1]:5.1f}s  "
                  f"{prompt[:50]}", flush=True)
    return raw, repaired, sorted(seconds)[len(seconds) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
    parser.add_argument("--apis", nargs="+", choices=list(APIS), default=list(APIS))
    parser.add_argument("--systems", nargs="+", choices=["none", "agent"], default=["none", "agent"],
                        help="with no system message, with the agent-style one, or both")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    systems = {k: v for k, v in SYSTEMS.items() if ("none" if v is None else "agent") in args.systems}

    from integrations.embedded import EmbeddedServer, default_models_dir

    entries: list[dict[str, Any]] = []
    with EmbeddedServer(models_dir=default_models_dir(), preload=args.models) as server:
        for model in args.models:
            for api in args.apis:
                simple: Counter[str] = Counter()
                for variant, system in systems.items():
                    raw, repaired, median = run_model(server.url, model, system, simple, api)
                    n = len(PROMPTS)
                    for label, counts in ((BASELINES[api], raw), ("factory clients", repaired)):
                        accuracy = (counts["call"] + counts["answer"]) / n
                        kinds = ("call", "wrong-call", "text", "answer", "needless-call", "invented-call")
                        tally = ", ".join(f"{k} {counts[k]}" for k in kinds)
                        print(f"{model} {APIS[api]} {variant}, {label}: accuracy {accuracy:.0%} of {n}; {tally}")
                    base = (raw["call"] + raw["answer"]) / n
                    ours = (repaired["call"] + repaired["answer"]) / n
                    target = 0.9 if model.endswith("1.5b") and api == "chat" else None
                    suffix = "" if system is None else f", {variant}"
                    # the /v1 chat entries keep their names, so earlier runs stay comparable
                    where = "" if api == "chat" else f" {APIS[api]},"
                    entries.append({
                        "name": f"tool decisions {model}:{where} accuracy, factory clients (baseline raw SDK){suffix}",
                        "value": round(ours, 3), "unit": "share", "baseline": round(base, 3),
                        "baseline_client": BASELINES[api], "api": APIS[api],
                        "target": ">= 0.9" if target else "reported", "met": ours >= target if target else True,
                        "outcomes": dict(repaired), "baseline_outcomes": dict(raw), "prompts": n,
                        "median_seconds": round(median, 2), "system": system,
                    })
                if None not in systems.values():
                    continue
                right = simple["call"] + simple["answer"]
                where = "" if api == "chat" else f" {APIS[api]},"
                print(f"{model} {APIS[api]} six simple prompts, factory clients: {right} of 6 ({dict(simple)})")
                gate = model.endswith("0.5b") and api == "chat"
                entries.append({
                    "name": f"tool decisions {model}:{where} six simple prompts right, factory clients",
                    "value": right, "unit": "of 6", "baseline": None, "api": APIS[api],
                    "target": ">= 5" if gate else "reported", "met": right >= 5 if gate else True,
                    "outcomes": dict(simple),
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
