"""The ``ollama-integrations`` command: parse, call the library, render.

A library error becomes one red line and exit code 1; a user mistake never shows a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from integrations import __version__
from integrations._deps import require
from integrations.config_render import FORMATS
from integrations.errors import OllamaError
from integrations.settings import OllamaSettings

app = typer.Typer(
    name="ollama-integrations",
    help="Run agent frameworks on local Ollama models: check, pull, configure, run examples, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)

T = TypeVar("T")
EMBEDDED_MODEL = "smollm2:135m"

HostOption = Annotated[
    str | None, typer.Option("--host", help="Ollama host(s), as OLLAMA_HOST; comma-separate for failover.")
]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help="Model name, e.g. qwen2.5-coder:7b.")]
ProfileOption = Annotated[str | None, typer.Option("--profile", "-p", help="Profile in configs/ (chat, coder, tiny).")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)  # "[extra]" is text
    return typer.Exit(code)


def _settings(host: str | None = None, model: str | None = None, profile: str | None = None) -> OllamaSettings:
    given = {"host": host, "model": model, "profile": profile}
    return _guard(lambda: OllamaSettings(**{key: value for key, value in given.items() if value is not None}))


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except OllamaError as exc:
        raise _fail(str(exc)) from None


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does.")] = False,
) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if version:
        console.print(f"ollama-integrations {__version__}")
        raise typer.Exit()


@app.command()
def doctor(
    host: HostOption = None,
    model: ModelOption = None,
    profile: ProfileOption = None,
    tools: Annotated[bool, typer.Option("--tools", help="Require the tools capability.")] = False,
    vision: Annotated[bool, typer.Option("--vision", help="Require the vision capability.")] = False,
) -> None:
    """Check every configured host and the configured model; print fixes. Exit 0 only when all is well."""
    from integrations.doctor import diagnose

    requires = tuple(name for name, wanted in (("tools", tools), ("vision", vision)) if wanted)
    report = _guard(lambda: diagnose(_settings(host, model, profile), requires=requires))
    for host_report in report.hosts:
        if not host_report.reachable:
            continue
        console.print(f"[bold]{host_report.host}[/] · Ollama {host_report.version}")
        if host_report.models:
            console.print(_models_table([(local, info) for local, info in host_report.models]))
        else:
            console.print("  no models pulled")
        loaded = ", ".join(f"{m.name} (ctx {m.context_length or '?'})" for m in host_report.running) or "none"
        console.print(f"  loaded: {loaded}")
    table = Table(title=f"model {report.settings.model}", show_header=True, header_style="bold")
    for column in ("host", "check", "", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for check in report.checks:
        mark = "[red]FAIL[/]" if not check.ok else "[yellow]warn[/]" if check.warning else "[green]ok[/]"
        table.add_row(check.host, check.name, mark, check.detail)
    console.print(table)
    if report.ok:
        console.print("[green]All checks passed.[/]")
        for check in report.checks:
            if check.warning and check.fix:
                console.print(f"  [yellow]note:[/] {check.fix}", highlight=False)
        return
    console.print("[bold]Fixes:[/]")
    for number, fix in enumerate(report.fixes, 1):
        console.print(f"  {number}. {fix}", highlight=False)
    raise typer.Exit(1)


def _models_table(rows: list[tuple[Any, Any]]) -> Table:
    table = Table(show_header=True, header_style="bold")
    for column in ("name", "size", "family", "parameters", "quantization", "capabilities", "context"):
        table.add_column(column, no_wrap=column in {"name", "size"})
    for local, info in rows:
        capabilities = sorted(info.capabilities) if info else list(local.capabilities)
        context = (info.context_length if info else None) or local.context_length
        table.add_row(
            local.name,
            _size(local.size),
            (info.family if info else None) or local.family or "",
            (info.parameter_size if info else None) or local.parameter_size or "",
            (info.quantization if info else None) or local.quantization or "",
            ", ".join(capabilities),
            str(context or ""),
        )
    return table


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(size)


@app.command()
def models(host: HostOption = None) -> None:
    """List the models pulled on the (first) host with their capabilities and context length."""
    from integrations import checks

    settings = _settings(host)
    listed: list[tuple[Any, Any]] = _guard(lambda: checks.describe_models(settings=settings))
    if not listed:
        console.print(f"No models on {settings.hosts[0].url}. Pull one with 'ollama-integrations pull MODEL'.")
        return
    console.print(_models_table(listed))


@app.command()
def pull(
    model: Annotated[list[str], typer.Argument(help="One or more model names.")],
    host: HostOption = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow plain HTTP or unverified registries.")] = False,
) -> None:
    """Pull models with progress per layer, on every configured host that answers. Interrupted pulls resume."""
    from integrations import checks

    settings = _settings(host)
    targets = _guard(lambda: checks.reachable_hosts(settings)) if len(settings.hosts) > 1 else [settings.hosts[0]]
    for name in model:
        for target in targets:
            where = f" on {target.url}" if len(targets) > 1 else ""
            try:
                with _progress(f"{name}{where}") as on_event:
                    checks.pull_model(name, on_progress=on_event, host=target, settings=settings, insecure=insecure)
            except KeyboardInterrupt:
                raise _fail(f"pull of {name!r} interrupted; run the same command again to resume", 130) from None
            except OllamaError as exc:
                raise _fail(str(exc)) from None
            console.print(f"[green]pulled[/] {name}{where}")


@contextlib.contextmanager
def _progress(name: str, *, transient: bool = False) -> Iterator[Callable[[Any], None]]:
    """A pull's progress callback that draws one task per layer digest."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, transient=transient) as progress:
        tasks: dict[str, TaskID] = {}
        status = progress.add_task(f"{name}: starting", total=None)

        def on_event(event: Any) -> None:
            if event.digest and event.total:
                task = tasks.get(event.digest)
                if task is None:
                    task = tasks[event.digest] = progress.add_task(event.digest.split(":")[-1][:12], total=event.total)
                progress.update(task, completed=event.completed or 0, total=event.total)
            else:
                progress.update(status, description=f"{name}: {event.status}")

        yield on_event


