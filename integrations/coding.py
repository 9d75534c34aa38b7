"""A code-writing loop that small local models finish: extract, run confined, judge, answer, start over.

The parts every code agent needs, framework-free, so AG2 (`integrations.autogen.code_agents`)
and AgentChat (`integrations.agentchat.code_team`) drive the same loop:

* `python_blocks` finds the runnable Python in a reply (fenced or bare); a ``# filename:``
  comment on the first line is a comment, never a reason to save the program as data;
* every reply that carries Python is run (`integrations.sandbox.run_block`, confined to the
  work directory, with a timeout) before anything decides whether the chat is over; the
  conventional aliases a program uses but never imports (``plt``, ``pd``, ``np``) are imported
  for it (`missing_imports`);
* the chat is over when a check of the result holds (`Done`), never because the model said a
  word: a reply that carries code which has not run never ends it;
* a failed run goes back as the traceback's last lines plus one hint for the commonest errors
  of small models (`hint`), a program sent again unchanged is called out (`Attempts`), and
  after `FRESH_AFTER` failed replies the chat starts over once from a clean history.

`CodeLoop` is that state machine: feed it each model reply, and it says what to send back.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from integrations.sandbox import Limits
    from integrations.settings import OllamaSettings

__all__ = [
    "FRESH_AFTER",
    "MAX_TOKENS",
    "Attempts",
    "CodeLoop",
    "Done",
    "Run",
    "Step",
    "describe_files",
    "hint",
    "installed_libraries",
    "missing_imports",
    "named_outputs",
    "python_blocks",
    "reply_capped",
    "shell_blocks",
    "system_message",
    "traceback_tail",
]

logger = logging.getLogger(__name__)

Done = Callable[[Path, str], "bool | str"]
"""A success check: ``done(work_dir, output_of_the_last_run)``; True, else False or what is still missing."""

FRESH_AFTER = 3  # failed replies in one chat before it starts over, once, from a clean history
MAX_TOKENS = 1024  # a reply cap: a whole small program fits, a model that loops stops here
TAIL_LINES = 6  # output lines sent back to the model
_TAIL_CHARS = 1500  # and at most this many characters of them
_PREVIEW_LINES = 4  # first lines of each text file shown in the system message
_PREVIEW_FILES = 12

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"python", "py", "python3", "ipython"}
_SHELL = {"sh", "bash", "shell", "zsh", "console", "powershell", "ps1", "pwsh", "cmd", "bat"}
_FILENAME = re.compile(
    r"(?<![\w./-])([\w-]+(?:\.[\w-]+)*\.(?:txt|json|csv|tsv|png|jpe?g|svg|pdf|md|html|xml|ya?ml|log))\b"
)
_LIBRARIES = ("numpy", "pandas", "matplotlib", "scipy")
_TEXT_SUFFIXES = {".txt", ".csv", ".tsv", ".json", ".md", ".xml", ".yaml", ".yml", ".log", ".html", ".py"}


# ---------------------------------------------------------------- reading a reply


def python_blocks(text: str) -> list[str]:
    """The Python in a reply: ``python`` fences (an unclosed last one counts), untagged fences that parse,
    else the whole reply when it is a program.

    >>> python_blocks("Here:\\n```python\\n# filename: fib.txt\\nprint(1)\\n```\\nand ```sh\\npython fib.py\\n```")
    ['# filename: fib.txt\\nprint(1)']
    >>> python_blocks("```\\nx = 1\\n```\\n```\\nNVDA 12.3\\n```")
    ['x = 1']
    >>> python_blocks("import csv\\nprint(2)")
    ['import csv\\nprint(2)']
    >>> python_blocks("I cannot do that."), python_blocks("TERMINATE")
    ([], [])
    """
    blocks: list[str] = []
    for lang, code in _FENCE.findall(text):
        code = code.strip()
        if not code:
            continue
        if lang.lower() in _PYTHON or (not lang and _parses(code) and _looks_like_code(code)):
            blocks.append(code)
    if blocks or "```" in text:
        return blocks
    stripped = text.strip()
    if re.search(r"^(import|from)\s+\w", stripped, re.MULTILINE) and _parses(stripped):
        return [stripped]
    return []


def shell_blocks(text: str) -> list[str]:
    """Shell fences in a reply (never run: the hint says to write Python instead).

    >>> shell_blocks("```sh\\npython squares.py\\n```")
    ['python squares.py']
    """
    return [code.strip() for lang, code in _FENCE.findall(text) if lang.lower() in _SHELL and code.strip()]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _looks_like_code(code: str) -> bool:
    """An untagged fence that parses may still be sample output (``42``); code has a statement or a call."""
    tree = ast.parse(code)
    return any(not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call) for node in tree.body)


_ALIASES = {
    "plt": ("matplotlib", "import matplotlib.pyplot as plt"),
    "pd": ("pandas", "import pandas as pd"),
    "np": ("numpy", "import numpy as np"),
}


def missing_imports(code: str) -> list[str]:
    """Import lines for the conventional aliases (``plt``, ``pd``, ``np``) a program uses but never binds.

    Small models forget them more than any other line; the loop adds them before running (where
    the library is installed) instead of spending a reply on a ``NameError``.

    >>> missing_imports("df = pd.read_csv('a.csv')\\nplt.plot(df['x'])")
    ['import pandas as pd', 'import matplotlib.pyplot as plt']
    >>> missing_imports("import pandas as pd\\nprint(pd.__version__)"), missing_imports("np = 3\\nprint(np)")
    ([], [])
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    bound: set[str] = set()
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store | ast.Del):
                bound.add(node.id)
            elif node.id in _ALIASES and node.id not in used:
                used.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [
        _ALIASES[name][1]
        for name in used
        if name not in bound and importlib.util.find_spec(_ALIASES[name][0]) is not None
    ]


