"""The framework-free code loop: scripted model replies, real confined runs (no model server).

Each reply below is what small models were seen to write; the programs really run through
`integrations.sandbox`, so what the loop decides follows from what the program did.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.coding import REPEATED, CodeLoop, describe_files, hint, named_outputs, python_blocks, system_message
from integrations.errors import ConfigError

SQUARES = "Write the squares of 1 to 12 to squares.txt, one per line."
GOOD = "```python\nwith open('squares.txt', 'w') as f:\n    f.write('\\n'.join(str(i * i) for i in range(1, 13)))\n```"
FAILING = "```python\nimport nothing_here_at_all\n```"


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


def test_code_and_terminate_in_one_reply_runs_the_code_first(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    step = loop.step(GOOD + "\nTERMINATE")
    assert (tmp_path / "squares.txt").read_text().split() == [str(i * i) for i in range(1, 13)]
    assert step.action == "stop" and loop.finished and loop.ending == "done"
    assert step.run is not None and step.run.exit_code == 0


def test_terminate_beside_failing_code_never_ends_the_chat(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    step = loop.step(FAILING + "\nTERMINATE")
    assert step.action == "continue" and not loop.finished
    assert step.message is not None and "ModuleNotFoundError" in step.message
    assert "Only the standard library" in step.message


def test_a_bare_terminate_does_not_end_an_unfinished_task(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    loop.step(FAILING)
    step = loop.step("TERMINATE")
    assert step.action == "continue" and not loop.finished


def test_a_filename_comment_does_not_turn_the_program_into_a_data_file(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Write the first 10 Fibonacci numbers to fib.txt, one per line.")
    reply = fence(
        "# filename: fib.txt\na, b = 0, 1\nout = []\nfor _ in range(10):\n    out.append(a)\n    a, b = b, a + b\n"
        "open('fib.txt', 'w').write('\\n'.join(map(str, out)))"
    )
    loop.step(reply)
    assert (tmp_path / "fib.txt").read_text().split() == ["0", "1", "1", "2", "3", "5", "8", "13", "21", "34"]
    assert loop.finished


def test_shell_blocks_are_not_run_and_the_model_is_told_to_send_python(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    step = loop.step("```sh\npython squares.py\n```")
    assert step.action == "continue" and not loop.runs
    assert step.message is not None and "only a ```python block is" in step.message and SQUARES in step.message


def test_a_missing_output_file_is_named_in_the_feedback(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    step = loop.step(fence("print([i * i for i in range(1, 13)])"))
    assert step.action == "continue" and not loop.finished
    assert step.message is not None and "did not write squares.txt" in step.message and "[1, 4, 9" in step.message


def test_input_files_staged_before_the_task_are_not_outputs(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x\n1\n2\n")
    loop = CodeLoop(tmp_path, task="Read data.csv and write the sum of x to sum.txt.")
    assert loop.outputs == ["sum.txt"]
    loop.step(fence("import csv\nrows = list(csv.DictReader(open('data.csv')))\nprint(len(rows))"))
    assert not loop.finished  # data.csv exists, but sum.txt is what was asked
    loop.step(
        fence(
            "import csv\ns = sum(int(r['x']) for r in csv.DictReader(open('data.csv')))\nopen('sum.txt','w').write(str(s))"
        )
    )
    assert loop.finished and (tmp_path / "sum.txt").read_text() == "3"


def test_without_named_files_a_clean_run_ends_only_when_the_model_confirms(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Print the 10th prime number.")
    step = loop.step(fence("print(29)"))
    assert step.action == "continue" and not loop.finished
    assert step.message is not None and "29" in step.message and "no code" in step.message
    assert loop.step("The 10th prime is 29.").action == "stop" and loop.finished


def test_a_confirmation_does_not_count_after_a_failed_run(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Print the 10th prime number.")
    loop.step(fence("print(29)"))
    loop.step(fence("raise SystemExit(3)"))
    assert loop.step("Done.").action == "continue" and not loop.finished


def test_the_callers_check_decides_and_its_words_reach_the_model(tmp_path: Path) -> None:
    def done(work_dir: Path, output: str) -> bool | str:
        path = work_dir / "out.json"
        if not path.exists():
            return "out.json is missing"
        return json.loads(path.read_text()) == {"answer": 42} or "out.json must hold {'answer': 42}"

    loop = CodeLoop(tmp_path, task="Write the answer to out.json.", done=done)
    step = loop.step(fence("import json\njson.dump({'answer': 41}, open('out.json', 'w'))"))
    assert step.message is not None and "out.json must hold {'answer': 42}" in step.message
    assert loop.step("It is done.").action == "continue"  # words never satisfy the check
    loop.step(fence("import json\njson.dump({'answer': 42}, open('out.json', 'w'))"))
    assert loop.finished


def test_a_resent_program_is_called_out(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES, fresh_after=10)
    first = loop.step(FAILING)
    again = loop.step("```python\nimport nothing_here_at_all  # try again\n```")
    assert first.message is not None and REPEATED not in first.message
    assert again.message is not None and again.message.startswith(REPEATED)


def test_after_three_failures_the_chat_starts_over_once(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES, max_replies=10)
    actions = [loop.step(fence(f"raise SystemExit({n})")).action for n in range(1, 8)]
    assert actions == ["continue", "continue", "fresh-start", "continue", "continue", "continue", "continue"]
    assert loop.fresh_starts == 1
    assert loop.attempts.repeated("raise SystemExit(3)") is False  # the fresh chat forgot the old programs


def test_the_fresh_opening_restates_the_task(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    for n in range(3):
        step = loop.step(fence(f"raise SystemExit({n + 1})"))
    assert step.action == "fresh-start" and step.message is not None and SQUARES in step.message


def test_replies_are_bounded(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES, max_replies=2)
    assert loop.step("I will think about it.").action == "continue"
    assert loop.step(FAILING).action == "stop"
    assert loop.ending == "max-replies" and not loop.finished
    assert loop.step(GOOD).action == "stop" and not (tmp_path / "squares.txt").exists()


def test_a_timed_out_program_is_stopped_and_the_hint_says_why(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES, timeout=1)
    step = loop.step(fence("import time\ntime.sleep(30)"))
    assert step.run is not None and step.run.timed_out
    assert step.message is not None and "stopped after 1 s" in step.message


def test_a_keyerror_on_a_csv_names_its_real_columns(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("region,amount\nnorth,3\n")
    loop = CodeLoop(tmp_path, task="Write the total amount of sales.csv to total.txt.")
    step = loop.step(fence("import csv\nrow = next(csv.DictReader(open('sales.csv')))\nprint(row['Amount'])"))
    assert step.message is not None and "sales.csv: region,amount" in step.message


def test_the_task_defaults_to_the_first_message(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path)
    loop.begin(SQUARES)
    assert loop.outputs == ["squares.txt"]
    loop.step(GOOD)
    assert loop.finished


def test_reset_forgets_the_conversation(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task=SQUARES)
    loop.step(GOOD)
    loop.reset()
    assert not loop.finished and loop.replies == 0 and not loop.runs


@pytest.mark.parametrize(("argument", "value"), [("max_replies", 0), ("timeout", 0)])
def test_bad_bounds_are_refused_with_the_value(tmp_path: Path, argument: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"{argument} .*{value}"):
        CodeLoop(tmp_path, **{argument: value})  # type: ignore[arg-type]


def test_the_system_message_shows_the_staged_files_first_lines(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("date,NVDA\n2025-01-02,138.31\n")
    (tmp_path / "code_0123456789abcdef.py").write_text("print(1)")
    text = system_message(tmp_path)
    assert "prices.csv (" in text and "date,NVDA" in text and "2025-01-02,138.31" in text
    assert "code_0123456789abcdef" not in text and "TERMINATE" not in text
    assert "code_0123" not in describe_files(tmp_path)


def test_python_blocks_joins_fences_and_skips_sample_output() -> None:
    reply = "```python\nx = 2\n```\nOutput:\n```\n4\n```\n```py\nprint(x * 2)\n```"
    assert python_blocks(reply) == ["x = 2", "print(x * 2)"]


def test_named_outputs_ignore_paths_and_repeats() -> None:
    assert named_outputs("Save plot.png, then plot.png again and /etc/passwd.txt") == ["plot.png"]


def test_a_wrong_output_is_shown_to_the_model_beside_the_callers_words(tmp_path: Path) -> None:
    def done(work_dir: Path, output: str) -> bool | str:
        return (work_dir / "squares.txt").read_text().split() == [str(i * i) for i in range(1, 13)] or "wrong numbers"

    loop = CodeLoop(tmp_path, task=SQUARES, done=done)
    step = loop.step(fence("open('squares.txt', 'w').write('\\n'.join(f'{i}^2' for i in range(1, 13)))"))
    assert step.message is not None and "wrong numbers" in step.message
    assert "squares.txt begins: 1^2 | 2^2 | 3^2 | 4^2 ..." in step.message


def test_a_backslash_in_an_f_string_gets_the_quoting_fix() -> None:
    # Python before 3.12 refuses backslashes inside an f-string's braces; small models write them often.
    output = "    print(f'{df[\\'NVDA\\'].iloc[-1]}')\nSyntaxError: f-string expression part cannot include a backslash"
    assert "other kind of quotes" in hint(output, 1, 60)


def test_a_forgotten_conventional_import_is_added_before_the_run(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Write the mean of 1, 2 and 6 to mean.txt.")
    step = loop.step(fence("m = np.mean([1, 2, 6])\nopen('mean.txt', 'w').write(str(m))"))
    assert step.run is not None and step.run.exit_code == 0, step.run.output if step.run else None
    assert step.run.code.startswith("import numpy as np\n") and loop.finished
    assert (tmp_path / "mean.txt").read_text() == "3.0"


def test_an_unknown_name_is_not_imported_for_the_model(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Write the mean to mean.txt.")
    step = loop.step(fence("print(sp.mean([1, 2]))"))
    assert step.run is not None and "NameError: name 'sp'" in step.run.output


def test_the_report_of_a_finished_loop_carries_the_programs_output(tmp_path: Path) -> None:
    loop = CodeLoop(tmp_path, task="Write 42 to answer.txt.")
    loop.step(fence("open('answer.txt', 'w').write('42')\nprint('wrote 42 to answer.txt')"))
    assert loop.finished and loop.report().startswith("Done") and "wrote 42 to answer.txt" in loop.report()


def test_replies_are_capped_unless_a_cap_is_set() -> None:
    from integrations.coding import MAX_TOKENS, reply_capped
    from integrations.settings import OllamaSettings

    assert reply_capped(OllamaSettings(check=False), {"seed": 1}) == {"seed": 1, "max_tokens": MAX_TOKENS}
    assert reply_capped(OllamaSettings(check=False, max_tokens=64), {}) == {}
    assert reply_capped(OllamaSettings(check=False), {"max_tokens": 32}) == {"max_tokens": 32}
