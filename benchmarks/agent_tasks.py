"""The task set (benchmarks/tasks) run by four code-agent loops on the same model, settings and seeds.

    python benchmarks/agents.py --tasks                                   # every task, 3 seeds, 1.5B and 0.5B
    python benchmarks/agents.py --tasks squares histogram top_words --seeds 3 --models qwen2.5-coder:1.5b

Approaches (``--approaches``):

* ``ours-ag2``: ``integrations.autogen.code_agents()`` started as its docs write it;
* ``ours-agentchat``: ``integrations.agentchat.code_team()``;
* ``ag2-default``: AG2's documented two-agent chat, what a user writes today (baseline A);
* ``smolagents``: smolagents' ``CodeAgent`` on ``integrations.smolagents.model()`` (baseline B);
* ``ours-ag2-checked``: ``code_agents()`` given the task's own check as ``done`` (informative, not run by default:
  a user who can say what "done" means gets this).

Each run is a child process in a fresh work directory holding only the task's inputs, with a
headless plotting backend and a wall-time cap; the task's checker then reads the files left
behind. A child that crashes or hits the cap is an ending, never the end of the benchmark.
Every run prints one line (``task ... seed N: ok|FAIL ...``) so a stopped benchmark still
yields its figures (``--from-log``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APPROACHES = ("ours-ag2", "ours-agentchat", "ag2-default", "smolagents")
EXTRA_APPROACHES = ("ours-ag2-checked",)
BASELINES = ("ag2-default", "smolagents")
OURS = ("ours-ag2", "ours-agentchat")
MODELS = ("qwen2.5-coder:1.5b", "qwen2.5-coder:0.5b")
SEEDS = 3
RUN_CAP = 600  # seconds a whole run may take before it is stopped (a 1.5B run on 2 busy cores takes 10-250 s)
PREFIX = "agents tasks: "
TARGET = 0.9  # the target for ours on qwen2.5-coder:1.5b, over 20+ tasks x 3 seeds
TARGET_MODEL = "qwen2.5-coder:1.5b"
TARGET_SCALE = (20, 3)  # tasks, seeds: a smaller run reports its share as informative
# What smolagents' interpreter may import for these tasks (its own base list adds math, re, statistics, ...).
SMOLAGENTS_IMPORTS = [
    "csv",
    "json",
    "hashlib",
    "zipfile",
    "string",
    "numpy",
    "numpy.*",
    "pandas",
    "pandas.*",
    "matplotlib",
    "matplotlib.*",
]


@dataclass
class TaskRun:
    """One task x approach x model x seed: whether the checker accepted the files, and how the run ended."""

    task: str
    approach: str
    model: str
    seed: int
    ok: bool
    seconds: float
    replies: int
    ending: str  # how the loop ended: done, terminate, terminate-with-code, max-replies, final-answer, ...
    verdict: str  # the checker's word: "ok" or what is wrong


@dataclass
class Cell:
    approach: str
    model: str
    runs: list[TaskRun] = field(default_factory=list)

    @property
    def share(self) -> float:
        return sum(r.ok for r in self.runs) / len(self.runs) if self.runs else 0.0

    @property
    def scale(self) -> tuple[int, int]:
        """How many distinct tasks and seeds the cell covers."""
        return len({r.task for r in self.runs}), len({r.seed for r in self.runs})

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs) if self.runs else 0.0

    def endings(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in Counter(r.ending for r in self.runs).most_common())


# ---------------------------------------------------------------- the child: one run, in its own process


@dataclass
class Spec:
    """What a child process needs to run one task with one approach."""

    approach: str
    task: str
    model: str
    host: str
    seed: int
    work_dir: str
    result: str
    max_replies: int
    timeout: int
    temperature: float | None = None
    max_tokens: int | None = None


def _settings(spec: Spec) -> Any:
    from integrations import OllamaSettings

    return OllamaSettings(
        host=spec.host, model=spec.model, seed=spec.seed, temperature=spec.temperature, max_tokens=spec.max_tokens
    )


def _loop_outcome(loop: Any) -> tuple[int, str]:
    """A code loop's model replies and its ending (``done``, ``max-replies``; ``chat-ended`` when it did not say)."""
    return int(loop.replies), loop.ending or "chat-ended"


def _ours_ag2(spec: Spec, prompt: str, done: Any) -> tuple[int, str]:
    from integrations.autogen import code_agents

    assistant, user_proxy = code_agents(
        prompt,
        model=spec.model,
        settings=_settings(spec),
        work_dir=Path(spec.work_dir),
        done=done,
        max_replies=spec.max_replies,
        timeout=spec.timeout,
    )
    user_proxy.initiate_chat(assistant, message=prompt)
    return _loop_outcome(user_proxy.code_loop)