@app.command()
def warm(
    model: Annotated[str, typer.Argument(help="Model to load.")],
    host: HostOption = None,
    keep_alive: Annotated[str | None, typer.Option("--keep-alive", help="e.g. 10m, 1h, -1 (forever).")] = None,
) -> None:
    """Load a model into memory now, so the first agent turn does not wait; report the time taken."""
    from integrations import checks

    settings = _settings(host)
    warmed = _guard(lambda: checks.warm_model(model, keep_alive, settings=settings))
    context = f", context {warmed.context_length} tokens" if warmed.context_length else ""
    where = ", ".join(warmed.hosts) or settings.hosts[0].url
    console.print(f"[green]loaded[/] {model} on {where} in {warmed.seconds:.2f} s{context}")


@app.command()
def config(
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    host: HostOption = None,
    model: ModelOption = None,
    profile: ProfileOption = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Ask the server first.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print the API key unmasked.")] = False,
) -> None:
    """Print or write what the factories would build (OAI_CONFIG_LIST, env lines, ...); secrets masked."""
    from integrations.config_render import render_config, write_private

    settings = _settings(host, model, profile)
    text = _guard(lambda: render_config(format, settings, check=check, show_secrets=show_secrets))
    if output is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
        return
    _guard(lambda: write_private(output, text + "\n"))
    errors.print(f"wrote {output}", highlight=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    example: Annotated[str | None, typer.Argument(help="Example name, e.g. nvda-tsla.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the bundled examples.")] = False,
    model: ModelOption = None,
    host: HostOption = None,
    embedded: Annotated[
        bool, typer.Option(
            "--embedded",
            help=f"Start the embedded server for the run (model: the example's, else {EMBEDDED_MODEL}).",
        )
    ] = False,
    max_turns: Annotated[int | None, typer.Option("--max-turns", min=1, help="Bound the agent conversation.")] = None,
) -> None:
    """Run a bundled example; extra arguments go to the example (see 'run EXAMPLE --help').

    Examples running model-written code say what confines it; where writes cannot be, they ask (--yes accepts).
    """
    from integrations import runner

    if list_ or example is None:
        table = Table(show_header=True, header_style="bold")
        for column in ("example", "needs", "what it shows"):
            table.add_column(column)
        for item in _guard(runner.find_examples).values():
            table.add_row(item.name, item.needs, item.summary)
        console.print(table)
        return
    chosen = _guard(lambda: runner.resolve_example(example))
    if not embedded:
        _require_a_server(_settings(host, model))
    argv = list(ctx.args)
    if max_turns is not None:
        argv += ["--max-turns", str(max_turns)]
    with _server_for_run(embedded, host, model or (chosen.embedded_model if embedded else None)) as (
        run_host,
        run_model,
    ):
        if run_host is not None:
            argv += ["--host", run_host]
        if run_model is not None:
            argv += ["--model", run_model]
        if chosen.needs == "node":
            code = _run_node(chosen.path, run_host, run_model, list(ctx.args))
        else:
            main = _guard(lambda: runner.load_example(chosen))
            try:
                code = main(argv)
            except OllamaError as exc:
                hint = "" if embedded else " To run without Ollama, add --embedded."
                raise _fail(f"{exc}{hint}") from None
    if code:
        raise typer.Exit(code)


