"""Remove a behaviour, run the tests named for it, and see them go red: a short list of hand-written mutants.

Each mutant is one exact edit that takes away a behaviour (a file, the text it
replaces, the replacement) and the tests that claim to check that behaviour. The
script copies the tree into a temporary directory per mutant, applies the edit
there, and runs only those tests with the copy first on ``PYTHONPATH``. A mutant
is *killed* when the tests fail and *survives* when they pass; a survivor names a
test that would not notice the behaviour going.

Run it from the checkout (it is not part of the test suite or CI: it runs many
model tests and takes about 20 minutes on two cores)::

    python tests/mutants.py                 # every mutant, then the table
    python tests/mutants.py --list          # names and tests only
    python tests/mutants.py cache decider   # the mutants whose names contain a word
    python tests/mutants.py --no-baseline   # skip the first run of all named tests on the unchanged tree

The baseline run checks that the named tests pass on the unchanged tree first; a
test that fails there kills every mutant without telling anything. Exit status:
0 when every mutant is killed, 1 when one survives or a run breaks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 1800
"""Seconds one mutant's tests may take before the run counts as broken (a mutant can make a test hang)."""


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


CORE = "tests/integration/embedded/test_embedded_core.py"
SLOTS = "tests/integration/embedded/test_prompt_cache.py"
DECIDER = "tests/integration/embedded/test_decider_model.py"
FRAMEWORKS = "tests/integration/test_frameworks_real.py"
TURNS = "tests/unit/examples/test_code_turns.py"

DECIDER_CASES = tuple(
    f"{DECIDER}::test_a_required_call_is_the_one_the_question_asks_for[{case}]"
    for case in ("tesla", "nvidia", "weather", "weather-by-description")
)

def _between(path: str, first: str, last: str) -> str:
    """The text of ``path`` from ``first`` to the end of the next ``last`` (a mutant that spans a block)."""
    text = (ROOT / path).read_text()
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return text[start:end]


XLLAMA_CANCEL_CHECKS = _between(
    "integrations/embedded/engines/xllama.py",
    "                if cancel is not None:\n                    threading.Thread(target=watch, daemon=True).start()\n",
    "                    if cancel is not None and cancel.is_set():\n                        break\n",
)
"""The prebuilt engine's two ways a generation stops for a client that left: the watcher and the per-chunk check."""

