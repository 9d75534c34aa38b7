"""The thread bridge: blocking llama.cpp work on worker threads, results back on the event loop.

llama.cpp calls block for seconds; they run on dedicated threads (not the small
default pool, which lock waits could starve) and hand results to the loop with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

__all__ = ["ThreadStream", "in_thread"]

T = TypeVar("T")


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # loop closed: the server is shutting down
        loop.call_soon_threadsafe(fn, *args)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on a fresh thread and await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def run() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:
            _call_soon(loop, settle, None, exc)
        else:
            _call_soon(loop, settle, value, None)

    threading.Thread(target=run, daemon=True).start()
    return await future


_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ThreadStream:
    """Runs ``work(emit, cancel)`` on a thread now; iterate `items` for what it emits.

    Closing the iteration early (the client went away) sets ``cancel``, which the
    work polls between tokens.
    """

    def __init__(self, work: Callable[[Callable[[Any], None], threading.Event], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancel = threading.Event()

        def run() -> None:
            try:
                work(self.emit, self.cancel)
            except BaseException as exc:
                self.emit(_Failure(exc))
            finally:
                self.emit(_END)

        threading.Thread(target=run, daemon=True).start()

    def emit(self, item: Any) -> None:
        _call_soon(self.loop, self.queue.put_nowait, item)

    async def items(self) -> AsyncIterator[Any]:
        try:
            while True:
                item = await self.queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            self.cancel.set()
