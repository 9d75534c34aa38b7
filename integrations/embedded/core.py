"""The one generation path: every route (native, ``/v1``, Responses, Messages) runs through `Core`.

A route parses its request into a `Job` (which model, which options, and how to
build the prompt), `Core.start` leases the model and plans on a worker thread
(rendering and tokenising are CPU work that must not block the event loop), and
the generation yields events: `Text` pieces, `Calls` (tool calls, parsed the way
Ollama parses them), then one `Done`. Routes only encode events for their wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from integrations.embedded.bridge import ThreadStream, in_thread
from integrations.embedded.prompting import ToolSpec, new_call_id, parse_tool_call
from integrations.embedded.protocol import ApiError, Options
from integrations.embedded.runtime import GenerationResult, LoadedModel, Runtime
from integrations.embedded.store import ModelRecord, Store
from integrations.embedded.toolcalls import TagParser, ToolCall

__all__ = ["GRAMMAR_MIN_TOKENS", "Calls", "Core", "Done", "Event", "Generation", "Job", "Plan", "Text", "collect"]

GRAMMAR_MIN_TOKENS = 512
"""Grammar-constrained output (forced tool calls, JSON schemas) gets at least this budget so it always closes."""


@dataclass
class Plan:
    """What to generate. ``forced``: the output is a grammar-constrained ``{"name","arguments"}`` call;
    ``tool_tag``: calls are read out of free text at that tag, as Ollama reads them."""

    tokens: list[int]
    grammar: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    forced: bool = False
    tool_tag: str | None = None
    constrained: bool = False


@dataclass
class Job:
    record: ModelRecord
    opts: Options
    keep_alive: float
    plan: Callable[[LoadedModel], Plan]
    """Builds the plan on the worker thread, with the loaded model (its template and tokenizer)."""
    logprobs: int | None = None
    """None: no log-probabilities; else how many alternatives to report per token."""


@dataclass(frozen=True)
class Text:
    text: str
    logprobs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Calls:
    calls: list[ToolCall]


@dataclass(frozen=True)
class Done:
    result: GenerationResult
    load_seconds: float
    started: float  # perf_counter() when the request arrived

    def metrics(self) -> dict[str, int]:
        """Ollama's timing and count fields; zero values are left out, as Ollama does.

        ``prompt_eval_count`` counts the prompt tokens evaluated for this request, as
        Ollama's does: tokens reused from the prompt cache are not evaluated again.
        """
        r = self.result
        out = {
            "total_duration": int((time.perf_counter() - self.started) * 1e9),
            "load_duration": int(self.load_seconds * 1e9),
            "prompt_eval_count": r.prompt_eval_count - r.prompt_cached,
            "prompt_eval_duration": r.prompt_eval_duration,
            "eval_count": r.eval_count,
            "eval_duration": r.eval_duration,
        }
        return {k: v for k, v in out.items() if v}

    def usage(self) -> dict[str, int]:
        """OpenAI usage: the whole prompt, cached or not (so clients can see how full the context is)."""
        r = self.result
        return {"prompt_tokens": r.prompt_eval_count, "completion_tokens": r.eval_count,
                "total_tokens": r.prompt_eval_count + r.eval_count}


Event = Text | Calls | Done


class Generation:
    """A started generation: the plan succeeded (so the response can begin); iterate `events`."""

    def __init__(self, stream: ThreadStream, items: AsyncIterator[Any], plan: Plan) -> None:
        self._stream = stream
        self._items = items
        self.plan = plan

    async def events(self) -> AsyncIterator[Event]:
        async for item in self._items:
            yield item

    def cancel(self) -> None:
        self._stream.cancel.set()


class Core:
    """Leases models from the runtime and runs jobs on worker threads."""

    def __init__(self, store: Store, runtime: Runtime) -> None:
        self.store = store
        self.runtime = runtime

    async def acquire(self, record: ModelRecord, opts: Options) -> tuple[LoadedModel, float]:
        """The loaded model, marked active (the caller must `Runtime.release` it), and its load seconds."""
        trained = record.info.context_length
        if opts.num_ctx is not None and opts.num_ctx > trained:
            raise ApiError(
                400, f"num_ctx {opts.num_ctx} exceeds the trained context length {trained} of {record.short}"
            )
        ready = self.runtime.try_acquire(record, opts)
        if ready is not None:
            return ready, 0.0
        return await in_thread(self.runtime.acquire, record, opts)

    @contextlib.asynccontextmanager
    async def lease(self, record: ModelRecord, opts: Options, keep_alive: float) -> AsyncIterator[LoadedModel]:
        """The model for non-generating work (embeddings), released on exit."""
        lm, _ = await self.acquire(record, opts)
        try:
            yield lm
        finally:
            self.runtime.release(lm, keep_alive)

    async def load_or_unload(self, record: ModelRecord, opts: Options, keep_alive: float) -> str:
        """An empty request: load the model (``"load"``), or unload it when ``keep_alive`` is 0."""
        if keep_alive == 0:
            await in_thread(self.runtime.unload, record)
            return "unload"
        async with self.lease(record, opts, keep_alive):
            pass
        return "load"

    async def start(self, job: Job) -> Generation:
        """Lease the model, plan, and start generating; planning errors (a 400) raise here."""
        started = time.perf_counter()
        lm, load_seconds = await self.acquire(job.record, job.opts)
        runtime = self.runtime

        def work(emit: Callable[[Any], None], cancel: threading.Event) -> None:
            try:
                plan = job.plan(lm)
                emit(plan)
                opts = job.opts
                if plan.constrained and 0 <= opts.num_predict < GRAMMAR_MIN_TOKENS:
                    opts.num_predict = GRAMMAR_MIN_TOKENS
                parser = TagParser(plan.tool_tag, plan.tools) if plan.tool_tag and plan.tools else None

                def piece(text: str, logprobs: list[dict[str, Any]]) -> None:
                    if parser is None:
                        emit(Text(text, logprobs))
                        return
                    content, calls = parser.feed(text)
                    if content:
                        emit(Text(content, logprobs))
                    if calls:
                        emit(Calls(calls))

                result = lm.generate(plan.tokens, opts, plan.grammar, None if plan.forced else piece, cancel,
                                     job.logprobs)
            finally:
                runtime.release(lm, job.keep_alive)
            if plan.forced:
                if not cancel.is_set():
                    name, args = parse_tool_call(result.text, plan.tools)
                    emit(Calls([ToolCall(new_call_id(), name, args)]))
            elif parser is not None:
                content, calls = parser.finish()
                if content:
                    emit(Text(content))
                if calls:
                    emit(Calls(calls))
            emit(Done(result, load_seconds, started))

        stream = ThreadStream(work)
        items = stream.items()
        try:
            first = await items.__anext__()
        except StopAsyncIteration:  # pragma: no cover - work always emits or raises
            raise ApiError(500, "generation ended before it started") from None
        if not isinstance(first, Plan):  # pragma: no cover - the plan is always emitted first
            raise ApiError(500, "generation did not plan")
        return Generation(stream, items, first)


@dataclass
class Collected:
    text: str
    calls: list[ToolCall]
    done: Done

    @property
    def logprobs(self) -> list[dict[str, Any]]:
        return self.done.result.logprobs


async def collect(generation: Generation, request: Request | None = None) -> Collected:
    """Run a generation to its end for a non-streamed answer; stop it if the client goes away."""
    pieces: list[str] = []
    calls: list[ToolCall] = []
    done: Done | None = None

    async def drain() -> None:
        nonlocal done
        async for event in generation.events():
            if isinstance(event, Text):
                pieces.append(event.text)
            elif isinstance(event, Calls):
                calls.extend(event.calls)
            else:
                done = event

    task = asyncio.ensure_future(drain())
    try:
        while not task.done():
            await asyncio.wait([task], timeout=0.25)
            if not task.done() and request is not None and await request.is_disconnected():
                generation.cancel()
                task.cancel()
                raise ApiError(499, "client disconnected")
    finally:
        if not task.done():
            task.cancel()
    await task
    assert done is not None  # the core always ends with Done
    text = "".join(pieces)
    return Collected("" if calls and not text.strip() else text, calls, done)
