"""An AutoGen AgentChat agent answers stock questions by calling Python functions (price lookup, plotting).

Shows tool calling the safe way: ``integrations.model_client(requires=("tools",))``
checks the model first, so a model without tool support (``codellama``, ``llama2``,
``gemma2`` ...) stops at once with a clear ``CapabilityMissing`` instead of an agent that
silently never calls its tools. The agent gets two functions, ``lookup_price`` and
``plot_prices``, typed so the schema leaves no room for invalid calls (tickers are an
enum), and works through a list of questions, each answered after its tool results.
Prices come from yfinance when possible, else the bundled SYNTHETIC sample.

Needs: ``pip install 'ollama-integrations[agentchat,examples]'`` and a model with tools
(``llama3.2``, ``qwen2.5``, ``mistral`` ...; ``smollm2:135m`` on the embedded server).

Run:
    python examples/tool_calling.py [--model qwen2.5] [--task "What did TSLA close at?"]
    ollama-integrations run tool-calling --embedded
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import _common
import _market

from integrations import OllamaError, OllamaSettings, model_client

EXAMPLE = "tool_calling"
TASKS = (
    "What was the latest closing price of NVDA?",
    "Plot the price change of NVDA and TSLA and save the chart as a PNG file.",
)
SYSTEM = (
    "You answer questions about the stocks NVDA and TSLA. Always use your functions to get prices "
    "or draw charts; never invent numbers. Answer in one or two sentences."
)
Ticker = Literal["NVDA", "TSLA"]


@dataclass
class Result:
    """What the agent did, for printing and for tests."""

    work_dir: Path
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (source, message type, text)
    tool_calls: list[str] = field(default_factory=list)  # names of executed functions, in order
    tool_errors: int = 0
    answers: list[str] = field(default_factory=list)  # the final text of each task
    files: list[Path] = field(default_factory=list)
    data_source: str = "sample"

    @property
    def ok(self) -> bool:
        """Every task got a text answer and at least one function ran without error."""
        return bool(self.tool_calls) and self.tool_errors == 0 and all(a.strip() for a in self.answers)


def stock_tools(work_dir: Path, result: Result, *, live: bool) -> list[Callable[..., Any]]:
    """The functions the agent may call, writing only inside ``work_dir``."""

    def lookup_price(
        ticker: Annotated[Ticker, "stock ticker"],
        date: Annotated[str, "YYYY-MM-DD; empty for the latest close"] = "",
    ) -> str:
        """Closing price of a stock on a date (the latest trading day when no date is given)."""
        result.tool_calls.append("lookup_price")
        prices = _market.load_prices([ticker], live=live)
        result.data_source = prices.source
        closes = prices.closes[ticker]
        try:
            day = dt.date.fromisoformat(date) if date else prices.dates[-1]
        except ValueError:
            return f"date must look like 2025-03-14, not {date!r}"
        known = [i for i, d in enumerate(prices.dates) if d <= day]
        if not known:
            return f"no {ticker} price on or before {day}; data starts {prices.dates[0]}"
        i = known[-1]
        label = " (SYNTHETIC sample data)" if prices.is_sample else ""
        return f"{ticker} closed at {closes[i]:.2f} USD on {prices.dates[i]}{label}."

    def plot_prices(
        tickers: Annotated[list[Ticker], "stock tickers to plot"],
        filename: Annotated[str, "PNG file name, e.g. 'prices.png'"] = "prices.png",
    ) -> str:
        """Plot the percent price change since January 1st and save it as a PNG file."""
        result.tool_calls.append("plot_prices")
        name = Path(str(filename)).stem or "prices"  # a bare name: the chart stays inside work_dir
        prices = _market.load_prices(tickers, live=live)
        result.data_source = prices.source
        path = _market.plot_change(prices, work_dir / f"{name}.png")
        changes = ", ".join(f"{t} {v:+.1f}%" for t, v in prices.change_pct().items())
        return f"Saved {path.name}: {changes} since {prices.dates[0]}."

    return [lookup_price, plot_prices]


async def run(
    settings: OllamaSettings,
    *,
    work_dir: Path,
    tasks: tuple[str, ...] | list[str] = TASKS,
    max_turns: int = 3,
    live_data: bool = True,
) -> Result:
    """Ask each task in turn; ``max_turns`` bounds the tool-call rounds per task.

    Raises `integrations.CapabilityMissing` before any request when the model lacks tools.
    """
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent

    client = model_client(settings=settings, requires=("tools",))
    work_dir.mkdir(parents=True, exist_ok=True)
    result = Result(work_dir=work_dir)
    before = _common.snapshot(work_dir)
    tools: list[Any] = stock_tools(work_dir, result, live=live_data)  # AgentChat wants its own list type
    agent = AssistantAgent(
        "analyst",
        model_client=client,
        tools=tools,
        system_message=SYSTEM,
        reflect_on_tool_use=True,  # answer in words after the tool results, not with the raw result
        max_tool_iterations=max_turns,
    )
    try:
        for task in tasks:
            outcome = await agent.run(task=task)
            for message in outcome.messages:
                if isinstance(message, ToolCallExecutionEvent):
                    result.tool_errors += sum(1 for call in message.content if call.is_error)
                result.messages.append((message.source, type(message).__name__, message.to_text()))
            last = outcome.messages[-1]
            result.answers.append(last.to_text() if isinstance(last, TextMessage) else "")
    finally:
        await client.close()
    result.files = _common.new_files(work_dir, before)
    return result


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, max_turns=3)
    p.add_argument("--task", action="append", help="a question (repeatable; default: a price lookup and a chart)")
    p.add_argument("--offline", action="store_true", help="use the bundled sample data without trying yfinance")
    args = p.parse_args(argv)
    try:
        settings = _common.settings_from(args)
        work_dir = _common.work_dir(args.work_dir, EXAMPLE)
        print(f"[tool_calling] model {settings.model} at {settings.base_url}; outputs go to {work_dir}")
        result = asyncio.run(
            run(
                settings,
                work_dir=work_dir,
                tasks=args.task or TASKS,
                max_turns=args.max_turns,
                live_data=not args.offline,
            )
        )
    except OllamaError as exc:  # CapabilityMissing among them: a model without tools
        print(f"[tool_calling] error: {exc}", file=sys.stderr)
        return 2
    for source, kind, text in result.messages:
        print(f"--- {source} ({kind})\n{text}")
    print(f"\n[tool_calling] functions called: {', '.join(result.tool_calls) or 'none'}; data: {result.data_source}")
    for path in result.files:
        print(f"[tool_calling] wrote {path}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