def _ours_agentchat(spec: Spec, prompt: str) -> tuple[int, str]:
    from integrations.agentchat import code_team

    team = code_team(
        prompt,
        model=spec.model,
        settings=_settings(spec),
        work_dir=Path(spec.work_dir),
        max_replies=spec.max_replies,
        timeout=spec.timeout,
    )

    async def run() -> None:
        try:
            await team.run(task=prompt)
        finally:
            await team.code_client.close()

    asyncio.run(run())
    return _loop_outcome(team.code_loop)


_CODE = re.compile(r"```[ \t]*\w*[^\n]*\n.*?```", re.DOTALL)


def _ag2_default(spec: Spec, prompt: str) -> tuple[int, str]:
    """AG2's two-agent chat as its documentation writes it: default prompts, a local executor, TERMINATE."""
    from autogen import AssistantAgent, UserProxyAgent
    from autogen.coding import LocalCommandLineCodeExecutor

    from integrations.autogen import llm_config

    assistant = AssistantAgent("assistant", llm_config=llm_config(spec.model, settings=_settings(spec)))
    user_proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=spec.max_replies - 1,  # the opening message plus 5 answers: 6 model replies
        is_termination_msg=lambda msg: "TERMINATE" in (msg.get("content") or ""),
        code_execution_config={
            "executor": LocalCommandLineCodeExecutor(work_dir=spec.work_dir, timeout=spec.timeout),
        },
    )
    user_proxy.initiate_chat(assistant, message=prompt)
    # In the proxy's history, the assistant's replies carry the role "user".
    replies = [str(m.get("content") or "") for m in user_proxy.chat_messages[assistant] if m.get("role") == "user"]
    last = replies[-1] if replies else ""
    if "TERMINATE" in last:
        ending = "terminate-with-code" if _CODE.search(last) else "terminate"
    elif len(replies) >= spec.max_replies:
        ending = "max-replies"
    else:
        ending = "chat-ended"
    return len(replies), ending


def _smolagents(spec: Spec, prompt: str) -> tuple[int, str]:
    """smolagents' CodeAgent, its interpreter allowed the tasks' libraries and ``open`` to write the files asked."""
    from smolagents import CodeAgent
    from smolagents.memory import ActionStep

    from integrations.smolagents import model

    agent = CodeAgent(
        tools=[],
        model=model(spec.model, settings=_settings(spec)),
        additional_authorized_imports=SMOLAGENTS_IMPORTS,
        max_steps=spec.max_replies,
        executor_kwargs={"additional_functions": {"open": open}, "timeout_seconds": spec.timeout},
        verbosity_level=1,
    )
    result = agent.run(prompt, return_full_result=True)
    steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    return len(steps), "final-answer" if result.state == "success" else "max-steps"


def child(argv: list[str]) -> int:
    """Run one spec (JSON in ``argv[0]``) in the current process; write replies, ending and seconds to its result."""
    spec = Spec(**json.loads(argv[0]))
    os.chdir(spec.work_dir)
    from benchmarks.tasks import select

    task = select([spec.task])[0]
    started = time.monotonic()
    try:
        if spec.approach == "ours-ag2":
            replies, ending = _ours_ag2(spec, task.prompt, None)
        elif spec.approach == "ours-ag2-checked":
            replies, ending = _ours_ag2(spec, task.prompt, task.done)
        elif spec.approach == "ours-agentchat":
            replies, ending = _ours_agentchat(spec, task.prompt)
        elif spec.approach == "ag2-default":
            replies, ending = _ag2_default(spec, task.prompt)
        elif spec.approach == "smolagents":
            replies, ending = _smolagents(spec, task.prompt)
        else:
            raise ValueError(f"unknown approach {spec.approach!r}")
    except Exception as exc:  # the run's own failure: recorded as its ending
        traceback.print_exc()
        replies, ending = 0, f"error: {type(exc).__name__}"
    seconds = time.monotonic() - started
    Path(spec.result).write_text(json.dumps({"replies": replies, "ending": ending, "seconds": seconds}))
    return 0


# ---------------------------------------------------------------- the parent: plan, isolate, check, report


