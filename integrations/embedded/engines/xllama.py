"""The ``xllamacpp`` engine: the prebuilt llama.cpp server, one runner process per loaded model.

Each loaded model is a `Runner` (`integrations.embedded.engines.runner`): a child
process hosting llama.cpp's own server on a loopback port, guarded by a key
only this process knows. Requests go to it over HTTP (``/tokenize``,
``/completion`` streamed, ``/v1/embeddings``, ``/slots``); a runner that dies
(a signal, an abort in llama.cpp, the out-of-memory killer) fails the requests
it was serving with Ollama's ``llama runner process has terminated: ...`` and
takes nothing else down.

The model runs ``n_parallel`` slots, batched together by llama.cpp; each request
is pinned to a free slot by `SlotStates`, which picks the slot whose context
shares the longest prefix with the prompt, and saves a conversation that must
leave its slot to a file (llama.cpp's slot save/restore) so that it resumes
later without reading its prefix again, within a byte budget.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.embedded.engines import CacheStats, Emit, Engine, EngineModel, GenerationResult, LoadSpec
from integrations.embedded.engines.templates import render_chat_template
from integrations.embedded.protocol import ApiError, Options
from integrations.embedded.settings import child_environment

__all__ = ["Runner", "RunnerDied", "SlotStates", "XLlamaEngine", "XLlamaModel", "describe_exit"]

log = logging.getLogger("integrations.embedded")

LOAD_TIMEOUT = 300.0
"""Seconds a runner may take to load its model (Ollama's ``OLLAMA_LOAD_TIMEOUT`` default, 5 minutes)."""

MIN_GAIN = 16
"""A saved state is restored only when it saves more than this many tokens of reading."""

_SIGNALS = {
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGILL: "illegal instruction",
    signal.SIGBUS: "bus error",
    signal.SIGTERM: "terminated",
    signal.SIGFPE: "floating point exception",
}


def describe_exit(returncode: int) -> str:
    """A process's end in Go's words (``signal: killed``, ``exit status 1``), as Ollama reports it."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal: {-returncode}"
        return "signal: " + _SIGNALS.get(sig, signal.strsignal(sig) or sig.name).lower()
    return f"exit status {returncode}"


class RunnerDied(Exception):
    """The runner process ended; ``cause`` says how (and llama.cpp's last error line, when it printed one)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _package_root() -> str:
    import integrations

    return str(Path(integrations.__file__).resolve().parent.parent)


_ERROR_WORDS = ("error", "assert", "abort", "terminate", "failed", "exception", "what():")


class Runner:
    """One runner process: started with `start`, stopped with `stop`; `died` says whether and how it ended."""

    def __init__(self, config: dict[str, Any], label: str) -> None:
        self.label = label
        self.key = secrets.token_urlsafe(24)
        self._config = {**config, "api_key": self.key}
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._last_error = ""
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = LOAD_TIMEOUT) -> None:
        # GGML_NO_BACKTRACE: an abort ends the runner at once (ggml would attach a debugger first)
        env = child_environment({"GGML_NO_BACKTRACE": "1"}, path_first=_package_root())
        self.proc = proc = subprocess.Popen(
            [sys.executable, "-m", "integrations.embedded.engines.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        threading.Thread(target=self._read_stderr, name=f"runner-log-{proc.pid}", daemon=True).start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((json.dumps(self._config) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            pass  # it died already; reported below
        line = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise RunnerDied(f"timed out after {timeout:.0f} s loading the model")
                if sel.select(min(left, 0.5)):
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    line += chunk
                elif proc.poll() is not None:
                    break
        if not line.endswith(b"\n"):
            raise RunnerDied(self._death())
        try:
            address = str(json.loads(line)["address"])
        except (ValueError, KeyError, TypeError):
            self.stop(timeout=1)
            raise RunnerDied(f"the runner did not start: it said {line[:200]!r}") from None
        self.url = address if address.startswith("http") else f"http://{address}"
        log.info("runner %d serves %s on %s", proc.pid, self.label, self.url)

    def _read_stderr(self) -> None:
        proc = self.proc
        if proc is None or proc.stderr is None:
            return
        for raw in proc.stderr:
            text = raw.decode("utf-8", errors="replace").rstrip()
            if not text:
                continue
            self._lines.append(text)
            if any(w in text.lower() for w in _ERROR_WORDS):
                self._last_error = text
            log.debug("runner %d: %s", proc.pid, text)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def died(self, wait: float = 0.0) -> str | None:
        """None while the process runs (waiting up to ``wait`` s for it to end), else how it ended."""
        proc = self.proc
        if proc is None:
            return "not started"
        try:
            proc.wait(timeout=wait) if wait > 0 else None
        except subprocess.TimeoutExpired:
            return None
        if proc.poll() is None:
            return None
        return self._death()

    def _death(self) -> str:
        proc = self.proc
        assert proc is not None
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - it closed its pipes but lingers
            return "the runner stopped answering"
        time.sleep(0.05)  # let the log reader take llama.cpp's last words
        cause = describe_exit(code)
        return f"{cause}: {self._last_error.strip()}" if self._last_error else cause

    def stop(self, timeout: float = 5.0) -> None:
        """Close its stdin (it exits and returns its memory); kill it when it does not within ``timeout``."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def _config(spec: LoadSpec, *, embedding: bool, slot_dir: str = "") -> dict[str, Any]:
    return {
        "path": str(spec.path),
        "n_ctx": spec.n_ctx,
        "n_parallel": 1 if embedding else spec.n_parallel,
        "n_threads": spec.n_threads,
        "embedding": embedding,
        "slot_save_path": slot_dir,
    }


class XLlamaEngine(Engine):
    name = "xllamacpp"

    def load(self, spec: LoadSpec) -> XLlamaModel:
        return XLlamaModel(spec)

    def schema_grammar(self, schema: dict[str, Any] | None) -> str:
        import xllamacpp

        wanted = closed_objects(schema) if schema is not None else {"type": "object"}  # Ollama: "json" is an object
        wanted["x-guidance"] = _GUIDANCE
        try:
            return str(xllamacpp.json_schema_to_grammar(json.dumps(wanted)))
        except Exception as exc:  # the converter raises on schemas it cannot handle
            raise ApiError(400, f"unsupported JSON schema: {exc}") from None


# -- slots and saved prompt states -------------------------------------------------------------------------------


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class _Slot:
    id: int
    tokens: list[int] = field(default_factory=list)
    busy: bool = False
    used: float = 0.0


@dataclass
class _Saved:
    tokens: list[int]
    filename: str
    size: int
    used: float


class SlotStates(CacheStats):
    """The runner's slots (which conversation each holds) and the states saved for conversations that left one."""

    def __init__(self, n_slots: int, budget: int, directory: str) -> None:
        self.budget = max(0, budget)
        self.slots = [_Slot(i) for i in range(max(1, n_slots))]
        self.saved: list[_Saved] = []
        self.directory = directory
        self._cond = threading.Condition()
        self._serial = 0
        self.hits = 0
        self.switches = 0

    @property
    def size(self) -> int:
        with self._cond:
            return sum(s.size for s in self.saved)

    def __len__(self) -> int:
        with self._cond:
            return len(self.saved)

    def busy(self) -> int:
        with self._cond:
            return sum(1 for s in self.slots if s.busy)

    def take(self, prompt: list[int], cancel: threading.Event | None) -> tuple[_Slot, _Saved | None, bool]:
        """A free slot for ``prompt`` (waiting for one), the saved state to restore into it, and whether
        its present conversation must be saved first."""
        with self._cond:
            while True:
                free = [s for s in self.slots if not s.busy]
                if free:
                    break
                if cancel is not None and cancel.is_set():
                    raise _Cancelled
                self._cond.wait(0.1)
            slot = max(free, key=lambda s: (common_prefix(s.tokens, prompt), -s.used if s.tokens else 1.0))
            slot.busy = True
            live = common_prefix(slot.tokens, prompt)
            best = max(self.saved, key=lambda s: common_prefix(s.tokens, prompt), default=None)
            gain = common_prefix(best.tokens, prompt) if best is not None else 0
            restore = best if best is not None and gain >= live + MIN_GAIN else None
            if restore is not None:
                self.saved.remove(restore)  # it moves back into a slot
            save = self.budget > 0 and len(slot.tokens) - live >= MIN_GAIN
            if restore is not None or live:
                self.hits += 1
            return slot, restore, save

    def next_filename(self) -> str:
        with self._cond:
            self._serial += 1
            return f"state-{self._serial}.bin"

    def remember(self, tokens: list[int], filename: str) -> None:
        """A state was saved: keep it, drop states it extends, evict least recently used beyond the budget."""
        path = Path(self.directory, filename)
        try:
            size = path.stat().st_size
        except OSError:
            return
        dropped: list[str] = []
        with self._cond:
            keep = []
            for s in self.saved:
                if common_prefix(s.tokens, tokens) < len(s.tokens):
                    keep.append(s)
                else:
                    dropped.append(s.filename)
            keep.append(_Saved(tokens, filename, size, time.monotonic()))
            keep.sort(key=lambda s: s.used)
            while keep and sum(s.size for s in keep) > self.budget:
                dropped.append(keep.pop(0).filename)
            self.saved = keep
        for name in dropped:
            with contextlib.suppress(OSError):
                Path(self.directory, name).unlink()

    def give_back(self, slot: _Slot, tokens: list[int]) -> None:
        with self._cond:
            slot.tokens = tokens
            slot.busy = False
            slot.used = time.monotonic()
            self._cond.notify_all()

    def forget(self, filename: str) -> None:
        with contextlib.suppress(OSError):
            Path(self.directory, filename).unlink()


class _Cancelled(Exception):
    pass


# -- the model ----------------------------------------------------------------------------------------------------


class XLlamaModel(EngineModel):
    """A model served by its runner process."""

    def __init__(self, spec: LoadSpec) -> None:
        import httpx

        self.spec = spec
        self.n_ctx = spec.n_ctx
        self.lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="ollama-integrations-slots-")
        os.chmod(self._dir, 0o700)
        self.runner = Runner(_config(spec, embedding=False, slot_dir=self._dir), spec.path.name)
        self._embedder: Runner | None = None
        self._embed_http: Any = None
        self._dead: str | None = None
        self._closed = False
        try:
            self.runner.start()
        except BaseException as exc:
            self.runner.stop(timeout=1)
            shutil.rmtree(self._dir, ignore_errors=True)
            if isinstance(exc, RunnerDied):
                raise ApiError(500, f"llama runner process has terminated: {exc.cause}") from None
            raise
        self.http = httpx.Client(
            base_url=self.runner.url,
            headers={"Authorization": f"Bearer {self.runner.key}"},
            timeout=httpx.Timeout(None, connect=10.0),
            trust_env=False,
        )
        try:
            props = self._json("GET", "/props")
            models = self._json("GET", "/v1/models")
        except ApiError:
            self.close()
            raise
        self.bos_text = str(props.get("bos_token") or "")
        self.eos_text = str(props.get("eos_token") or "")
        meta = (models.get("data") or [{}])[0].get("meta") or {}
        self.n_vocab = int(meta.get("n_vocab") or 0)
        self.slots = SlotStates(spec.n_parallel, spec.cache_budget, self._dir)
        self.cache = self.slots

    # -- plumbing ----------------------------------------------------------

    def alive(self) -> bool:
        if self._dead is None and not self._closed:
            died = self.runner.died()
            if died is not None:
                self._dead = died
        return self._dead is None

    def _terminated(self) -> ApiError:
        """The error for a request the runner's death cut off (waits briefly for the process to be reaped)."""
        cause = self._dead or self.runner.died(wait=2.0)
        if cause is None:
            return ApiError(500, "the llama runner stopped answering")
        self._dead = cause
        return ApiError(500, f"llama runner process has terminated: {cause}")

    def _json(self, method: str, path: str, body: Any = None, http: Any = None) -> Any:
        import httpx

        client = http if http is not None else self.http
        try:
            r = client.request(method, path, json=body)
        except httpx.HTTPError:
            raise self._terminated() from None
        if r.status_code >= 400:
            raise _runner_error(r.status_code, r.text)
        return r.json()

    # -- prompts -------------------------------------------------------------

    def render(
        self, template: str | None, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> str:
        if not template:
            parts = [f"{t['role']}: {t['content']}" for t in turns]
            return "\n".join(parts) + "\nassistant: "
        return render_chat_template(template, turns, tools, self.bos_text, self.eos_text)

    def tokenize(self, text: str) -> list[int]:
        add_bos = not (self.bos_text and text.startswith(self.bos_text))
        out = self._json("POST", "/tokenize", {"content": text, "add_special": add_bos, "parse_special": True})
        return [int(t) for t in out["tokens"]]

    # -- generation ----------------------------------------------------------

    def generate(
        self,
        prompt_tokens: list[int],
        opts: Options,
        grammar: str | None,
        emit: Emit | None,
        cancel: threading.Event | None = None,
        logprobs: int | None = None,
    ) -> GenerationResult:
        result = GenerationResult()
        n_ctx = self.n_ctx
        if len(prompt_tokens) >= n_ctx - 1:
            keep = max(1, n_ctx // 2)
            prompt_tokens = prompt_tokens[-keep:]
        room = n_ctx - len(prompt_tokens)
        budget = room if opts.num_predict < 0 else min(opts.num_predict, room)
        result.prompt_eval_count = len(prompt_tokens)
        result.tokens = list(prompt_tokens)
        if budget <= 0:
            result.done_reason = "length"
            return result
        if not self.alive():
            raise self._terminated()
        start = time.perf_counter_ns()
        try:
            slot, restore, save = self.slots.take(prompt_tokens, cancel)
        except _Cancelled:
            result.prompt_eval_duration = 1
            return result
        generated: list[int] = []
        try:
            self._switch(slot, restore, save)
            body: dict[str, Any] = {
                "prompt": prompt_tokens,
                "id_slot": slot.id,
                "cache_prompt": True,
                "stream": True,
                "n_predict": budget,
                "temperature": opts.temperature,
                "top_k": opts.top_k,
                "top_p": opts.top_p,
                "min_p": opts.min_p,
                "typical_p": opts.typical_p,
                "repeat_penalty": opts.repeat_penalty,
                "presence_penalty": opts.presence_penalty,
                "frequency_penalty": opts.frequency_penalty,
                "stop": [s for s in opts.stop if s],
                "return_tokens": True,
            }
            if opts.seed is not None and opts.seed >= 0:
                body["seed"] = opts.seed
            if grammar:
                body["grammar"] = grammar
            if logprobs is not None:
                body["n_probs"] = max(1, logprobs)
            self._stream(body, result, generated, emit, cancel, logprobs, start)
        finally:
            self.slots.give_back(slot, list(prompt_tokens) + generated)
        result.tokens += generated
        return result

    def _switch(self, slot: _Slot, restore: _Saved | None, save: bool) -> None:
        """Save the slot's conversation when it is worth keeping, then restore ``restore`` into the slot."""
        if save:
            name = self.slots.next_filename()
            tokens = list(slot.tokens)
            try:
                self._json("POST", f"/slots/{slot.id}?action=save", {"filename": name})
            except ApiError as exc:
                if not self.alive():
                    raise
                log.debug("saving slot %d failed: %s", slot.id, exc.message)
            else:
                self.slots.remember(tokens, name)
        if restore is not None:
            try:
                self._json("POST", f"/slots/{slot.id}?action=restore", {"filename": restore.filename})
            except ApiError as exc:
                if not self.alive():
                    raise
                log.debug("restoring into slot %d failed: %s", slot.id, exc.message)
                slot.tokens = []
            else:
                slot.tokens = list(restore.tokens)
                self.slots.switches += 1
            finally:
                self.slots.forget(restore.filename)

    def _stream(
        self,
        body: dict[str, Any],
        result: GenerationResult,
        generated: list[int],
        emit: Emit | None,
        cancel: threading.Event | None,
        logprobs: int | None,
        start: int,
    ) -> None:
        import httpx

        pieces: list[str] = []
        scored: list[dict[str, Any]] = []
        first_at = 0
        final: dict[str, Any] = {}
        response: httpx.Response | None = None
        stop_watch = threading.Event()

        def watch() -> None:  # a client that left stops the runner's work at once, even mid-prompt
            assert cancel is not None
            while not stop_watch.is_set():
                if cancel.wait(0.05):
                    if response is not None:
                        with contextlib.suppress(Exception):
                            response.close()
                    return

        try:
            with self.http.stream("POST", "/completion", json=body) as response:
                if response.status_code >= 400:
                    raise _runner_error(response.status_code, response.read().decode("utf-8", "replace"))
                if cancel is not None:
                    threading.Thread(target=watch, daemon=True).start()
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        err = chunk["error"]
                        raise _runner_error(int(err.get("code", 500)), json.dumps({"error": err}))
                    if not first_at:
                        first_at = time.perf_counter_ns()
                    generated += [int(t) for t in chunk.get("tokens") or ()]
                    if logprobs is not None:
                        scored += [_logprob(p, logprobs) for p in chunk.get("completion_probabilities") or ()]
                    text = chunk.get("content") or ""
                    if text:
                        pieces.append(text)
                        result.logprobs += scored
                        if emit is not None:
                            emit(text, scored)
                        scored = []
                    if chunk.get("stop"):
                        final = chunk
                        break
                    if cancel is not None and cancel.is_set():
                        break
        except (httpx.HTTPError, OSError, ValueError) as exc:
            if cancel is not None and cancel.is_set():
                pass  # we closed it: the client went away
            elif isinstance(exc, httpx.HTTPError) or not self.alive():
                raise self._terminated() from None
            else:
                raise
        finally:
            stop_watch.set()
        result.logprobs += scored
        result.text = "".join(pieces)
        timings = final.get("timings") or {}
        result.eval_count = int(timings.get("predicted_n", len(generated)) or 0)
        cached = int(timings.get("cache_n", 0) or 0)
        result.prompt_cached = min(cached, max(len(body["prompt"]) - 1, 0))
        result.done_reason = "length" if final.get("stop_type") == "limit" else "stop"
        end = time.perf_counter_ns()
        if timings:
            result.prompt_eval_duration = max(int(float(timings.get("prompt_ms", 0)) * 1e6), 1)
            result.eval_duration = max(int(float(timings.get("predicted_ms", 0)) * 1e6), 1)
        else:
            first_at = first_at or end
            result.prompt_eval_duration = max(first_at - start, 1)
            result.eval_duration = max(end - first_at, 1)

    # -- embeddings ----------------------------------------------------------

    def embed(self, texts: Sequence[str], truncate: bool) -> tuple[list[list[float]], int]:
        """Mean-pooled, L2-normalised embeddings from a second runner in embedding mode, made on first use."""
        import httpx

        with self.lock:
            if self._embedder is None:
                runner = Runner(_config(self.spec, embedding=True), self.spec.path.name + " (embeddings)")
                try:
                    runner.start()
                except RunnerDied as exc:
                    raise ApiError(500, f"llama runner process has terminated: {exc.cause}") from None
                self._embedder = runner
                self._embed_http = httpx.Client(
                    base_url=runner.url,
                    headers={"Authorization": f"Bearer {runner.key}"},
                    timeout=httpx.Timeout(None, connect=10.0),
                    trust_env=False,
                )
            runner, http = self._embedder, self._embed_http
        limit = self.n_ctx
        batches: list[list[int]] = []
        for text in texts:
            tokens = self._embed_call(
                runner, http, "/tokenize", {"content": text, "add_special": True, "parse_special": False}
            )["tokens"]
            if len(tokens) > limit and not truncate:
                raise ApiError(400, "the input length exceeds the context length")
            batches.append([int(t) for t in tokens[:limit]])
        vectors: list[list[float]] = []
        for tokens in batches:  # one at a time: the runner reads each input in one batch of n_ctx
            out = self._embed_call(runner, http, "/v1/embeddings", {"input": [tokens], "encoding_format": "float"})
            vec = [float(x) for x in out["data"][0]["embedding"]]
            norm = math.sqrt(sum(x * x for x in vec)) or 1.0
            vectors.append([x / norm for x in vec])
        return vectors, sum(len(t) for t in batches)

    def _embed_call(self, runner: Runner, http: Any, path: str, body: Any) -> Any:
        import httpx

        try:
            r = http.post(path, json=body)
        except httpx.HTTPError:
            died = runner.died(wait=2.0)
            with self.lock:
                if self._embedder is runner:
                    self._embedder = None
            raise ApiError(500, f"llama runner process has terminated: {died or 'no answer'}") from None
        if r.status_code >= 400:
            raise _runner_error(r.status_code, r.text)
        return r.json()

    # -- unloading -----------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
            for client in (getattr(self, "http", None), self._embed_http):
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
            for runner in (self.runner, self._embedder):
                if runner is not None:
                    runner.stop()
            self._embedder = None
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        """The runner processes' ids (the chat runner first)."""
        return [r.pid for r in (self.runner, self._embedder) if r is not None]


def _logprob(entry: dict[str, Any], top: int) -> dict[str, Any]:
    out = {
        "token": str(entry.get("token", "")),
        "logprob": float(entry.get("logprob", 0.0)),
        "bytes": list(entry.get("bytes") or []),
    }
    alts = entry.get("top_logprobs") or []
    out["top_logprobs"] = (
        [
            {
                "token": str(a.get("token", "")),
                "logprob": float(a.get("logprob", 0.0)),
                "bytes": list(a.get("bytes") or []),
            }
            for a in alts[:top]
        ]
        if top > 0
        else []
    )
    return out


def _runner_error(status: int, text: str) -> ApiError:
    """llama.cpp's ``{"error": {"code", "message"}}`` as our error: its 4xx stay client errors."""
    try:
        err = json.loads(text).get("error", {})
        message = str(err.get("message") or text) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        message = text
    return ApiError(400 if 400 <= status < 500 else 500, message[:1000])


_GUIDANCE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
"""llguidance's JSON options: one spelling of whitespace (a small model otherwise indents without end)."""


def closed_objects(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on objects that list properties and say nothing else.

    llama.cpp's GBNF converter reads an absent ``additionalProperties`` as false;
    llguidance reads it as JSON Schema does (true). Both engines follow the first.
    """
    if isinstance(schema, list):
        return [closed_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed_objects(v) if k not in ("const", "enum", "default", "examples") else v for k, v in schema.items()}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: closed_objects(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in out and out.get("type", "object") in ("object", ["object"]):
            out["additionalProperties"] = False
    return out
