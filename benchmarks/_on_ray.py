"""Runs the cells of `benchmarks/agents.py` as Ray tasks: one task per (example, mode, model, seed).

``ray.init()`` starts a local Ray (``address="local"``) or joins a cluster (``address="ray://..."`` or
``"auto"``). Each worker process starts its own embedded server the first time it needs one (or uses
``--host``), and keeps it for the tasks it runs after. The driver rebuilds the cells in the order a
local run measures them, so the table and the ``results.json`` entries are the same.
Needs the ``ray`` extra: ``pip install 'ollama-integrations[ray]'``.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

Job = tuple[str, str, str, int]
"""example, mode, model, seed."""

_server: Any = None  # the worker's embedded server, started on its first task


def plan(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """The cells (example, mode, model) in the order a local run measures them."""
    import agents

    cells = []
    for model in args.models:
        chosen = [(e, m) for e in args.examples if e != agents.BASELINE for m in agents.MODES_OF[e] if m in args.modes]
        if agents.BASELINE in args.examples and "code" in args.modes:
            chosen.append((agents.BASELINE, "code"))
        cells += [(example, mode, model) for example, mode in chosen]
    return cells


def _worker_url(host: str | None, model: str) -> str:
    """The server this worker uses: ``host``, else its own embedded server (started once per worker)."""
    global _server
    from integrations import OllamaSettings, ensure_model

    if host:
        url = host.rstrip("/")
    else:
        if _server is None:
            from integrations.embedded import EmbeddedServer

            _server = EmbeddedServer().start()
            atexit.register(_server.stop)
        url = _server.url
    ensure_model(model, pull=True, settings=OllamaSettings(host=url, model=model))
    return url


def run_job(job: Job, options: dict[str, Any]) -> dict[str, Any]:
    """One seed of one cell, in a Ray worker: the `agents.Run` as a dict (a crash is a failed run)."""
    import sys
    import tempfile
    import traceback

    import agents

    from integrations import OllamaSettings

    example, mode, model, seed = job
    try:
        url = _worker_url(options["host"], model)
        with tempfile.TemporaryDirectory(prefix=f"bench-{example}-") as tmp:
            work_dir = Path(tmp)
            if example == agents.BASELINE:
                outcome = agents.run_announcement(model, f"{url}/v1", work_dir, options["max_turns"])
            else:
                settings = OllamaSettings(host=url, model=model, temperature=options["temperature"], seed=seed)
                outcome = agents.run_ours(example, mode, settings, work_dir, options["max_turns"], options["timeout"])
    except Exception as exc:  # as in a local run: reported with its reason, counted as a failure
        traceback.print_exc(file=sys.stderr)
        outcome = agents.Run(False, False, 0.0, 0, f"error: {type(exc).__name__}")
    return dataclasses.asdict(outcome)


def measure_on_ray(
    args: argparse.Namespace,
    address: str,
    on_run: Callable[[Any, int, Any], None],
    on_cell: Callable[[list[Any]], None] = lambda cells: None,
) -> list[Any]:
    """Every planned cell, each seed a Ray task; ``on_run`` sees each run as it ends, ``on_cell`` each finished cell."""
    import agents

    from integrations._deps import require

    ray = require("ray", "ray")
    paths = [str(ROOT), str(ROOT / "examples"), str(HERE)]
    runtime_env: dict[str, Any] = {"env_vars": {"PYTHONPATH": ":".join(paths)}}
    if address not in ("local", ""):
        # A cluster's workers get this checkout; the relative paths resolve inside it.
        runtime_env = {
            "working_dir": str(ROOT),
            "excludes": [".git", ".venv", "node_modules", "coding", "*.gguf"],
            "env_vars": {"PYTHONPATH": ":".join([".", "examples", "benchmarks"])},
        }
    init: dict[str, Any] = {"runtime_env": runtime_env, "include_dashboard": False, "log_to_driver": True}
    if address in ("local", ""):
        if args.ray_workers:
            init["num_cpus"] = args.ray_workers
    else:
        init["address"] = address
    ray.init(**init)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_job)
        options = {
            "host": args.host,
            "max_turns": args.max_turns,
            "timeout": args.timeout,
            "temperature": args.temperature,
        }
        cells = [agents.Cell(example, mode, model) for example, mode, model in plan(args)]
        jobs: dict[Any, tuple[int, int]] = {}
        for index, cell in enumerate(cells):
            for seed in range(1, args.seeds + 1):
                jobs[remote.remote((cell.example, cell.mode, cell.model, seed), options)] = (index, seed)
        finished: dict[int, dict[int, Any]] = {index: {} for index in range(len(cells))}
        done_cells = 0
        pending = list(jobs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            index, seed = jobs[ready[0]]
            run = agents.Run(**ray.get(ready[0]))
            finished[index][seed] = run
            on_run(cells[index], seed, run)
            # Cells are handed on in plan order, each once all its seeds are in, as a local run does.
            while done_cells < len(cells) and len(finished[done_cells]) == args.seeds:
                cell = cells[done_cells]
                cell.runs = [finished[done_cells][s] for s in range(1, args.seeds + 1)]
                done_cells += 1
                on_cell(cells[:done_cells])
        return cells
    finally:
        ray.shutdown()