class Attempts:
    """The programs a chat has run, to tell the model when it resends one unchanged.

    >>> attempts = Attempts()
    >>> attempts.repeated("x = 1  # first\\nprint(x)"), attempts.repeated("x = 1\\n\\nprint( x )")
    (False, True)
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def repeated(self, code: str) -> bool:
        """Whether ``code`` (comments and spacing aside) ran before in this chat; records it."""
        key = _normalised(code)
        seen = key in self._seen
        self._seen.add(key)
        return seen


def _normalised(code: str) -> str:
    lines = (re.sub(r"\s+", "", line.split("#", 1)[0]) for line in code.splitlines())
    return "\n".join(line for line in lines if line)


# ---------------------------------------------------------------- what the model is told


def installed_libraries() -> list[str]:
    """The common data libraries importable here (model code runs with this interpreter)."""
    return [name for name in _LIBRARIES if importlib.util.find_spec(name) is not None]


def describe_files(work_dir: Path) -> str:
    """The files in ``work_dir`` with their sizes and, for text files, their first lines (header included).

    Small models guess column names and file layouts; showing the first lines stops that.
    Hidden entries and the programs the loop saved (``code_*.py``) are left out.
    """
    lines: list[str] = []
    files = sorted(p for p in work_dir.iterdir() if p.is_file() and not _internal(p)) if work_dir.is_dir() else []
    for path in files[:_PREVIEW_FILES]:
        size = path.stat().st_size
        lines.append(f"- {path.name} ({size} bytes)")
        if path.suffix.lower() in _TEXT_SUFFIXES and size:
            with path.open(encoding="utf-8", errors="replace") as handle:
                head = [handle.readline().rstrip("\n")[:200] for _ in range(_PREVIEW_LINES)]
            lines.extend(f"    {line}" for line in head if line)
    if len(files) > _PREVIEW_FILES:
        lines.append(f"- and {len(files) - _PREVIEW_FILES} more")
    return "\n".join(lines)


def _internal(path: Path) -> bool:
    return path.name.startswith(".") or bool(re.fullmatch(r"code_[0-9a-f]{16}\.py", path.name))


def system_message(work_dir: Path | None = None) -> str:
    """The coder's system message, written for small models: one whole program per reply, no magic word.

    Lists the files already in ``work_dir`` (with their first lines), so stage inputs first.
    """
    libraries = ", ".join(installed_libraries())
    installed = f"{libraries} and the standard library" if libraries else "the standard library only"
    imports = [
        line
        for name, line in (("pandas", "import pandas as pd"), ("matplotlib", "import matplotlib.pyplot as plt"))
        if name in libraries
    ]
    files = describe_files(work_dir) if work_dir is not None else ""
    listing = f"\nFiles in the current directory:\n{files}" if files else ""
    return f"""You are a Python programmer. Solve the user's task by writing Python.