MUTANTS: tuple[Mutant, ...] = (
    # -- the nine of the review, and what they now catch --------------------------------------------
    Mutant(
        "cache: a saved state is never put back",
        "integrations/embedded/slots.py",
        "restored = int(llama_cpp.llama_state_seq_set_data(ctx, saved.data, saved.size, 0)) > 0",
        "restored = True",
        (f"{CORE}::test_a_resumed_conversation_answers_as_without_the_cache",),
    ),
    Mutant(
        "cache: the newest state is evicted instead of the least recently saved",
        "integrations/embedded/slots.py",
        "self._saved.pop(0)",
        "self._saved.pop()",
        (f"{SLOTS}::test_least_recently_saved_states_are_evicted_to_stay_within_the_budget",),
    ),
    Mutant(
        "cache: a state another extends is kept beside it",
        "integrations/embedded/slots.py",
        "self._saved = [s for s in self._saved if common_prefix(s.tokens, tokens) < len(s.tokens)]",
        "pass",
        (f"{SLOTS}::test_a_state_that_another_extends_is_superseded",),
    ),
    Mutant(
        "cache: a switch that saves only a few tokens is made anyway",
        "integrations/embedded/slots.py",
        "if best is None or best_prefix < live_prefix + MIN_GAIN:",
        "if best is None or best_prefix < live_prefix:",
        (f"{SLOTS}::test_a_saved_state_is_restored_only_when_it_saves_more_than_a_few_tokens",),
    ),
    Mutant(
        "cache: an interrupted conversation is not saved",
        "integrations/embedded/slots.py",
        "        if len(live) - live_prefix >= MIN_GAIN:\n            self.save(llm)",
        "        pass",
        (f"{SLOTS}::test_a_conversation_that_another_interrupts_is_saved_and_put_back",),
    ),
    Mutant(
        "cache: after a failed restore the context still claims the old tokens",
        "integrations/embedded/slots.py",
        "llm.reset()  # llama.cpp cleared the sequence",
        "pass  # llama.cpp cleared the sequence",
        (f"{SLOTS}::test_a_failed_restore_leaves_an_empty_context_and_drops_the_state",),
    ),
    Mutant(
        "decider: a required call is sampled after a bare 'Say hi.' instead of the conversation",
        "integrations/embedded/planning.py",
        "prompt = fitted(lambda ms: lm.tokenize(lm.render_chat(structured_turns(ms, lm.record.system),\n"
        "                                                                  tools=offered)))",
        'prompt = lm.tokenize(lm.render_chat([{"role": "user", "content": "Say hi."}]))',
        DECIDER_CASES,
    ),
    Mutant(
        "decider: the tools do not reach the template (the grammar alone knows them)",
        "integrations/embedded/planning.py",
        "            offered = template_tools(tools)\n",
        "            offered = None\n",
        DECIDER_CASES,
    ),
    Mutant(
        "crewai: a repaired call's argument values are lost",
        "integrations/_toolcalls.py",
        '"function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},',
        '"function": {"name": name, "arguments": json.dumps(dict.fromkeys(arguments, 2))},',
        (f"{FRAMEWORKS}::test_crewai_llm_tool_call",),
    ),
    Mutant(
        "cache (prebuilt engine): a saved slot is never restored",
        "integrations/embedded/engines/xllama.py",
        'self._json("POST", f"/slots/{slot.id}?action=restore", {"filename": restore.filename})',
        "pass",
        (f"{CORE}::test_a_resumed_conversation_answers_as_without_the_cache",),
    ),
    Mutant(
        "coding: a program sent again is not called out",
        "integrations/coding.py",
        'return f"{REPEATED}\\n{text}" if run.repeated else text',
        "return text",
        (
            "tests/unit/test_coding.py::test_a_resent_program_is_called_out",
            f"{TURNS}::test_a_program_sent_again_unchanged_is_called_out",
            f"{TURNS}::test_agentchat_calls_out_a_program_sent_again",
        ),
    ),
    Mutant(
        "coding: model code runs unconfined",
        "integrations/coding.py",
        '"confine": self.confine,',
        '"confine": False,',
        ("tests/unit/examples/test_code_confinement.py::test_generated_code_cannot_write_outside_the_work_dir",),
    ),
    Mutant(
        "coding: TERMINATE ends the chat before the reply's code runs",
        "integrations/coding.py",
        "        blocks = python_blocks(reply)\n        if blocks:",
        '        if "TERMINATE" in reply:\n            return self._stop("done")\n'
        "        blocks = python_blocks(reply)\n        if blocks:",
        (
            "tests/unit/test_coding.py::test_code_and_terminate_in_one_reply_runs_the_code_first",
            "tests/unit/test_coding.py::test_terminate_beside_failing_code_never_ends_the_chat",
            f"{TURNS}::test_code_followed_by_terminate_still_runs",
        ),
    ),
    Mutant(
        "coding: no fresh start after repeated failures",
        "integrations/coding.py",
        "and not self.fresh_starts and",
        "and False and",
        (
            "tests/unit/test_coding.py::test_after_three_failures_the_chat_starts_over_once",
            f"{TURNS}::test_after_three_failed_replies_the_chat_starts_over_once_from_a_clean_history",
            f"{TURNS}::test_agentchat_starts_over_once_after_three_failed_replies",
        ),
    ),
    Mutant(
        "coding: the default check ignores the files the task names",
        "integrations/coding.py",
        "        if missing:\n",
        "        if False:\n",
        (
            "tests/unit/test_coding.py::test_a_missing_output_file_is_named_in_the_feedback",
            "tests/unit/test_coding.py::test_input_files_staged_before_the_task_are_not_outputs",
        ),
    ),
    Mutant(
        "coding: forgotten conventional imports are not added",
        "integrations/coding.py",
        "            imports = missing_imports(code)\n",
        "            imports: list[str] = []\n",
        ("tests/unit/test_coding.py::test_a_forgotten_conventional_import_is_added_before_the_run",),
    ),
    Mutant(
        "group chat: a caption without the printed changes is accepted",
        "examples/group_chat.py",
        "return f\"the caption must give {' and '.join(missing)}\" if missing else None",
        "return None",
        ("tests/unit/examples/test_group_chat.py",),
    ),
    Mutant(
        "factories: AG2's entries carry no model",
        "integrations/adapters/ag2.py",
        '"model": target.model,',
        '"model": None,',
        ("tests/unit/test_factories.py::test_contract",),
    ),
    Mutant(
        "factories: AG2's entries name only the first host",
        "integrations/adapters/ag2.py",
        "        for host in target.openai_hosts\n",
        "        for host in target.openai_hosts[:1]\n",
        ("tests/unit/test_factories.py::test_contract",),
    ),
    Mutant(
        "openai: response_format json_object is ignored",
        "integrations/embedded/openai_compat.py",
        'if kind == "json_object":\n        return "json"',
        'if kind == "json_object":\n        return None',
        ("tests/integration/embedded/test_embedded_openai_sdk.py::test_json_object_response_format",),
    ),
    Mutant(
        "plumbing: a LangChain tool round trip on the test model loses its marker",
        FRAMEWORKS,
        "@pytest.mark.plumbing\ndef test_chat_ollama_tool_round_trip(",
        "def test_chat_ollama_tool_round_trip(",
        (f"{FRAMEWORKS}::test_chat_ollama_tool_round_trip",),
    ),
    Mutant(
        "plumbing: the ollama client's tool round trip loses its marker",
        "tests/integration/embedded/test_embedded_ollama_client.py",
        "@pytest.mark.plumbing\ndef test_chat_tools_auto_calls_then_answers_after_tool_result(",
        "def test_chat_tools_auto_calls_then_answers_after_tool_result(",
        (
            "tests/integration/embedded/test_embedded_ollama_client.py::test_chat_tools_auto_calls_then_answers_after_tool_result",
        ),
    ),
    Mutant(
        "names: a model or tag part may be '..'",
        "integrations/names.py",
        '_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")',
        '_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,79}")',
        ("tests/reliability/test_bad_input.py::test_fuzzed_model_names_parse_or_raise_config_error",),
    ),
    Mutant(
        "names: a namespace part may be '..'",
        "integrations/names.py",
        '_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")',
        '_NAMESPACE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,79}")',
        ("tests/reliability/test_bad_input.py::test_fuzzed_model_names_parse_or_raise_config_error",),
    ),
    # -- the three "also seen", whose expected values came from the code under test -----------------
    Mutant(
        "config: LangChain's printed config and ChatOpenAI lose the retries",
        "integrations/adapters/langchain.py",
        '        "timeout": target.settings.timeout,\n        "max_retries": target.settings.max_retries,',
        '        "timeout": target.settings.timeout,\n        "max_retries": 0,',
        ("tests/unit/test_config_render.py::test_langchain_format_is_what_chat_openai_gets",),
    ),
    Mutant(
        "sandbox: the Landlock ABI is reported as at most 1",
        "integrations/sandbox.py",
        "return max(int(version), 0)",
        "return min(max(int(version), 0), 1)",
        ("tests/unit/test_sandbox.py::test_confinement_reports_what_this_machine_offers",),
    ),
    Mutant(
        "options: num_thread is capped at every CPU, not the ones this process may use",
        "integrations/embedded/protocol.py",
        "return max(1, len(os.sched_getaffinity(0)))",
        "return max(1, os.cpu_count() or 1)",
        ("tests/unit/embedded/test_option_limits.py::test_num_thread_is_lowered_to_the_cpus_this_process_may_use",),
    ),
    # -- the strongest existing tests, kept honest ---------------------------------------------------
    Mutant(
        "repair: a fenced json block is not read as a call",
        "integrations/_toolcalls.py",
        "inner = _unfenced(text) if text.startswith(_FENCE) else text",
        "inner = text",
        ("tests/unit/test_tool_call_repair.py",),
    ),
    Mutant(
        "repair: a call to a tool that was not offered is accepted",
        "integrations/_toolcalls.py",
        "if not isinstance(name, str) or name not in tools:\n            return None",
        "if not isinstance(name, str):\n            return None\n        if name not in tools:\n"
        "            schemas = None  # read as offered, its arguments unchecked",
        ("tests/unit/test_tool_call_repair.py",),
    ),
    Mutant(
        "repair: prose after a fenced call keeps the call text",
        "integrations/_toolcalls.py",
        "    span = _fenced_after_lead_in(text, tools)\n",
        "    span = None\n",
        ("tests/unit/test_tool_call_repair.py", "tests/unit/test_tool_call_wire.py"),
    ),
    Mutant(
        "repair: a report after a tool result calls the tool again",
        "integrations/_toolcalls.py",
        "    span = _fenced_after_lead_in(text, tools)\n",
        "    span = _fenced_after_lead_in(text, dict(tools))\n",  # a plain dict: not answering
        ("tests/unit/test_tool_call_repair.py",),
    ),
    Mutant(
        "repair: a report after a tool result is held to its end",
        "integrations/_toolcalls.py",
        "span = _fenced_after_lead_in(self.text, self.tools, held_from=self.sent)",
        "span = _fenced_after_lead_in(self.text, dict(self.tools), held_from=self.sent)",
        ("tests/unit/test_tool_call_repair.py",),
    ),
    Mutant(
        "sandbox: descendants that left the process group are not killed",
        "integrations/sandbox.py",
        "                os.kill(pid, signal.SIGKILL)",
        "                pass",
        (
            "tests/unit/test_sandbox.py::test_a_timeout_kills_every_process_the_code_started",
            "tests/unit/test_sandbox.py::test_processes_left_behind_by_a_finished_block_are_killed",
        ),
    ),
    Mutant(
        "decider: a tool result's content never reaches the template",
        "integrations/embedded/prompting.py",
        'turn: dict[str, Any] = {"role": m.role, "content": m.content}',
        'turn: dict[str, Any] = {"role": m.role, "content": "" if m.role == "tool" else m.content}',
        (
            f"{DECIDER}::test_a_tool_result_reaches_the_models_template",
            f"{DECIDER}::test_after_a_tool_result_the_model_answers_from_it",
        ),
    ),
    Mutant(
        "server: a client that leaves does not cancel its generation",
        "integrations/embedded/bridge.py",
        "                yield item\n        finally:\n            self.cancel.set()",
        "                yield item\n        finally:\n            pass",
        ("tests/integration/embedded/test_embedded_robustness.py::test_client_disconnect_stops_generation",),
    ),
    Mutant(
        "server: a cancelled generation samples on to its token budget",
        "integrations/embedded/engines/xllama.py",
        XLLAMA_CANCEL_CHECKS,
        XLLAMA_CANCEL_CHECKS.replace(
            "                if cancel is not None:\n                    threading.Thread(target=watch, daemon=True).start()\n",
            "",
        ).replace("                    if cancel is not None and cancel.is_set():\n                        break\n", ""),
        ("tests/integration/embedded/test_embedded_robustness.py::test_client_disconnect_stops_generation",),
    ),
    Mutant(
        "server: stop sequences are ignored",
        "integrations/embedded/engines/xllama.py",
        '"stop": [s for s in opts.stop if s],',
        '"stop": [],',
        ("tests/integration/embedded/test_embedded_openai_sdk.py::test_stop_sequence",),
    ),
    Mutant(
        "hosts: a scheme's own port is not the default",
        "integrations/hosts.py",
        "default_port = _SCHEME_PORTS[scheme] if sep else DEFAULT_PORT",
        "default_port = DEFAULT_PORT",
        ("tests/unit/test_hosts.py::test_agrees_with_the_official_client",),
    ),
    Mutant(
        "hosts: a path after the host is dropped",
        "integrations/hosts.py",
        'path = split.path.strip("/")',
        'path = ""',
        ("tests/unit/test_hosts.py::test_agrees_with_the_official_client",),
    ),
)


