"""Tasks whose natural solution needs one standard-library function by its exact name."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from .checks import Task, Wrong, lines, load_json, program, rows, same, text


def _pairs(work_dir: Path) -> None:
    same(lines(work_dir, "pairs.txt"), ["a,b", "a,c", "a,d", "b,c", "b,d", "c,d"], "pairs.txt")


def _letters(work_dir: Path) -> None:
    same(load_json(work_dir, "letters.json"), {"m": 1, "i": 4, "s": 4, "p": 2}, "letters.json")


def _weekdays(work_dir: Path) -> None:
    found = rows(work_dir, "weekdays.csv", ("date", "weekday"))
    expected = [
        {"date": "2024-02-29", "weekday": "Thursday"},
        {"date": "2025-12-25", "weekday": "Thursday"},
        {"date": "2000-01-01", "weekday": "Saturday"},
    ]
    same(found, expected, "weekdays.csv's rows")


def _days(work_dir: Path) -> None:
    same(text(work_dir, "days.txt").strip(), "46", "days.txt")


def _hash(work_dir: Path) -> None:
    same(text(work_dir, "hash.txt").strip().lower(), hashlib.sha256(b"hello world").hexdigest(), "hash.txt")


CONFIG = {"name": "widget", "price": 9.5, "tags": ["a", "b"], "active": True}


def _config(work_dir: Path) -> None:
    found = text(work_dir, "config.json")
    same(json.loads(found), CONFIG, "config.json's data")
    same(
        found.rstrip("\n"), json.dumps(CONFIG, indent=2, sort_keys=True), "config.json's layout (indent 2, keys sorted)"
    )


def _zip(work_dir: Path) -> None:
    path = work_dir / "notes.zip"
    if not path.is_file():
        raise Wrong("notes.zip was not written")
    if not zipfile.is_zipfile(path):
        raise Wrong("notes.zip is not a zip archive")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        same(names, ["a.txt", "b.txt"], "the files in notes.zip")
        same(
            {n: archive.read(n).decode().strip() for n in names},
            {"a.txt": "alpha", "b.txt": "beta"},
            "the contents of notes.zip",
        )


def _dedupe(work_dir: Path) -> None:
    same(lines(work_dir, "unique.txt"), ["pear", "apple", "fig", "kiwi"], "unique.txt")


TASKS = [
    Task(
        name="combinations",
        kind="library",
        prompt=(
            "Write every 2-element combination of the letters a, b, c, d, in the order itertools.combinations "
            "gives them, to pairs.txt, one per line, written like a,b."
        ),
        outputs=("pairs.txt",),
        verify=_pairs,
        solution=program("""
            from itertools import combinations
            open("pairs.txt", "w").write("".join(",".join(p) + "\\n" for p in combinations("abcd", 2)))
        """),
        near_miss=program("""
            from itertools import permutations
            open("pairs.txt", "w").write("".join(",".join(p) + "\\n" for p in permutations("abcd", 2)))
        """),
    ),
    Task(
        name="letter_counts",
        kind="library",
        prompt=(
            "Count each letter of the word mississippi with collections.Counter and write the counts to "
            "letters.json as a JSON object from letter to count."
        ),
        outputs=("letters.json",),
        verify=_letters,
        solution=program("""
            import json
            from collections import Counter
            json.dump(Counter("mississippi"), open("letters.json", "w"))
        """),
        near_miss=program("""
            import json
            json.dump({c: 1 for c in "mississippi"}, open("letters.json", "w"))
        """),
    ),
    Task(
        name="weekdays",
        kind="library",
        prompt=(
            "For the dates 2024-02-29, 2025-12-25 and 2000-01-01, write weekdays.csv with csv.DictWriter: the "
            "header row date,weekday, then one row per date in this order, where weekday is the English day "
            "name (like Monday)."
        ),
        outputs=("weekdays.csv",),
        verify=_weekdays,
        solution=program("""
            import csv
            from datetime import date
            with open("weekdays.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=["date", "weekday"])
                w.writeheader()
                for d in ["2024-02-29", "2025-12-25", "2000-01-01"]:
                    w.writerow({"date": d, "weekday": date.fromisoformat(d).strftime("%A")})
        """),
        near_miss=program("""
            import csv
            from datetime import date
            names = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
            with open("weekdays.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=["date", "weekday"])
                w.writeheader()
                for d in ["2024-02-29", "2025-12-25", "2000-01-01"]:
                    w.writerow({"date": d, "weekday": names[date.fromisoformat(d).weekday()]})
        """),
    ),
    Task(
        name="days_between",
        kind="library",
        prompt="Write the number of days from 2024-01-15 to 2024-03-01 (a leap year), just the number, to days.txt.",
        outputs=("days.txt",),
        verify=_days,
        solution=program("""
            from datetime import date
            open("days.txt", "w").write(str((date(2024, 3, 1) - date(2024, 1, 15)).days))
        """),
        near_miss=program("""
            open("days.txt", "w").write(str(16 + 28 + 1))
        """),
    ),
    Task(
        name="sha256",
        kind="library",
        prompt='Write the SHA-256 hex digest of the UTF-8 text "hello world" (no newline) to hash.txt.',
        outputs=("hash.txt",),
        verify=_hash,
        solution=program("""
            import hashlib
            open("hash.txt", "w").write(hashlib.sha256("hello world".encode()).hexdigest())
        """),
        near_miss=program("""
            import hashlib
            open("hash.txt", "w").write(hashlib.sha256("hello world\\n".encode()).hexdigest())
        """),
    ),
    Task(
        name="json_layout",
        kind="library",
        prompt=(
            'Write the dictionary {"name": "widget", "price": 9.5, "tags": ["a", "b"], "active": true} to '
            "config.json with json.dump, indented by 2 spaces, with the keys sorted."
        ),
        outputs=("config.json",),
        verify=_config,
        solution=program("""
            import json
            data = {"name": "widget", "price": 9.5, "tags": ["a", "b"], "active": True}
            json.dump(data, open("config.json", "w"), indent=2, sort_keys=True)
        """),
        near_miss=program("""
            import json
            data = {"name": "widget", "price": 9.5, "tags": ["a", "b"], "active": True}
            json.dump(data, open("config.json", "w"), indent=2)
        """),
    ),
    Task(
        name="zip_archive",
        kind="library",
        prompt=(
            "Create the zip archive notes.zip holding two files: a.txt containing the text alpha and b.txt "
            "containing the text beta."
        ),
        outputs=("notes.zip",),
        verify=_zip,
        solution=program("""
            import zipfile
            with zipfile.ZipFile("notes.zip", "w") as z:
                z.writestr("a.txt", "alpha")
                z.writestr("b.txt", "beta")
        """),
        near_miss=program("""
            import zipfile
            open("a.txt", "w").write("alpha")
            with zipfile.ZipFile("notes.zip", "w") as z:
                z.write("a.txt")
        """),
    ),
    Task(
        name="dedupe_order",
        kind="library",
        prompt=(
            "Remove the duplicates from the list pear, apple, pear, fig, apple, kiwi, fig, keeping the first "
            "occurrence of each in the original order, and write the result to unique.txt, one per line."
        ),
        outputs=("unique.txt",),
        verify=_dedupe,
        solution=program("""
            items = ["pear", "apple", "pear", "fig", "apple", "kiwi", "fig"]
            open("unique.txt", "w").write("".join(x + "\\n" for x in dict.fromkeys(items)))
        """),
        near_miss=program("""
            items = ["pear", "apple", "pear", "fig", "apple", "kiwi", "fig"]
            open("unique.txt", "w").write("".join(x + "\\n" for x in sorted(set(items))))
        """),
    ),
]