def _require_a_server(settings: OllamaSettings) -> None:
    """Fail before the example starts when no configured host answers, with the doctor's advice."""
    from integrations import checks

    try:
        checks.reachable_hosts(settings)
    except OllamaError as exc:
        raise _fail(f"{exc} Or add --embedded to run this example on the embedded server, no Ollama needed.") from None


@contextlib.contextmanager
def _server_for_run(embedded: bool, host: str | None, model: str | None) -> Iterator[tuple[str | None, str | None]]:
    if not embedded:
        yield host, model
        return
    from integrations import checks

    server_class = _guard(lambda: require("integrations.embedded", "embedded").EmbeddedServer)
    chosen = model or EMBEDDED_MODEL
    with _guarded_server(server_class) as server:
        errors.print(f"embedded Ollama-compatible server on {server.url} (model {chosen})", highlight=False)
        settings = _settings(server.url, chosen)
        with _progress(chosen, transient=True) as on_event:
            _guard(lambda: checks.ensure_model(chosen, pull=True, on_progress=on_event, settings=settings))
        yield server.url, chosen


@contextlib.contextmanager
def _guarded_server(factory: Any) -> Iterator[Any]:
    try:
        server = factory().start()
    except OllamaError as exc:
        raise _fail(str(exc)) from None
    try:
        yield server
    finally:
        server.stop()


def _run_node(path: Path, host: str | None, model: str | None, args: list[str]) -> int:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise _fail("this example needs Node.js and npm (https://nodejs.org); install them and run it again")
    from integrations.config_render import js_environment
    from integrations.runner import node_project

    folder = _guard(lambda: node_project(path.parent))
    if not (folder / "node_modules").is_dir():
        errors.print(f"installing the example's npm packages in {folder}", highlight=False)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, stdout=sys.stderr, check=False)
        if done.returncode:
            raise _fail(f"npm ci failed in {folder} (exit {done.returncode}); is the npm registry reachable?")
    env = {**os.environ, **js_environment(_settings(host, model))}
    return subprocess.run(["node", str(folder / path.name), *args], cwd=folder, env=env, check=False).returncode


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback unless --allow-remote.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 11434,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model to pull and load at start.")] = None,
    models_dir: Annotated[Path | None, typer.Option("--models-dir", help="Where pulled models live.")] = None,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow binding a non-loopback address (anyone on the network can use it)."),
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="llama.cpp engine: auto, xllamacpp (prebuilt) or llama-cpp (compiled); "
            "default: the engine setting (OLLAMA_INTEGRATIONS_ENGINE), auto.",
        ),
    ] = None,
) -> None:
    """Run the embedded Ollama-compatible server in the foreground (Ctrl-C stops it)."""
    run_server = _guard(lambda: require("integrations.embedded", "embedded").serve)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        run_server(host, port, models_dir, allow_remote=allow_remote, models=tuple(model or ()), engine=engine)
    except OllamaError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        errors.print("stopped")


@app.command()
def gateway(
    host: HostOption = None,
    model: ModelOption = None,
    profile: ProfileOption = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 4000,
    bind: Annotated[str, typer.Option("--bind", help="Loopback address to listen on.")] = "127.0.0.1",
    pull: Annotated[bool, typer.Option("--pull", help="Pull the model on hosts that lack it.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print a configured gateway key.")] = False,
) -> None:
    """Run the LiteLLM proxy in front of every configured host (needs the 'gateway' extra); Ctrl-C stops it."""
    from integrations.adapters.litellm import Gateway, client_environment

    settings = _settings(host, model, profile)
    proxy = _guard(lambda: Gateway(settings, host=bind, port=port, pull=pull or None))
    hosts = ", ".join(h.url for h in settings.hosts)
    errors.print(f"starting the LiteLLM proxy for {settings.model} over {hosts}", highlight=False)
    try:
        _guard(proxy.start)
        console.print(f"[green]LiteLLM gateway[/] on {proxy.url} (OpenAI: {proxy.base_url})", highlight=False)
        console.print("Point the factories at it (Ctrl-C stops it):", highlight=False)
        for name, value in client_environment(proxy).items():
            shown = "**********" if name.endswith("_KEY") and settings.gateway_key and not show_secrets else value
            console.print(f"  export {name}={shown}", highlight=False, soft_wrap=True)
        _guard(proxy.wait)
    except KeyboardInterrupt:
        errors.print("stopped")
    finally:
        proxy.stop()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