Reply with one complete Python program in one ```python block. The user runs it in a fresh process in the \
current directory and shows you its output; then you may fix it and send the whole program again.
- Do the whole task in Python: write every file the task asks for in the current directory, with exactly the \
name given, and print a short summary of what you wrote.
- Only the Python block runs: no shell commands, no pip install, no input(), no internet.
- Installed: {installed}.{" Import what you use, e.g. " + "; ".join(imports) + "." if imports else ""}
- Plots are headless: save them with plt.savefig("name.png") and never call plt.show().
- When the output shows the task is done, reply with one short sentence and no code.{listing}"""


def named_outputs(task: str, existing: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """File names the task mentions that did not exist when it started: the files it asks for.

    >>> named_outputs("Read data.csv and write the mean to mean.txt, then plot hist.png", {"data.csv"})
    ['mean.txt', 'hist.png']
    >>> named_outputs("What is 2 + 3?")
    []
    """
    found: list[str] = []
    for name in _FILENAME.findall(task):
        if name not in existing and name not in found:
            found.append(name)
    return found


# ---------------------------------------------------------------- what a run tells the model


def traceback_tail(output: str) -> str:
    """The error line and the program's own line that raised it (not a library's), else the last lines.

    >>> traceback_tail('Traceback (most recent call last):\\n  File "/w/code_1.py", line 3, in <module>\\n'
    ...     '    x = d["b"]\\nKeyError: \\'b\\'')
    'File "/w/code_1.py", line 3, in <module>\\n    x = d["b"]\\nKeyError: \\'b\\''
    """
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if "Traceback" in output:
        start = max(i for i, line in enumerate(lines) if "Traceback" in line)
        lines = lines[start + 1 :]
        own = [
            i
            for i, line in enumerate(lines)
            if line.strip().startswith('File "') and "site-packages" not in line and "/lib/python" not in line
        ]
        error = [line for line in lines if not line.startswith(" ")][-2:]  # the exception, maybe a chained note
        if own:
            frame = [line.strip() if i == 0 else line for i, line in enumerate(lines[own[-1] : own[-1] + 2])]
            lines = [*frame, *(e for e in error if e not in frame)]
    text = "\n".join(lines[-TAIL_LINES:])
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


def hint(output: str, exit_code: int, timeout: float, work_dir: Path | None = None) -> str:
    """One short, specific fix for the commonest failures of small models.

    >>> hint("NameError: name 'plt' is not defined", 1, 60)[:41]
    "'plt' is used before it is imported or as"
    >>> hint("AttributeError: module 'statistics' has no attribute 'middle'", 1, 60)[:60]
    "statistics has no 'middle': use the exact name of a function"
    """
    last = output.strip().splitlines()[-1].strip() if output.strip() else ""
    if exit_code == 124 or "Timeout" in output or "timed out" in output:
        return (
            f"The program was stopped after {timeout:g} s: do not wait for input, do not call plt.show(), "
            "and avoid endless loops."
        )
    if re.match(r"KeyError: -?\d+$", last):
        return (
            "A pandas Series or DataFrame is indexed by label, not position: use .iloc[-1] for the last "
            "value and .iloc[0] for the first."
        )
    if "KeyError" in last or "not in index" in last or "None of [Index" in last:
        headers = _csv_headers(work_dir)
        if headers:
            return (
                f"Use the exact column names ({headers}), and the same spelling each time you use a name you created."
            )
        return "Use exact key names: print the keys (or columns) first if you are not sure of them."
    if "NameError" in last:
        match = re.search(r"name '(\w+)' is not defined", last)
        what = f"'{match.group(1)}'" if match else "a name"
        return (
            f"{what} is used before it is imported or assigned: import it (or define it) at the top, and send "
            "the whole program every time, not only the lines you changed (each program runs on its own)."
        )
    if "ModuleNotFoundError" in last or "ImportError" in last:
        libraries = ", ".join(installed_libraries())
        return f"Only the standard library{' and ' + libraries if libraries else ''} are installed: use those."
    attribute = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", last)
    if attribute:
        return (
            f"{attribute.group(1)} has no '{attribute.group(2)}': use the exact name of a function it has "
            f"(the standard library's names, e.g. statistics.median, collections.Counter, itertools.combinations)."
        )
    if "is not JSON serializable" in last:
        return "Convert values to plain Python types (int(), float(), str(), list()) before json.dump."
    if "FileNotFoundError" in last:
        files = ", ".join(p.name for p in _visible_files(work_dir)) if work_dir else ""
        where = f" The files there are: {files}." if files else ""
        return f"Read and write files in the current directory, with the exact names given.{where}"
    if "same first dimension" in last:
        return "x and y have different lengths: compute one y value per x value (per row), then plot them."
    if "f-string" in last and ("backslash" in last or "quote" in last):
        return (
            "Inside an f-string's braces use the other kind of quotes, not backslashes: "
            "f\"{df['NVDA'].iloc[-1]:.2f}\", or compute the value on the line before."
        )
    if "SyntaxError" in last or "IndentationError" in last:
        return "Send the whole program again, complete and valid Python, in one ```python block."
    return "Fix the error and send the whole corrected program in one ```python block."


