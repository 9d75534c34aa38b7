"""Text processing whose result goes to a JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import Task, Wrong, load_json, program, same

PARAGRAPH = (
    "Our team trains a small model on data from old sensors. That small model reads data every hour and "
    "writes one report. When data arrives late, our model waits, and any small delay in data makes "
    "everything slow. Clean data helps more than a bigger model would."
)
"""The top three are data 5, model 4, small 3 however a program splits or cases the words (a unit test checks)."""
TOP = {"data": 5, "model": 4, "small": 3}


def pairs(found: Any) -> dict[str, Any]:
    """Word-to-count pairs from the shapes a user accepts: an object, a list of pairs, a list of objects."""
    if isinstance(found, dict) and len(found) == 1 and isinstance(next(iter(found.values())), (list, dict)):
        found = next(iter(found.values()))  # {"top": [...]}
    if isinstance(found, dict):
        return dict(found)
    if isinstance(found, list):
        out: dict[str, Any] = {}
        for item in found:
            if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
                out[item[0]] = item[1]
            elif isinstance(item, dict):
                words = [v for v in item.values() if isinstance(v, str)]
                counts = [v for v in item.values() if isinstance(v, int) and not isinstance(v, bool)]
                if len(words) != 1 or len(counts) != 1:
                    raise Wrong(f"top.json item {item!r} is not one word with one count")
                out[words[0]] = counts[0]
            else:
                raise Wrong(f"top.json item {item!r} is not a word with its count")
        return out
    raise Wrong(f"top.json holds a {type(found).__name__}, not words with counts")


def _top(work_dir: Path) -> None:
    found = pairs(load_json(work_dir, "top.json"))
    same({k.lower().strip(): v for k, v in found.items()}, TOP, "the words and counts in top.json")


MESSAGE = (
    "Hi team, the invoices went to billing@acme.example and a copy to ana.lopez@acme.example. "
    "Questions about the contract: legal@partner.example (not ana.lopez@acme.example, she is away). "
    "Reply to billing@acme.example by Friday."
)
EMAILS = ["ana.lopez@acme.example", "billing@acme.example", "legal@partner.example"]


def _emails(work_dir: Path) -> None:
    same(load_json(work_dir, "emails.json"), EMAILS, "emails.json")


LOG = """2024-05-01 10:00:01 INFO server started
2024-05-01 10:00:05 INFO listening on port 8080
2024-05-01 10:01:12 WARNING slow response from db (1200 ms)
2024-05-01 10:02:30 ERROR payment failed for order 1182
2024-05-01 10:02:31 INFO retrying order 1182
2024-05-01 10:03:00 ERROR payment failed for order 1182
2024-05-01 10:05:44 WARNING cache miss rate above 50% (INFO: check size)
2024-05-01 10:07:10 INFO order 1183 paid
"""
LEVELS = {"INFO": 4, "WARNING": 2, "ERROR": 2}


def _levels(work_dir: Path) -> None:
    same(load_json(work_dir, "levels.json"), LEVELS, "levels.json")


def _vowels(work_dir: Path) -> None:
    same(
        load_json(work_dir, "vowels.json"),
        {"banana": 3, "sky": 0, "queue": 4, "rhythm": 0, "avocado": 4},
        "vowels.json",
    )


TASKS = [
    Task(
        name="top_words",
        kind="text",
        prompt=(
            "Write the three most common words of this paragraph, with their counts, to top.json as a JSON "
            f"object from word to count.\n\n{PARAGRAPH}"
        ),
        outputs=("top.json",),
        verify=_top,
        solution=program(f"""
            import json, re
            from collections import Counter
            text = {PARAGRAPH!r}
            json.dump(dict(Counter(re.findall(r"[a-z]+", text.lower())).most_common(3)), open("top.json", "w"))
        """),
        near_miss=program(f"""
            import json
            from collections import Counter
            text = {PARAGRAPH!r}
            json.dump(dict(Counter(text.split()).most_common(4)), open("top.json", "w"))
        """),
    ),
    Task(
        name="emails",
        kind="text",
        prompt=(
            "Extract every distinct email address from this message and write them to emails.json as a JSON "
            f"list of strings, sorted alphabetically.\n\n{MESSAGE}"
        ),
        outputs=("emails.json",),
        verify=_emails,
        solution=program(f"""
            import json, re
            text = {MESSAGE!r}
            found = sorted(set(re.findall(r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+", text)))
            json.dump(found, open("emails.json", "w"))
        """),
        near_miss=program(f"""
            import json, re
            text = {MESSAGE!r}
            json.dump(re.findall(r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+", text), open("emails.json", "w"))
        """),
    ),
    Task(
        name="log_levels",
        kind="text",
        prompt=(
            "app.log has one event per line: date, time, level (INFO, WARNING or ERROR), then the message. "
            'Count the lines of each level and write the counts to levels.json, like {"INFO": 1, "WARNING": 2, '
            '"ERROR": 3}.'
        ),
        outputs=("levels.json",),
        verify=_levels,
        inputs={"app.log": LOG},
        solution=program("""
            import json
            from collections import Counter
            counts = Counter(line.split()[2] for line in open("app.log") if line.strip())
            json.dump({k: counts[k] for k in ("INFO", "WARNING", "ERROR")}, open("levels.json", "w"))
        """),
        near_miss=program("""
            import json
            text = open("app.log").read()
            json.dump({k: text.count(k) for k in ("INFO", "WARNING", "ERROR")}, open("levels.json", "w"))
        """),
    ),
    Task(
        name="vowel_counts",
        kind="text",
        prompt=(
            "For each of the words banana, sky, queue, rhythm and avocado, count its vowels (a, e, i, o, u) and "
            "write the result to vowels.json as a JSON object from word to count."
        ),
        outputs=("vowels.json",),
        verify=_vowels,
        solution=program("""
            import json
            words = ["banana", "sky", "queue", "rhythm", "avocado"]
            json.dump({w: sum(c in "aeiou" for c in w) for w in words}, open("vowels.json", "w"))
        """),
        near_miss=program("""
            import json
            words = ["banana", "sky", "queue", "rhythm", "avocado"]
            json.dump({w: sum(c in "aeiouy" for c in w) for w in words}, open("vowels.json", "w"))
        """),
    ),
]