def child_environment() -> dict[str, str]:
    """The environment of every run: this Python first on PATH, headless plotting, no network lookups of prices."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {
        **os.environ,
        "MPLBACKEND": "Agg",  # headless plotting for every approach, whatever the model's code asks for
        "PYTHONPATH": path,
        # As in the user's activated virtual environment: AG2's executor runs `python` from PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": sys.prefix,
        "PYTHONUNBUFFERED": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # LiteLLM otherwise fetches a price list, retrying, offline
        # Models answer errors with `pip install ...`, which AG2's executor runs: it may find what is
        # installed, never change the benchmark's own environment.
        "PIP_NO_INDEX": "1",
    }


def run_one(
    task: Any, approach: str, model: str, seed: int, args: argparse.Namespace, url: str, logs: Path | None
) -> TaskRun:
    """One run in a child process and a fresh work directory, then the task's check of what it left."""
    with tempfile.TemporaryDirectory(prefix=f"task-{task.name}-") as tmp:
        work_dir = Path(tmp) / "work"
        work_dir.mkdir()
        task.stage(work_dir)
        spec = Spec(
            approach=approach,
            task=task.name,
            model=model,
            host=url,
            seed=seed,
            work_dir=str(work_dir),
            result=str(Path(tmp) / "result.json"),
            max_replies=args.max_turns,
            timeout=args.timeout,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
        )
        env = child_environment()
        log_path = Path(tmp) / "run.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(spec))],
                cwd=work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the cap stops the child and whatever it started, together
            )
            try:
                process.wait(timeout=args.run_cap)
                capped = False
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                capped = True
        elapsed = time.monotonic() - started
        result = Path(spec.result)
        if capped:
            replies, ending, seconds = 0, "wall-time-cap", elapsed
        elif result.is_file():
            data = json.loads(result.read_text())
            replies, ending, seconds = data["replies"], data["ending"], data["seconds"]
        else:
            replies, ending, seconds = 0, f"crash: exit {process.returncode}", elapsed
        verdict = task.check(work_dir)
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            name = f"{task.name}-{approach}-{model.replace(':', '_')}-seed{seed}.log"
            (logs / name).write_bytes(log_path.read_bytes())
    # A run that crashed or was stopped failed, whatever files it left: the user's script did not finish.
    ended_normally = not (ending.startswith(("error", "crash")) or ending == "wall-time-cap")
    return TaskRun(
        task=task.name,
        approach=approach,
        model=model,
        seed=seed,
        ok=verdict is True and ended_normally,
        seconds=seconds,
        replies=replies,
        ending=ending,
        verdict="ok" if verdict is True else " ".join(str(verdict).split()),
    )


def line(run: TaskRun) -> str:
    """The per-run log line; `runs_from_lines` reads it back."""
    return (
        f"task {run.task:<16} {run.approach:<16} {run.model:<20} seed {run.seed:>2}: {'ok  ' if run.ok else 'FAIL'} "
        f"{run.seconds:6.1f}s replies={run.replies} {run.ending} | {run.verdict}"
    )


_LINE = re.compile(
    r"^task (?P<task>\S+)\s+(?P<approach>\S+)\s+(?P<model>\S+)\s+seed\s+(?P<seed>\d+): (?P<ok>ok|FAIL)\s+"
    r"(?P<seconds>[\d.]+)s replies=(?P<replies>\d+) (?P<ending>.+?) \| (?P<verdict>.*)$"
)


def runs_from_lines(lines: list[str]) -> list[TaskRun]:
    """The runs of earlier benchmarks, from the lines they printed (other lines are skipped).

    >>> run = TaskRun("squares", "ours-ag2", "qwen2.5-coder:1.5b", 2, True, 12.5, 2, "done", "ok")
    >>> runs_from_lines(["noise", line(run)]) == [run]
    True
    """
    runs = []
    for text in lines:
        match = _LINE.match(text.strip())
        if match is None:
            continue
        runs.append(
            TaskRun(
                task=match["task"],
                approach=match["approach"],
                model=match["model"],
                seed=int(match["seed"]),
                ok=match["ok"] == "ok",
                seconds=float(match["seconds"]),
                replies=int(match["replies"]),
                ending=match["ending"].strip(),
                verdict=match["verdict"].strip(),
            )
        )
    return runs


def cells_of(runs: list[TaskRun]) -> list[Cell]:
    """Runs grouped per approach x model, in the order first seen."""
    cells: dict[tuple[str, str], Cell] = {}
    for run in runs:
        cells.setdefault((run.approach, run.model), Cell(run.approach, run.model)).runs.append(run)
    return list(cells.values())


def _best_baseline(cells: list[Cell], model: str) -> float | None:
    shares = [c.share for c in cells if c.model == model and c.approach in BASELINES]
    return max(shares) if shares else None


def _target(cell: Cell) -> str | None:
    tasks, seeds = cell.scale
    if cell.approach in OURS and cell.model == TARGET_MODEL and tasks >= TARGET_SCALE[0] and seeds >= TARGET_SCALE[1]:
        return f">= {TARGET:g} and above both baselines"
    return None


