"""Success rate of the chart examples with real small models, beside the announcement's example as published.

    python benchmarks/agents.py                                   # everything: slow (hours on 2 cores)
    python benchmarks/agents.py --seeds 3 --examples nvda_tsla --models qwen2.5-coder:0.5b --modes code

For each example x model x mode, runs seeds 1..N on the embedded server (models pulled on
first use) and reports the share of runs that met the example's success criterion (a valid
PNG chart of the change since the first close), the median wall time and the median number
of model replies. The baseline, measured in the same run on the same model, is Ollama's
announcement example exactly as published: a hand-written ``config_list``, AG2's default
prompts, ``code_execution_config={"work_dir": "coding", "use_docker": False}``, and a user
who presses Enter at every prompt (``exit`` after the same number of turns). It has no data
file, so it counts any valid PNG it writes as a success.

Entries are merged into ``benchmarks/results.json`` by name (other entries are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))

from integrations import OllamaSettings, ensure_model  # noqa: E402

MODELS = ("smollm2:135m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b")
EXAMPLES = ("nvda_tsla", "nvda_tsla_agentchat", "group_chat")
MODES = ("code", "tools")
MODES_OF = {"nvda_tsla": ("code", "tools"), "nvda_tsla_agentchat": ("code",), "group_chat": ("code",)}
BASELINE = "announcement"
RESULTS = HERE / "results.json"
PREFIX = "agents: "
# The targets: success share per (example, mode, model); anything else is informative.
TARGETS: dict[tuple[str, str, str], float] = {
    ("nvda_tsla", "code", "qwen2.5-coder:1.5b"): 0.9,
    ("nvda_tsla_agentchat", "code", "qwen2.5-coder:1.5b"): 0.8,
    ("group_chat", "code", "qwen2.5-coder:1.5b"): 0.8,
    ("nvda_tsla", "code", "qwen2.5-coder:0.5b"): 0.6,
    ("nvda_tsla_agentchat", "code", "qwen2.5-coder:0.5b"): 0.6,
    ("group_chat", "code", "qwen2.5-coder:0.5b"): 0.6,
    ("nvda_tsla", "tools", "qwen2.5-coder:1.5b"): 0.9,
}


@dataclass
class Run:
    """One seed's outcome."""

    ok: bool
    chart: bool
    seconds: float
    turns: int
    ending: str  # how it ended: chart-written, max-turns, no-code, error: ...


@dataclass
class Cell:
    example: str
    mode: str
    model: str
    runs: list[Run] = field(default_factory=list)

    @property
    def share(self) -> float:
        return sum(r.ok for r in self.runs) / len(self.runs) if self.runs else 0.0

    @property
    def chart_share(self) -> float:
        return sum(r.chart for r in self.runs) / len(self.runs) if self.runs else 0.0

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs) if self.runs else 0.0

    def endings(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in Counter(r.ending for r in self.runs).most_common())


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def run_ours(example: str, mode: str, settings: OllamaSettings, work_dir: Path, max_turns: int, timeout: int) -> Run:
    import _chart_task

    started = time.monotonic()
    if example == "nvda_tsla":
        import nvda_tsla

        result: Any = nvda_tsla.run(
            settings,
            work_dir=work_dir,
            mode=mode,  # type: ignore[arg-type]  # "code" or "tools", checked by MODES_OF
            max_turns=max_turns,
            timeout=timeout,
            live_data=False,
        )
    elif example == "nvda_tsla_agentchat":
        import nvda_tsla_agentchat

        result = asyncio.run(
            nvda_tsla_agentchat.run(settings, work_dir=work_dir, max_turns=max_turns, timeout=timeout, live_data=False)
        )
    else:
        import group_chat

        result = group_chat.run(settings, work_dir=work_dir, max_turns=max_turns, timeout=timeout, live_data=False)
    seconds = time.monotonic() - started
    chart = _chart_task.judge(work_dir, "", _load_sample()).chart
    return Run(ok=result.ok, chart=chart, seconds=seconds, turns=result.turns, ending=result.termination)


