"""Tasks on a CSV file staged in the work directory, and statistics written to a file."""

from __future__ import annotations

from pathlib import Path

from .checks import Task, Wrong, close, load_json, number, program, rows, same, text

SALES = """region,units,price
north,12,2.50
south,7,3.00
east,20,1.25
north,3,4.00
west,9,2.00
south,5,3.50
east,4,2.75
"""
REVENUE = {"east": 36.0, "north": 42.0, "south": 38.5, "west": 18.0}


def _revenue(work_dir: Path) -> None:
    found = rows(work_dir, "revenue.csv", ("region", "revenue"))
    same([r["region"] for r in found], sorted(REVENUE), "revenue.csv's regions, in order")
    for row in found:
        close(
            number(row["revenue"], f"{row['region']}'s revenue"), REVENUE[row["region"]], f"{row['region']}'s revenue"
        )


PEOPLE = """name,age,city
Alice,34,Paris
Bruno,29,Paris
Chloe,41,Lyon
David,52,Paris
Emma,31,Paris
Farid,30,Paris
Greta,45,Berlin
"""


def _paris(work_dir: Path) -> None:
    found = [line.strip() for line in text(work_dir, "paris.txt").splitlines() if line.strip()]
    same(found, ["Alice", "David", "Emma"], "the names in paris.txt")


TEMPERATURES = """date,temp_c
2024-07-01,24.5
2024-07-02,27.1
2024-07-03,31.8
2024-07-04,29.9
2024-07-05,33.4
2024-07-06,30.2
2024-07-07,26.0
"""


def _hottest(work_dir: Path) -> None:
    same(text(work_dir, "hottest.txt").strip(), "2024-07-05", "hottest.txt")


INVENTORY = """name,qty
bolt,120
nut,75
washer,300
screw,0
"""


def _inventory(work_dir: Path) -> None:
    found = load_json(work_dir, "inventory.json")
    expected = [
        {"name": "bolt", "qty": 120},
        {"name": "nut", "qty": 75},
        {"name": "washer", "qty": 300},
        {"name": "screw", "qty": 0},
    ]
    if not isinstance(found, list):
        raise Wrong(f"inventory.json holds a {type(found).__name__}, not a list")
    for item in found:
        if not isinstance(item, dict) or not isinstance(item.get("qty"), int) or isinstance(item.get("qty"), bool):
            raise Wrong(f"inventory.json item {item!r} has no integer qty")
    same(found, expected, "inventory.json")


SCORES = """student,class,score
ana,A,78
ben,B,91
cai,A,85
dia,B,66
eli,A,90
fay,C,72
gus,B,80
"""
MEANS = {"A": 84.33, "B": 79.0, "C": 72.0}


def _means(work_dir: Path) -> None:
    found = load_json(work_dir, "means.json")
    if not isinstance(found, dict):
        raise Wrong(f"means.json holds a {type(found).__name__}, not an object")
    same(sorted(found), sorted(MEANS), "the classes in means.json")
    for key, value in MEANS.items():
        what = f"means.json's mean of class {key}"
        close(number(found[key], what), value, what)


NUMBERS = "4, 8, 15, 16, 23, 42"


def _stats(work_dir: Path) -> None:
    found = load_json(work_dir, "stats.json")
    if not isinstance(found, dict) or not {"median", "stdev"} <= set(found):
        raise Wrong(f"stats.json has no keys median and stdev: {str(found)[:100]}")
    close(number(found["median"], "stats.json's median"), 15.5, "stats.json's median")
    close(number(found["stdev"], "stats.json's stdev"), 13.4907, "stats.json's stdev")


POEM = """The wind goes by the open door,
it counts the dust upon the floor.
Nobody answers, nobody comes;
the kettle sings, the clock just hums.
"""


def _counts(work_dir: Path) -> None:
    found = load_json(work_dir, "counts.json")
    if not isinstance(found, dict):
        raise Wrong(f"counts.json holds a {type(found).__name__}, not an object")
    expected = {"lines": 4, "words": len(POEM.split()), "chars": len(POEM)}
    same({k: found.get(k) for k in expected}, expected, "counts.json")


