"""One tool-using question through every installed framework: a table of what each answered and how long it took.

Asks "What is 17 times 23?" with a ``multiply`` tool through the OpenAI SDK (Chat
Completions and Responses), the Anthropic SDK, LangChain (``ChatOllama``), Pydantic
AI, CrewAI, LlamaIndex, smolagents, Microsoft Agent Framework and DSPy, each built
by its ``integrations`` factory from the same settings. Frameworks that are not
installed are listed as skipped; a framework that fails shows its error, and the
others still run.

Needs: ``pip install 'ollama-integrations[all]'`` (or any of the framework extras) and a
model that calls tools (default ``qwen2.5-coder:0.5b``; the embedded ``smollm2:135m``
calls the tool by rule, which shows the plumbing, not judgement).

Run:
    python examples/every_framework.py [--model qwen2.5-coder:1.5b] [--only langchain,dspy]
    ollama-integrations run every-framework --embedded
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _common

from integrations import OllamaError, OllamaSettings

EXAMPLE = "every_framework"
EMBEDDED_MODEL = "qwen2.5-coder:0.5b"
QUESTION = "What is 17 times 23? Use the multiply tool, then give the number."
EXPECTED = "391"
MAX_STEPS = 3


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return int(a) * int(b)


SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer", "description": "first factor"},
                   "b": {"type": "integer", "description": "second factor"}},
    "required": ["a", "b"],
}


@dataclass
class Row:
    framework: str
    answer: str
    seconds: float
    status: str  # "ok", "skipped" or "error"

    @property
    def correct(self) -> bool:
        return EXPECTED in self.answer.replace(",", "")


def _call_tool(arguments: Any) -> str:
    args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
    return str(multiply(args.get("a", 0), args.get("b", 0)))


def openai_chat(settings: OllamaSettings) -> str:
    from integrations.openai import openai_client

    client = openai_client(settings=settings)
    tools = [{"type": "function", "function": {"name": "multiply", "description": multiply.__doc__,
                                               "parameters": SCHEMA}}]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    for _ in range(MAX_STEPS):
        reply = client.chat.completions.create(model=settings.model, messages=messages, tools=tools)  # type: ignore[arg-type]
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": _call_tool(call.function.arguments)})  # type: ignore[union-attr]
    return "(no answer after the tool calls)"


def openai_responses(settings: OllamaSettings) -> str:
    from integrations.openai import openai_client

    client = openai_client(settings=settings)
    tools = [{"type": "function", "name": "multiply", "description": multiply.__doc__, "parameters": SCHEMA}]
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    for _ in range(MAX_STEPS):
        response = client.responses.create(model=settings.model, input=items, tools=tools)  # type: ignore[arg-type]
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            return response.output_text
        for call in calls:
            items.append({"type": "function_call", "call_id": call.call_id, "name": call.name,
                          "arguments": call.arguments})
            items.append({"type": "function_call_output", "call_id": call.call_id,
                          "output": _call_tool(call.arguments)})
    return "(no answer after the tool calls)"


def anthropic_messages(settings: OllamaSettings) -> str:
    from integrations.anthropic import anthropic_client

    client = anthropic_client(settings=settings)
    tools = [{"name": "multiply", "description": multiply.__doc__, "input_schema": SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    for _ in range(MAX_STEPS):
        reply = client.messages.create(model=settings.model, max_tokens=settings.max_tokens or 256,
                                       messages=messages, tools=tools)  # type: ignore[arg-type]
        uses = [block for block in reply.content if block.type == "tool_use"]
        if not uses:
            return "".join(block.text for block in reply.content if block.type == "text")
        messages.append({"role": "assistant", "content": [block.model_dump() for block in reply.content]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use.id, "content": _call_tool(use.input)} for use in uses]})
    return "(no answer after the tool calls)"


def langchain_ollama(settings: OllamaSettings) -> str:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from integrations.langchain import chat_ollama

    multiply_tool = tool(multiply)
    llm = chat_ollama(settings=settings).bind_tools([multiply_tool])
    messages: list[Any] = [HumanMessage(QUESTION)]
    for _ in range(MAX_STEPS):
        reply = llm.invoke(messages)
        if not reply.tool_calls:
            return str(reply.content)
        messages.append(reply)
        for call in reply.tool_calls:
            messages.append(ToolMessage(_call_tool(call["args"]), tool_call_id=call["id"]))
    return "(no answer after the tool calls)"


def pydantic_ai(settings: OllamaSettings) -> str:
    from pydantic_ai import Agent

    from integrations.pydantic_ai import model

    agent = Agent(model(settings=settings), tools=[multiply])
    return str(agent.run_sync(QUESTION).output)


def crewai(settings: OllamaSettings) -> str:
    from integrations.crewai import llm

    tools = [{"type": "function", "function": {"name": "multiply", "description": multiply.__doc__,
                                               "parameters": SCHEMA}}]
    # With available_functions, CrewAI runs the tool the model picked and returns its result.
    return str(llm(settings=settings).call([{"role": "user", "content": QUESTION}], tools=tools,
                                           available_functions={"multiply": multiply}))


def llamaindex(settings: OllamaSettings) -> str:
    from llama_index.core.tools import FunctionTool

    from integrations.llamaindex import llm

    return str(llm(settings=settings).predict_and_call([FunctionTool.from_defaults(multiply)], QUESTION))


def smolagents(settings: OllamaSettings) -> str:
    from smolagents import ToolCallingAgent, tool

    from integrations.smolagents import model

    agent = ToolCallingAgent(tools=[tool(multiply)], model=model(settings=settings), max_steps=MAX_STEPS,
                             verbosity_level=0)
    return str(agent.run(QUESTION))


def agent_framework(settings: OllamaSettings) -> str:
    from integrations.agent_framework import chat_client

    agent = chat_client(settings=settings).as_agent(tools=[multiply])
    return str(asyncio.run(agent.run(QUESTION)).text)


def dspy(settings: OllamaSettings) -> str:
    import dspy as dspy_

    from integrations.dspy import lm

    react = dspy_.ReAct("question -> answer", tools=[multiply], max_iters=MAX_STEPS)
    with dspy_.context(lm=lm(settings=settings, cache=False)):
        return str(react(question=QUESTION).answer)


FRAMEWORKS: dict[str, tuple[str, Callable[[OllamaSettings], str]]] = {
    "openai": ("openai", openai_chat),
    "openai-responses": ("openai", openai_responses),
    "anthropic": ("anthropic", anthropic_messages),
    "langchain": ("langchain_ollama", langchain_ollama),
    "pydantic-ai": ("pydantic_ai", pydantic_ai),
    "crewai": ("crewai", crewai),
    "llamaindex": ("llama_index.llms.ollama", llamaindex),
    "smolagents": ("smolagents", smolagents),
    "agent-framework": ("agent_framework_ollama", agent_framework),
    "dspy": ("dspy", dspy),
}


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def run(settings: OllamaSettings, only: list[str] | None = None) -> list[Row]:
    """Ask `QUESTION` through each chosen framework; a framework's failure is its row, not the end of the run."""
    rows = []
    for name, (module, ask) in FRAMEWORKS.items():
        if only and name not in only:
            continue
        if not _installed(module):
            rows.append(Row(name, f"not installed ({module})", 0.0, "skipped"))
            continue
        started = time.perf_counter()
        try:
            answer, status = ask(settings).strip(), "ok"
        except Exception as exc:  # one framework's failure is reported in its row
            answer, status = f"{type(exc).__name__}: {exc}".splitlines()[0][:160], "error"
        rows.append(Row(name, answer, time.perf_counter() - started, status))
    return rows