def _load_sample() -> Any:
    import _market

    return _market.load_sample()


def run_announcement(model: str, base_url: str, work_dir: Path, max_turns: int) -> Run:
    """Ollama's published AG2 example, verbatim but for the model name and the server URL."""
    from autogen import AssistantAgent, UserProxyAgent

    started = time.monotonic()
    with inside(work_dir):
        config_list = [
            {
                "model": model,
                "base_url": base_url,
                "api_key": "ollama",
            }
        ]
        assistant = AssistantAgent("assistant", llm_config={"config_list": config_list})
        user_proxy = UserProxyAgent("user_proxy", code_execution_config={"work_dir": "coding", "use_docker": False})
        presses = iter([""] * (max_turns - 1))
        user_proxy.get_human_input = lambda prompt, **kwargs: next(presses, "exit")  # type: ignore[method-assign]
        user_proxy.initiate_chat(assistant, message="Plot a chart of NVDA and TESLA stock price change YTD.")
    seconds = time.monotonic() - started
    import _common

    pngs = [p for p in work_dir.rglob("*.png") if _common.is_png(p)]
    turns = sum(
        1 for m in user_proxy.chat_messages[assistant] if m.get("role") == "user"
    )  # the assistant's, seen by the proxy
    ending = "chart-written" if pngs else "no-chart"
    return Run(ok=bool(pngs), chart=bool(pngs), seconds=seconds, turns=turns, ending=ending)


def measure(
    args: argparse.Namespace,
    url: str,
    on_run: Callable[[Cell, int, Run], None],
    on_cell: Callable[[list[Cell]], None] = lambda cells: None,
) -> list[Cell]:
    """Every planned cell, seed by seed; ``on_cell`` sees the cells so far after each one completes."""
    cells: list[Cell] = []
    for model in args.models:
        settings = OllamaSettings(host=url, model=model, temperature=args.temperature)
        ensure_model(model, pull=True, settings=settings)
        plan = [(e, m) for e in args.examples if e != BASELINE for m in MODES_OF[e] if m in args.modes]
        if BASELINE in args.examples and "code" in args.modes:
            plan.append((BASELINE, "code"))
        for example, mode in plan:
            cell = Cell(example, mode, model)
            cells.append(cell)
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                with tempfile.TemporaryDirectory(prefix=f"bench-{example}-") as tmp:
                    work_dir = Path(tmp)
                    try:
                        if example == BASELINE:
                            outcome = run_announcement(model, f"{url}/v1", work_dir, args.max_turns)
                        else:
                            outcome = run_ours(
                                example, mode, settings.merged(seed=seed), work_dir, args.max_turns, args.timeout
                            )
                    except Exception as exc:  # a crash is a failed run, reported with its reason
                        traceback.print_exc(file=sys.stderr)
                        outcome = Run(False, False, 0.0, 0, f"error: {type(exc).__name__}")
                cell.runs.append(outcome)
                on_run(cell, seed, outcome)
            on_cell(cells)
    return cells


_RUN_LINE = re.compile(
    r"^(?P<example>\S+)\s+(?P<mode>code|tools)\s+(?P<model>\S+)\s+seed\s+(?P<seed>\d+): (?P<ok>ok|FAIL)\s+"
    r"chart=(?P<chart>True|False)\s+(?P<seconds>[\d.]+)s turns=(?P<turns>\d+) (?P<ending>.+)$"
)


def cells_from_logs(paths: list[Path]) -> list[Cell]:
    """The cells of earlier runs, rebuilt from the per-run lines they printed (a stopped run keeps its seeds).

    >>> line = "nvda_tsla            code  qwen2.5-coder:1.5b   seed  1: ok   chart=True   253.1s turns=4 chart-written"
    >>> [(c.example, c.model, c.runs[0].ok, c.runs[0].turns) for c in cells_from_lines([line])]
    [('nvda_tsla', 'qwen2.5-coder:1.5b', True, 4)]
    """
    lines: list[str] = []
    for path in paths:
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return cells_from_lines(lines)