def _visible_files(work_dir: Path | None) -> list[Path]:
    if work_dir is None or not work_dir.is_dir():
        return []
    return sorted(p for p in work_dir.iterdir() if p.is_file() and not _internal(p))


def _csv_headers(work_dir: Path | None) -> str:
    headers = []
    for path in _visible_files(work_dir):
        if path.suffix.lower() in {".csv", ".tsv"}:
            with path.open(encoding="utf-8", errors="replace") as handle:
                headers.append(f"{path.name}: {handle.readline().strip()}")
    return "; ".join(headers)


REPEATED = (
    "This is the same program as your previous one, so it gave the same result. "
    "Do not send it again: change the part that is wrong."
)


def _shell_only(task: str) -> str:
    return (
        "Shell commands are not run here, only a ```python block is. Do not write a script file and run it: "
        f"send the whole program itself, in one ```python block, that does the task: {task}"
    )


# ---------------------------------------------------------------- the loop


def reply_capped(settings: OllamaSettings | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The factory ``overrides`` with replies capped at `MAX_TOKENS`, unless the settings or overrides set a cap.

    A small model that loops then stops at the cap instead of at the end of its context.
    """
    if "max_tokens" in overrides or (settings or _settings()).max_tokens is not None:
        return overrides
    return {**overrides, "max_tokens": MAX_TOKENS}


def _settings() -> OllamaSettings:
    from integrations.settings import OllamaSettings

    return OllamaSettings()


@dataclasses.dataclass(frozen=True)
class Run:
    """One program the loop ran, and how it ended."""

    code: str
    exit_code: int
    output: str
    timed_out: bool = False
    repeated: bool = False  # the model had sent the same program before in this chat


@dataclasses.dataclass(frozen=True)
class Step:
    """What to do after a model reply.

    ``continue``: send ``message`` to the model. ``fresh-start``: clear the chat's history,
    then send ``message`` as the new opening. ``stop``: the chat is over (see `CodeLoop.ending`).
    """

    action: Literal["continue", "fresh-start", "stop"]
    message: str | None = None
    run: Run | None = None


Ending = Literal["", "done", "max-replies"]


class CodeLoop:
    """The user's side of a code chat: run each reply's program, judge the result, answer or stop.

    Args:
        work_dir: where programs run and files land (created); every program is confined to it.
        task: the task, for the fresh-start opening and the default check; None takes the chat's
            first message (`begin`).
        done: the success check, ``done(work_dir, output)`` (see `Done`). Default: the last program
            ran without error and wrote every file the task names that did not exist before; where
            the task names no file, the model's next reply without code confirms it.
        max_replies: model replies at most, fresh start included.
        timeout: seconds each program may run.
        fresh_after: failed replies in one chat before it starts over (once) from a clean history.
        confine: None uses what the kernel offers (see `integrations.sandbox.confinement`).
        network: let programs open TCP/UDP sockets (off by default).
        limits: memory, CPU, file-size, process and output limits (`integrations.sandbox.Limits`).
    """

    def __init__(
        self,
        work_dir: Path | str,
        *,
        task: str | None = None,
        done: Done | None = None,
        max_replies: int = 6,
        timeout: float = 60,
        fresh_after: int = FRESH_AFTER,
        python: str | None = None,
        confine: bool | None = None,
        network: bool = False,
        limits: Limits | None = None,
    ) -> None:
        from integrations.errors import ConfigError

        if max_replies < 1:
            raise ConfigError(f"max_replies must be at least 1, not {max_replies!r}")
        if timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {timeout!r}")
        from integrations import sandbox

        self.work_dir = Path(work_dir).expanduser().resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.done = done
        self.max_replies = max_replies
        self.timeout = timeout
        self.fresh_after = fresh_after
        self.python = python
        self.confine = confine
        self.network = network
        self.limits = limits
        self.confinement = sandbox.confinement()
        notice = self.confinement.describe(self.work_dir, timeout)
        if not self.confinement.complete:
            warnings.warn(notice, sandbox.UnconfinedWarning, stacklevel=2)
        logger.info("%s", notice)
        self.task: str | None = None
        self._inputs: set[str] = set()
        self.reset()
        if task is not None:
            self.begin(task)

    def reset(self) -> None:
        """Forget every reply and run (a new conversation in the same work directory)."""
        self.replies = 0
        self.replies_this_chat = 0
        self.fresh_starts = 0
        self.runs: list[Run] = []
        self.transcript: list[tuple[str, str]] = []  # ("user" | "model", text), across fresh starts
        self.attempts = Attempts()
        self.ending: Ending = ""
        self.verdict: bool | str | None = False  # the last check's answer (see _judge)
        self._confirm = False  # the last run was clean and only the model's confirmation is missing

    def begin(self, task: str) -> None:
        """Record the task and which files are inputs (present now); the chat's first message calls it."""
        self.task = task
        self._inputs = {p.name for p in _visible_files(self.work_dir)}
        if not self.transcript:
            self.transcript.append(("user", task))

    @property
    def finished(self) -> bool:
        """Whether the success check held."""
        return self.ending == "done"

    @property
    def outputs(self) -> list[str]:
        """The files the task names that it must write (see `named_outputs`)."""
        return named_outputs(self.task or "", self._inputs)

    def fresh_opening(self) -> str:
        """The first message of the one fresh chat: a clean history, a new first attempt."""
        return f"Start from scratch with a new program, in one complete ```python block, that does this: {self.task}"

    def step(self, reply: str) -> Step:
        """Judge one model reply: run its program (if any) and say what comes next."""
        prepared = self._before_run(reply)
        if isinstance(prepared, Step):
            return self._said(prepared)
        from integrations.sandbox import run_block

        result = run_block(prepared, "python", self.work_dir, **self._run_options())
        return self._said(self._after_run(prepared, result.exit_code, result.output, result.timed_out))

    async def step_async(self, reply: str) -> Step:
        """`step` for event loops; cancelling it kills the running program and all it started."""
        prepared = self._before_run(reply)
        if isinstance(prepared, Step):
            return self._said(prepared)
        from integrations.sandbox import run_block_async

        result = await run_block_async(prepared, "python", self.work_dir, **self._run_options())
        return self._said(self._after_run(prepared, result.exit_code, result.output, result.timed_out))

    def report(self) -> str:
        """One line on how the loop ended, for a last message or a log."""
        codes = ", ".join(str(r.exit_code) for r in self.runs) or "none"
        if self.finished:
            output = traceback_tail(self.runs[-1].output) if self.runs else ""
            said = f" Output of the last program:\n{output}" if output else ""
            return f"Done: the check of the result holds after {self.replies} repl(ies) (exit codes {codes}).{said}"
        if self.ending:
            return f"Stopped after {self.replies} repl(ies) without meeting the check (exit codes {codes})."
        return f"Still going: {self.replies} repl(ies) so far (exit codes {codes})."

    def _run_options(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "python": self.python,
            "confine": self.confine,
            "network": self.network,
            "limits": self.limits,
        }

    def _said(self, step: Step) -> Step:
        if step.message is not None:
            self.transcript.append(("user", step.message))
        return step

    # -- the two halves of a step, around the run

    def _before_run(self, reply: str) -> Step | str:
        if self.task is None:
            self.begin(reply)  # no task given: the judge still needs one
        if self.ending:
            return Step("stop")
        self.transcript.append(("model", reply))
        self.replies += 1
        self.replies_this_chat += 1
        blocks = python_blocks(reply)
        if blocks:
            code = "\n\n".join(blocks)
            imports = missing_imports(code)
            return "\n".join([*imports, code]) if imports else code
        # No code: only the model confirming a clean run (where nothing else can be checked) ends the chat.
        if self._confirm:
            return self._stop("done")
        if self.replies >= self.max_replies:
            return self._stop("max-replies")
        if shell_blocks(reply):
            return Step("continue", _shell_only(self.task or ""))
        if self.replies_this_chat == 1:
            return Step("continue", f"Write the program now, as one complete ```python block: {self.task}")
        if isinstance(self.verdict, str):
            return Step(
                "continue", f"The task is not done yet: {self.verdict}. Send the whole program in one ```python block."
            )
        return Step(
            "continue",
            "There was no ```python block in your reply, so nothing ran. Reply with the whole program in one "
            "```python block.",
        )

    def _after_run(self, code: str, exit_code: int, output: str, timed_out: bool) -> Step:
        run = Run(code, exit_code, output, timed_out, repeated=self.attempts.repeated(code))
        self.runs.append(run)
        self._confirm = False
        self.verdict = self._judge(run)
        if self.verdict is True:
            return self._stop("done", run)
        if self.replies >= self.max_replies:
            return self._stop("max-replies", run)
        if self.replies_this_chat >= self.fresh_after and not self.fresh_starts and self.verdict is not None:
            self.fresh_starts += 1
            self.replies_this_chat = 0
            self.attempts = Attempts()  # a clean history: nothing was sent "before"
            return Step("fresh-start", self.fresh_opening(), run)
        return Step("continue", self._feedback(run), run)

    def _stop(self, ending: Ending, run: Run | None = None) -> Step:
        self.ending = ending
        return Step("stop", None, run)

    def _judge(self, run: Run) -> bool | str | None:
        """True when done; a string saying what is missing; None when a clean run awaits the model's word."""
        if self.done is not None:
            return self.done(self.work_dir, run.output)
        if run.exit_code != 0:
            return False
        outputs = self.outputs
        missing = [name for name in outputs if not _written(self.work_dir / name)]
        if missing:
            return (
                f"the program did not write {', '.join(missing)} in the current directory: write "
                f"{'it' if len(missing) == 1 else 'them'} with exactly that name"
            )
        if outputs:
            return True
        self._confirm = True
        return None

    def _written_heads(self) -> str:
        """What the named output files hold now (a wrong content is the commonest miss once they exist)."""
        heads = [_head(self.work_dir / name) for name in self.outputs if _written(self.work_dir / name)]
        return "".join(f"{line}\n" for line in heads)

    def _feedback(self, run: Run) -> str:
        tail = traceback_tail(run.output) or "(no output)"
        if run.exit_code != 0:
            text = (
                f"The program failed (exit code {run.exit_code}):\n{tail}\n"
                f"Hint: {hint(run.output, run.exit_code, self.timeout, self.work_dir)}"
            )
        elif self.verdict is None:
            text = (
                f"The program ran without error. Output:\n{tail}\nIf this completes the task, reply with one short "
                "sentence and no code. Otherwise send the whole corrected program in one ```python block."
            )
        else:
            missing = f": {self.verdict}" if isinstance(self.verdict, str) and self.verdict else ""
            text = (
                f"The program ran, but the task is not done yet{missing}. Output:\n{tail}\n{self._written_heads()}"
                "Send the whole corrected program in one ```python block."
            )
        return f"{REPEATED}\n{text}" if run.repeated else text


def _head(path: Path) -> str:
    """The first lines of a text file the program wrote, for the model to compare with what was asked."""
    if path.suffix.lower() not in _TEXT_SUFFIXES:
        return f"{path.name}: {path.stat().st_size} bytes"
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(300)
    lines = head.splitlines()[:_PREVIEW_LINES]
    more = " ..." if len(head.splitlines()) > _PREVIEW_LINES or len(head) == 300 else ""
    return f"{path.name} begins: {' | '.join(lines)}{more}"


def _written(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0