def _copy_tree(target: Path) -> None:
    """The checkout's files (tracked and new, not ignored), as they are on disk now."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _apply(tree: Path, mutant: Mutant) -> None:
    path = tree / mutant.path
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name!r}: the text to replace occurs {count} times in {mutant.path}, not once")
    path.write_text(text.replace(mutant.old, mutant.new))


def _pytest(tree: Path, tests: list[str], log: Path) -> tuple[int, float]:
    """Run ``tests`` in ``tree`` (first on the path); the exit status (-1: timed out) and seconds."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    started = time.monotonic()
    with log.open("w") as out:
        try:
            status = subprocess.run(
                command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            status = -1
    return status, time.monotonic() - started


def _outcome(status: int) -> str:
    # pytest: 0 all passed, 1 some failed; anything else (interrupted, usage error, no tests) is a broken run
    return {0: "survived", 1: "killed"}.get(status, "timed out" if status < 0 else f"error ({status})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="*", help="run only the mutants whose names contain one of these words")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the named tests unchanged")
    parser.add_argument("--keep", action="store_true", help="keep the mutated trees and logs (printed)")
    args = parser.parse_args(argv)

    chosen = [m for m in MUTANTS if not args.words or any(w.lower() in m.name.lower() for w in args.words)]
    if args.list:
        for m in chosen:
            print(f"{m.name}\n  {m.path}\n  " + "\n  ".join(m.tests))
        return 0
    if not chosen:
        print("no mutant matches", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="mutants-"))
    try:
        if not args.no_baseline:
            tree = work / "baseline"
            _copy_tree(tree)
            tests = sorted({t for m in chosen for t in m.tests})
            status, seconds = _pytest(tree, tests, work / "baseline.log")
            print(
                f"baseline: {len(tests)} tests on the unchanged tree: "
                f"{'passed' if status == 0 else 'FAILED'} in {seconds:.0f} s",
                flush=True,
            )
            if status != 0:
                print((work / "baseline.log").read_text()[-3000:], file=sys.stderr)
                return 1
        rows = []
        for i, mutant in enumerate(chosen, 1):
            tree = work / f"m{i}"
            _copy_tree(tree)
            _apply(tree, mutant)
            status, seconds = _pytest(tree, list(mutant.tests), work / f"m{i}.log")
            rows.append((mutant, _outcome(status), seconds))
            print(f"[{i}/{len(chosen)}] {_outcome(status):9} {seconds:5.0f} s  {mutant.name}", flush=True)
            if status != 1:  # a survivor or a broken run: show how the tests ended
                print("    " + "\n    ".join((work / f"m{i}.log").read_text().splitlines()[-15:]), flush=True)
            if not args.keep:
                shutil.rmtree(tree, ignore_errors=True)
        width = max(len(m.name) for m, _, _ in rows)
        print(f"\n{'mutant':{width}}  {'outcome':9}  seconds  tests")
        for mutant, outcome, seconds in rows:
            print(f"{mutant.name:{width}}  {outcome:9}  {seconds:7.0f}  {len(mutant.tests)}")
        killed = sum(outcome == "killed" for _, outcome, _ in rows)
        print(f"\n{killed} of {len(rows)} killed; survivors and broken runs:")
        for i, (mutant, outcome, _) in enumerate(rows, 1):
            if outcome != "killed":
                print(f"  {mutant.name}: {outcome}" + (f" (log: {work / f'm{i}.log'})" if args.keep else ""))
        return 0 if killed == len(rows) else 1
    finally:
        if args.keep:
            print(f"trees and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
