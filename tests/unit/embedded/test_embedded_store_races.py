"""Creates racing deletes lose nothing: on one store, two stores on one directory, and two processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from integrations.embedded.protocol import ApiError
from integrations.embedded.store import Store

N = 40


def _prepare(store: Store) -> None:
    """A base and N models to delete; the models created later reuse their parameter and config blobs."""
    list(store.pull("tiny:1m"))
    for i in range(N):
        list(store.create(f"old-{i}", "tiny:1m", {"num_ctx": 256 + i}, None))


def _race(create_on: Store, delete: Callable[[int], object]) -> list[str]:
    """N creates and N deletes at once; the names whose create answered success."""
    start = threading.Barrier(2 * N)
    created: list[str] = []

    def create(i: int) -> None:
        start.wait()
        try:
            if list(create_on.create(f"new-{i}", "tiny:1m", {"num_ctx": 256 + i}, None))[-1]["status"] == "success":
                created.append(f"new-{i}")
        except ApiError:
            pass  # a create may fail; it may not claim success and then lose the model

    def remove(i: int) -> None:
        start.wait()
        delete(i)

    with ThreadPoolExecutor(2 * N) as pool:
        jobs = [pool.submit(create, i) for i in range(N)] + [pool.submit(remove, i) for i in range(N)]
        for job in jobs:
            job.result()
    return created


def _check(root: Path, store: Store, created: list[str]) -> None:
    fresh = Store(root, registry=store.registry)  # no cache: what another server would see
    lost = [name for name in created if fresh.resolve(name) is None]
    assert lost == [], f"{len(lost)} of {len(created)} created models lost"
    assert len(created) == N
    for i in range(N):
        record = fresh.require(f"new-{i}")
        assert record.parameters == {"num_ctx": 256 + i} and record.model_path.is_file()
    assert fresh.resolve("tiny:1m") is not None
    assert [r.short for r in fresh.list() if r.short.startswith("old-")] == []


def test_one_store(store: Store):
    _prepare(store)
    created = _race(store, lambda i: store.delete(f"old-{i}"))
    _check(store.root, store, created)


def test_two_stores_on_one_directory(store: Store):
    _prepare(store)
    other = Store(store.root, registry=store.registry)
    created = _race(store, lambda i: other.delete(f"old-{i}"))
    _check(store.root, store, created)


@pytest.mark.skipif(sys.platform == "win32", reason="the cross-process lock is fcntl.flock")
def test_two_processes(store: Store):
    _prepare(store)
    go = store.root.parent / "go"
    script = textwrap.dedent(f"""
        import os, time
        from concurrent.futures import ThreadPoolExecutor
        from integrations.embedded.store import Store
        store = Store({str(store.root)!r})
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        with ThreadPoolExecutor({N}) as pool:
            list(pool.map(lambda i: store.delete(f"old-{{i}}"), range({N})))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        created = _race(store, lambda i: go.touch())  # the deleting threads here only start the other process
        status = child.wait(timeout=60)
    finally:
        child.kill()
    _check(store.root, store, created)
    assert status == 0