def cells_from_lines(lines: list[str]) -> list[Cell]:
    cells: dict[tuple[str, str, str], Cell] = {}
    for line in lines:
        match = _RUN_LINE.match(line.strip())
        if match is None:
            continue
        key = (match["example"], match["mode"], match["model"])
        cell = cells.setdefault(key, Cell(*key))
        cell.runs.append(
            Run(
                ok=match["ok"] == "ok",
                chart=match["chart"] == "True",
                seconds=float(match["seconds"]),
                turns=int(match["turns"]),
                ending=match["ending"].strip(),
            )
        )
    return list(cells.values())


def entries(cells: list[Cell]) -> list[dict[str, Any]]:
    """results.json entries: success share with the announcement's share on the same model as baseline."""
    baseline = {c.model: c.share for c in cells if c.example == BASELINE}
    out: list[dict[str, Any]] = []
    for c in cells:
        key = f"{PREFIX}{c.example} {c.mode} {c.model} ({len(c.runs)} seeds)"
        target = TARGETS.get((c.example, c.mode, c.model))
        base = baseline.get(c.model) if c.example != BASELINE and c.mode == "code" else None
        out.append(
            {
                "name": f"{key}: success",
                "value": round(c.share, 4),
                "unit": "share",
                "baseline": base,
                "target": f">= {target:g}" if target is not None else "informative",
                "met": c.share >= target if target is not None else True,
            }
        )
        for label, value, unit in (
            ("chart written", c.chart_share, "share"),
            ("median wall time", c.median("seconds"), "s"),
            ("median turns", c.median("turns"), "turns"),
        ):
            out.append(
                {
                    "name": f"{key}: {label}",
                    "value": round(value, 4),
                    "unit": unit,
                    "baseline": None,
                    "target": "informative",
                    "met": True,
                }
            )
    return out


def merge(new: list[dict[str, Any]], path: Path = RESULTS) -> None:
    """Replace entries with the same names, keep every other entry."""
    old: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    names = {e["name"] for e in new}
    path.write_text(json.dumps([e for e in old if e["name"] not in names] + new, indent=2) + "\n", encoding="utf-8")