def entries(cells: list[Cell]) -> list[dict[str, Any]]:
    """results.json entries, in the shape the other benchmarks write: one per figure, named by cell and scale."""
    out: list[dict[str, Any]] = []
    for c in cells:
        tasks, seeds = c.scale
        key = f"{PREFIX}{c.approach} {c.model} ({tasks} tasks x {seeds} seeds)"
        baseline = _best_baseline(cells, c.model) if c.approach not in BASELINES else None
        target = _target(c)
        met = c.share >= TARGET and (baseline is None or c.share > baseline) if target else True
        out.append(
            {
                "name": f"{key}: success",
                "value": round(c.share, 4),
                "unit": "share",
                "baseline": None if baseline is None else round(baseline, 4),
                "target": target or "informative",
                "met": met,
            }
        )
        for label, value, unit in (
            ("median wall time", c.median("seconds"), "s"),
            ("median model replies", c.median("replies"), "replies"),
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


def merge(new: list[dict[str, Any]], path: Path) -> None:
    """Replace entries with the same names, keep every other entry."""
    old: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    names = {e["name"] for e in new}
    path.write_text(json.dumps([e for e in old if e["name"] not in names] + new, indent=2) + "\n", encoding="utf-8")


def table(cells: list[Cell]) -> str:
    """The three-way table: one row per approach x model."""
    lines = [
        "| approach | model | tasks x seeds | success | median s | median replies | endings |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        tasks, seeds = c.scale
        target = _target(c)
        mark = ""
        if target:
            baseline = _best_baseline(cells, c.model)
            met = c.share >= TARGET and (baseline is None or c.share > baseline)
            mark = " (target met)" if met else " (target missed)"
        lines.append(
            f"| {c.approach} | {c.model} | {tasks} x {seeds} | {sum(r.ok for r in c.runs)}/{len(c.runs)} "
            f"({c.share:.0%}){mark} | {c.median('seconds'):.0f} | {c.median('replies'):g} | {c.endings()} |"
        )
    return "\n".join(lines)


def task_table(runs: list[TaskRun]) -> str:
    """Per task, the successes of each approach x model: where each loop fails."""
    columns = [(c.approach, c.model) for c in cells_of(runs)]
    tasks = list(dict.fromkeys(r.task for r in runs))
    lines = [
        "| task | " + " | ".join(f"{a} {m}" for a, m in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for task in tasks:
        row = []
        for approach, model in columns:
            mine = [r for r in runs if (r.task, r.approach, r.model) == (task, approach, model)]
            row.append(f"{sum(r.ok for r in mine)}/{len(mine)}" if mine else "-")
        lines.append(f"| {task} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def measure(
    args: argparse.Namespace,
    url: str,
    on_run: Callable[[TaskRun], None] = lambda run: None,
    on_cell: Callable[[list[TaskRun]], None] = lambda runs: None,
) -> list[TaskRun]:
    """Every planned run, model by model, approach by approach, task by task, seed by seed."""
    from benchmarks.tasks import select
    from integrations import OllamaSettings, ensure_model

    tasks = select(args.tasks)
    runs: list[TaskRun] = []
    for model in args.models:
        ensure_model(model, pull=True, settings=OllamaSettings(host=url, model=model))
        for approach in args.approaches:
            for task in tasks:
                for seed in range(1, args.seeds + 1):
                    run = run_one(task, approach, model, seed, args, url, args.run_logs)
                    runs.append(run)
                    on_run(run)
            on_cell(runs)
    return runs


def report(runs: list[TaskRun], args: argparse.Namespace) -> None:
    cells = cells_of(runs)
    print()
    print(table(cells))
    print()
    print(task_table(runs))
    if not args.no_write:
        merge(entries(cells), args.results)
        print(f"\nwrote {args.results}")


def main(args: argparse.Namespace) -> int:
    """``benchmarks/agents.py --tasks``: ``args`` are that script's, parsed."""
    if args.from_log:
        lines: list[str] = []
        for path in args.from_log:
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
        report(runs_from_lines(lines), args)
        return 0

    def on_run(run: TaskRun) -> None:
        print(line(run), flush=True)

    def on_cell(runs: list[TaskRun]) -> None:  # a long run keeps what it measured if it is stopped later
        if not args.no_write:
            merge(entries(cells_of(runs)), args.results)

    if args.host:
        runs = measure(args, args.host.rstrip("/"), on_run, on_cell)
    else:
        from integrations.embedded import EmbeddedServer

        server = EmbeddedServer().start()
        try:
            runs = measure(args, server.url, on_run, on_cell)
        finally:
            server.stop()
    report(runs, args)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        raise SystemExit(child(sys.argv[2:]))
    raise SystemExit("run through benchmarks/agents.py --tasks (this module's own entry point is for its children)")