def table(rows: list[Row]) -> str:
    lines = [f"{'framework':<17} {'time':>7}  {'391?':<4} answer", "-" * 80]
    for row in rows:
        mark = "" if row.status != "ok" else ("yes" if row.correct else "no")
        answer = " ".join(row.answer.split())[:60]
        lines.append(f"{row.framework:<17} {row.seconds:6.1f}s  {mark:<4} {answer}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, default_model=EMBEDDED_MODEL, max_turns=MAX_STEPS)
    p.add_argument("--only", default="", help="comma-separated frameworks to run: " + ", ".join(FRAMEWORKS))
    args = p.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()] or None
    unknown = sorted(set(only or ()) - set(FRAMEWORKS))
    if unknown:
        print(f"[every_framework] error: unknown framework(s) {', '.join(unknown)}; choose from "
              f"{', '.join(FRAMEWORKS)}", file=sys.stderr)
        return 2
    try:
        settings = _common.settings_from(args, default_model=EMBEDDED_MODEL)
    except OllamaError as exc:
        print(f"[every_framework] error: {exc}", file=sys.stderr)
        return 2
    print(f"[every_framework] {QUESTION!r} with model {settings.model} at {settings.hosts[0].url}\n")
    rows = run(settings, only)
    print(table(rows))
    ran = [row for row in rows if row.status != "skipped"]
    return 0 if ran and all(row.status == "ok" for row in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