def table(cells: list[Cell]) -> str:
    baseline = {c.model: c for c in cells if c.example == BASELINE}
    lines = [
        "| example | mode | model | success | announcement as published | median s | median turns | endings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        if c.example == BASELINE:
            continue
        b = baseline.get(c.model)
        base = f"{sum(r.ok for r in b.runs)}/{len(b.runs)}" if b and c.mode == "code" else "-"
        target = TARGETS.get((c.example, c.mode, c.model))
        mark = "" if target is None else (" (target met)" if c.share >= target else f" (target {target:.0%} missed)")
        lines.append(
            f"| {c.example} | {c.mode} | {c.model} | {sum(r.ok for r in c.runs)}/{len(c.runs)}{mark} | {base} | "
            f"{c.median('seconds'):.0f} | {c.median('turns'):g} | {c.endings()} |"
        )
    for b in baseline.values():
        lines.append(
            f"| announcement | code | {b.model} | {sum(r.ok for r in b.runs)}/{len(b.runs)} | - | "
            f"{b.median('seconds'):.0f} | {b.median('turns'):g} | {b.endings()} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds 1..N per cell (default: 10; 3 with --tasks)")
    p.add_argument("--first-seed", type=int, default=1, help="start the examples' seeds here (split a sweep in two)")
    p.add_argument(
        "--examples", default=",".join((*EXAMPLES, BASELINE)), help="comma-separated; 'announcement' is the baseline"
    )
    p.add_argument("--models", default=None, help="comma-separated model names (default: all; 1.5B, 0.5B with --tasks)")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated: code, tools")
    p.add_argument("--max-turns", type=int, default=6, help="model replies per run (default: 6)")
    p.add_argument("--timeout", type=int, default=60, help="seconds before a generated program is killed")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the model's)")
    p.add_argument("--host", help="use this Ollama server instead of starting the embedded one")
    p.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    p.add_argument("--results", type=Path, default=RESULTS, help="the results file to merge into")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run each seed as a Ray task: on a local Ray, or on the cluster at ADDRESS (needs the 'ray' extra)",
    )
    p.add_argument("--ray-workers", type=int, default=None, help="tasks at a time on a local Ray (default: its CPUs)")
    p.add_argument(
        "--from-log",
        nargs="+",
        type=Path,
        metavar="LOG",
        help="rebuild the table from the per-run lines earlier runs printed, instead of running",
    )
    _task_options(p)
    args = p.parse_args(argv)
    if args.tasks is not None:
        return _run_tasks(p, args)
    args.seeds = args.seeds or 10
    args.models = args.models or ",".join(MODELS)
    if args.from_log:
        cells = cells_from_logs(args.from_log)
        print(table(cells))
        if not args.no_write:
            merge(entries(cells), args.results)
            print(f"\nwrote {args.results}")
        return 0
    for name in ("examples", "models", "modes"):
        setattr(args, name, [x.strip() for x in getattr(args, name).split(",") if x.strip()])
    unknown = set(args.examples) - {*EXAMPLES, BASELINE}
    if unknown:
        p.error(f"unknown example(s) {sorted(unknown)}; choose from {', '.join((*EXAMPLES, BASELINE))}")

    def on_run(cell: Cell, seed: int, run: Run) -> None:
        print(
            f"{cell.example:<20} {cell.mode:<5} {cell.model:<20} seed {seed:>2}: "
            f"{'ok  ' if run.ok else 'FAIL'} chart={run.chart!s:<5} {run.seconds:6.1f}s turns={run.turns} {run.ending}",
            flush=True,
        )

    def on_cell(cells: list[Cell]) -> None:  # a long run keeps what it measured if it is stopped later
        if not args.no_write:
            merge(entries(cells), args.results)

    if args.ray is not None:
        import _on_ray

        cells = _on_ray.measure_on_ray(args, args.ray, on_run, on_cell)
    elif args.host:
        cells = measure(args, args.host.rstrip("/"), on_run, on_cell)
    else:
        from integrations.embedded import EmbeddedServer

        server = EmbeddedServer().start()
        try:
            cells = measure(args, server.url, on_run, on_cell)
        finally:
            server.stop()
    print()
    print(table(cells))
    if not args.no_write:
        print(f"\nwrote {args.results}")
    return 0


def _task_options(p: argparse.ArgumentParser) -> None:
    """The options of ``--tasks``: the task set run by four code-agent loops (benchmarks/agent_tasks.py)."""
    from benchmarks import agent_tasks

    p.add_argument(
        "--tasks",
        nargs="*",
        metavar="NAME",
        help="run the task set (benchmarks/tasks) instead of the examples: the tasks named, or all",
    )
    p.add_argument(
        "--approaches",
        default=",".join(agent_tasks.APPROACHES),
        help=f"with --tasks, comma-separated: {', '.join((*agent_tasks.APPROACHES, *agent_tasks.EXTRA_APPROACHES))}",
    )
    p.add_argument("--max-tokens", type=int, default=None, help="with --tasks, cap on tokens per model reply")
    p.add_argument("--run-cap", type=int, default=agent_tasks.RUN_CAP, help="with --tasks, seconds a run may take")
    p.add_argument("--run-logs", type=Path, default=None, help="with --tasks, keep each run's output in this folder")


def _run_tasks(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from benchmarks import agent_tasks
    from benchmarks.tasks import select

    args.seeds = args.seeds or agent_tasks.SEEDS
    args.models = [m.strip() for m in (args.models or ",".join(agent_tasks.MODELS)).split(",") if m.strip()]
    args.approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    unknown = set(args.approaches) - {*agent_tasks.APPROACHES, *agent_tasks.EXTRA_APPROACHES}
    if unknown:
        p.error(f"unknown approach(es) {sorted(unknown)}; choose from {', '.join(agent_tasks.APPROACHES)}")
    try:
        select(args.tasks)
    except ValueError as exc:
        p.error(str(exc))
    return agent_tasks.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
