"""Small algorithms whose output file is checked against the right answer."""

from __future__ import annotations

from pathlib import Path

from .checks import Task, Wrong, integers, lines, load_json, program, same, text

PRIMES = [p for p in range(2, 100) if all(p % d for d in range(2, p))]


def _squares(work_dir: Path) -> None:
    same(integers(lines(work_dir, "squares.txt"), "squares.txt"), [n * n for n in range(1, 13)], "squares.txt")


def _primes(work_dir: Path) -> None:
    found = [part.strip() for part in text(work_dir, "primes.txt").replace("\n", ",").split(",") if part.strip()]
    same(integers(found, "primes.txt"), PRIMES, "primes.txt")


def _fib(work_dir: Path) -> None:
    expected = [0, 1]
    while len(expected) < 15:
        expected.append(expected[-1] + expected[-2])
    same(integers(lines(work_dir, "fib.txt"), "fib.txt"), expected, "fib.txt")


def _fizzbuzz(work_dir: Path) -> None:
    expected = [
        "FizzBuzz" if n % 15 == 0 else "Fizz" if n % 3 == 0 else "Buzz" if n % 5 == 0 else str(n) for n in range(1, 31)
    ]
    same(lines(work_dir, "fizzbuzz.txt"), expected, "fizzbuzz.txt")


def _binary(work_dir: Path) -> None:
    same(lines(work_dir, "binary.txt"), [f"{n:04b}" for n in range(16)], "binary.txt")


def _gcd(work_dir: Path) -> None:
    found = load_json(work_dir, "gcd.json")
    if not isinstance(found, dict):
        raise Wrong(f"gcd.json holds a {type(found).__name__}, not an object")
    same({k: found.get(k) for k in ("gcd", "lcm")}, {"gcd": 42, "lcm": 252}, "gcd.json")


def _palindromes(work_dir: Path) -> None:
    same(lines(work_dir, "palindromes.txt"), ["level", "Racecar", "noon"], "palindromes.txt")


TASKS = [
    Task(
        name="squares",
        kind="algorithm",
        prompt="Write the squares of 1 to 12 to squares.txt, one per line.",
        outputs=("squares.txt",),
        verify=_squares,
        solution=program("""
            with open("squares.txt", "w") as f:
                for n in range(1, 13):
                    f.write(f"{n * n}\\n")
        """),
        near_miss=program("""
            with open("squares.txt", "w") as f:
                for n in range(12):
                    f.write(f"{n * n}\\n")
        """),
    ),
    Task(
        name="primes",
        kind="algorithm",
        prompt="Write all prime numbers below 100 to primes.txt, in increasing order, separated by commas.",
        outputs=("primes.txt",),
        verify=_primes,
        solution=program("""
            primes = [n for n in range(2, 100) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
            open("primes.txt", "w").write(",".join(map(str, primes)))
        """),
        near_miss=program("""
            primes = [n for n in range(1, 100) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
            open("primes.txt", "w").write(",".join(map(str, primes)))
        """),
    ),
    Task(
        name="fibonacci",
        kind="algorithm",
        prompt="Write the first 15 Fibonacci numbers, starting 0, 1, to fib.txt, one per line.",
        outputs=("fib.txt",),
        verify=_fib,
        solution=program("""
            a, b = 0, 1
            with open("fib.txt", "w") as f:
                for _ in range(15):
                    f.write(f"{a}\\n")
                    a, b = b, a + b
        """),
        near_miss=program("""
            a, b = 1, 1
            with open("fib.txt", "w") as f:
                for _ in range(15):
                    f.write(f"{a}\\n")
                    a, b = b, a + b
        """),
    ),
    Task(
        name="fizzbuzz",
        kind="algorithm",
        prompt=(
            "Write FizzBuzz for the numbers 1 to 30 to fizzbuzz.txt, one per line: Fizz for multiples of 3, "
            "Buzz for multiples of 5, FizzBuzz for multiples of both, otherwise the number."
        ),
        outputs=("fizzbuzz.txt",),
        verify=_fizzbuzz,
        solution=program("""
            with open("fizzbuzz.txt", "w") as f:
                for n in range(1, 31):
                    f.write(("Fizz" * (n % 3 == 0) + "Buzz" * (n % 5 == 0) or str(n)) + "\\n")
        """),
        near_miss=program("""
            with open("fizzbuzz.txt", "w") as f:
                for n in range(1, 31):
                    f.write(("Fizz" if n % 3 == 0 else "Buzz" if n % 5 == 0 else str(n)) + "\\n")
        """),
    ),
    Task(
        name="binary",
        kind="algorithm",
        prompt=(
            "Write the numbers 0 to 15 in binary, padded to 4 digits (0000, 0001, ...), to binary.txt, one per line."
        ),
        outputs=("binary.txt",),
        verify=_binary,
        solution=program("""
            open("binary.txt", "w").write("".join(f"{n:04b}\\n" for n in range(16)))
        """),
        near_miss=program("""
            open("binary.txt", "w").write("".join(bin(n) + "\\n" for n in range(16)))
        """),
    ),
    Task(
        name="gcd_lcm",
        kind="algorithm",
        prompt=(
            "Compute the greatest common divisor and the least common multiple of 84 and 126 and write them to "
            'gcd.json as {"gcd": ..., "lcm": ...}.'
        ),
        outputs=("gcd.json",),
        verify=_gcd,
        solution=program("""
            import json, math
            json.dump({"gcd": math.gcd(84, 126), "lcm": 84 * 126 // math.gcd(84, 126)}, open("gcd.json", "w"))
        """),
        near_miss=program("""
            import json, math
            json.dump({"gcd": math.gcd(84, 126), "lcm": 84 * 126}, open("gcd.json", "w"))
        """),
    ),
    Task(
        name="palindromes",
        kind="algorithm",
        prompt=(
            "Of the words level, Racecar, python, noon, Abc and banana, write those that read the same backwards, "
            "ignoring case, to palindromes.txt, one per line, as written and in this order."
        ),
        outputs=("palindromes.txt",),
        verify=_palindromes,
        solution=program("""
            words = ["level", "Racecar", "python", "noon", "Abc", "banana"]
            open("palindromes.txt", "w").write("".join(w + "\\n" for w in words if w.lower() == w.lower()[::-1]))
        """),
        near_miss=program("""
            words = ["level", "Racecar", "python", "noon", "Abc", "banana"]
            open("palindromes.txt", "w").write("".join(w + "\\n" for w in words if w == w[::-1]))
        """),
    ),
]