TASKS = [
    Task(
        name="csv_revenue",
        kind="csv",
        prompt=(
            "sales.csv has columns region, units and price. Compute the total revenue (units times price) of "
            "each region and write it to revenue.csv with the header region,revenue, one row per region, "
            "sorted by region."
        ),
        outputs=("revenue.csv",),
        verify=_revenue,
        inputs={"sales.csv": SALES},
        solution=program("""
            import csv
            from collections import defaultdict
            total = defaultdict(float)
            with open("sales.csv", newline="") as f:
                for row in csv.DictReader(f):
                    total[row["region"]] += int(row["units"]) * float(row["price"])
            with open("revenue.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["region", "revenue"])
                for region in sorted(total):
                    w.writerow([region, round(total[region], 2)])
        """),
        near_miss=program("""
            import pandas as pd
            df = pd.read_csv("sales.csv")
            df["revenue"] = df["units"] * df["price"]
            df[["region", "revenue"]].to_csv("revenue.csv", index=False)
        """),
    ),
    Task(
        name="csv_filter",
        kind="csv",
        prompt=(
            "people.csv has columns name, age and city. Write the names of the people older than 30 who live "
            "in Paris to paris.txt, one name per line, in the order of the file."
        ),
        outputs=("paris.txt",),
        verify=_paris,
        inputs={"people.csv": PEOPLE},
        solution=program("""
            import csv
            with open("people.csv", newline="") as f:
                names = [r["name"] for r in csv.DictReader(f) if int(r["age"]) > 30 and r["city"] == "Paris"]
            with open("paris.txt", "w") as f:
                f.write("\\n".join(names) + "\\n")
        """),
        near_miss=program("""
            import csv
            with open("people.csv", newline="") as f:
                names = [r["name"] for r in csv.DictReader(f) if int(r["age"]) >= 30 and r["city"] == "Paris"]
            with open("paris.txt", "w") as f:
                f.write("\\n".join(names) + "\\n")
        """),
    ),
    Task(
        name="csv_hottest",
        kind="csv",
        prompt=(
            "temperatures.csv has columns date and temp_c. Write the date of the highest temperature, and "
            "nothing else, to hottest.txt."
        ),
        outputs=("hottest.txt",),
        verify=_hottest,
        inputs={"temperatures.csv": TEMPERATURES},
        solution=program("""
            import pandas as pd
            df = pd.read_csv("temperatures.csv")
            open("hottest.txt", "w").write(df.loc[df["temp_c"].idxmax(), "date"])
        """),
        near_miss=program("""
            import pandas as pd
            df = pd.read_csv("temperatures.csv")
            open("hottest.txt", "w").write(str(df["temp_c"].max()))
        """),
    ),
    Task(
        name="csv_to_json",
        kind="csv",
        prompt=(
            "Convert inventory.csv (columns name and qty) to inventory.json: a JSON list with one object per "
            'row, in the order of the file, each with the keys "name" (a string) and "qty" (an integer).'
        ),
        outputs=("inventory.json",),
        verify=_inventory,
        inputs={"inventory.csv": INVENTORY},
        solution=program("""
            import csv, json
            with open("inventory.csv", newline="") as f:
                items = [{"name": r["name"], "qty": int(r["qty"])} for r in csv.DictReader(f)]
            with open("inventory.json", "w") as f:
                json.dump(items, f)
        """),
        near_miss=program("""
            import csv, json
            with open("inventory.csv", newline="") as f:
                items = list(csv.DictReader(f))
            with open("inventory.json", "w") as f:
                json.dump(items, f)
        """),
    ),
    Task(
        name="csv_class_mean",
        kind="statistic",
        prompt=(
            "scores.csv has columns student, class and score. Write the mean score of each class to means.json "
            'as a JSON object from class to mean, rounded to 2 decimals (like {"A": 80.5}).'
        ),
        outputs=("means.json",),
        verify=_means,
        inputs={"scores.csv": SCORES},
        solution=program("""
            import json
            import pandas as pd
            df = pd.read_csv("scores.csv")
            means = df.groupby("class")["score"].mean().round(2).to_dict()
            json.dump(means, open("means.json", "w"))
        """),
        near_miss=program("""
            import json
            import pandas as pd
            df = pd.read_csv("scores.csv")
            means = df.groupby("class")["score"].median().to_dict()
            json.dump(means, open("means.json", "w"))
        """),
    ),
    Task(
        name="median_stdev",
        kind="statistic",
        prompt=(
            f"With Python's statistics module, compute the median and the sample standard deviation of the "
            f'numbers {NUMBERS}, and write them to stats.json as {{"median": ..., "stdev": ...}}.'
        ),
        outputs=("stats.json",),
        verify=_stats,
        solution=program("""
            import json, statistics
            data = [4, 8, 15, 16, 23, 42]
            json.dump({"median": statistics.median(data), "stdev": statistics.stdev(data)}, open("stats.json", "w"))
        """),
        near_miss=program("""
            import json, statistics
            data = [4, 8, 15, 16, 23, 42]
            json.dump({"median": data[len(data) // 2], "stdev": statistics.pstdev(data)}, open("stats.json", "w"))
        """),
    ),
    Task(
        name="text_counts",
        kind="statistic",
        prompt=(
            "Count the lines, the words (separated by whitespace) and the characters (newlines included) of "
            'poem.txt and write them to counts.json as {"lines": ..., "words": ..., "chars": ...}.'
        ),
        outputs=("counts.json",),
        verify=_counts,
        inputs={"poem.txt": POEM},
        solution=program("""
            import json
            text = open("poem.txt").read()
            json.dump({"lines": len(text.splitlines()), "words": len(text.split()), "chars": len(text)},
                      open("counts.json", "w"))
        """),
        near_miss=program("""
            import json
            text = open("poem.txt").read()
            json.dump({"lines": text.count("\\n") + 1, "words": len(text.split(" ")), "chars": len(text.strip())},
                      open("counts.json", "w"))
        """),
    ),
]
