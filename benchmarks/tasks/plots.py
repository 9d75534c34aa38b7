"""Tasks that save a chart as PNG; the checks decode the image and look at what is drawn."""

from __future__ import annotations

from pathlib import Path

from .checks import Task, Wrong, close, number, png, program, text

INK = 0.04  # share of non-white pixels: an empty set of axes draws about 1%, a bar chart far more
LINE_INK = 0.005  # a thin line or a few dots on axes: only "not blank" can be asked of these


def _hist(work_dir: Path) -> None:
    png(work_dir, "hist.png", min_ink=INK)


def _red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 180 and g < 90 and b < 90


def _fruits(work_dir: Path) -> None:
    picture = png(work_dir, "fruits.png", min_ink=INK)
    if picture.share(_red) < 0.02:
        raise Wrong(f"fruits.png has almost no red ({picture.share(_red):.1%} of pixels): the bars are not red")


def _parabola(work_dir: Path) -> None:
    picture = png(work_dir, "parabola.png", min_ink=LINE_INK)
    if (picture.width, picture.height) != (800, 600):
        raise Wrong(f"parabola.png is {picture.width}x{picture.height} pixels, not 800x600")


POINTS = "x,y\n" + "".join(
    f"{x},{y}\n"
    for x, y in [
        (1, 2.1),
        (2, 3.9),
        (3, 6.2),
        (4, 7.8),
        (5, 10.1),
        (6, 12.2),
        (7, 13.8),
        (8, 16.1),
        (9, 18.0),
        (10, 19.7),
    ]
)


def _scatter(work_dir: Path) -> None:
    png(work_dir, "scatter.png", min_ink=LINE_INK)
    close(number(text(work_dir, "slope.txt"), "slope.txt"), 1.98, "the slope in slope.txt")


TASKS = [
    Task(
        name="histogram",
        kind="plot",
        prompt="Plot a histogram of 1,000 normal samples drawn with seed 0 and save it as hist.png.",
        outputs=("hist.png",),
        verify=_hist,
        solution=program("""
            import matplotlib.pyplot as plt
            import numpy as np
            samples = np.random.default_rng(0).normal(size=1000)
            plt.hist(samples, bins=30)
            plt.savefig("hist.png")
        """),
        near_miss=program("""
            import matplotlib.pyplot as plt
            plt.figure()
            plt.gca()
            plt.savefig("hist.png")
        """),
    ),
    Task(
        name="bar_chart_red",
        kind="plot",
        prompt=(
            "Draw a bar chart of these fruit counts: apples 5, pears 3, plums 8. Make the bars red and save the "
            "chart as fruits.png."
        ),
        outputs=("fruits.png",),
        verify=_fruits,
        solution=program("""
            import matplotlib.pyplot as plt
            plt.bar(["apples", "pears", "plums"], [5, 3, 8], color="red")
            plt.savefig("fruits.png")
        """),
        near_miss=program("""
            import matplotlib.pyplot as plt
            plt.bar(["apples", "pears", "plums"], [5, 3, 8])
            plt.savefig("fruits.png")
        """),
    ),
    Task(
        name="parabola_size",
        kind="plot",
        prompt="Plot y = x**2 for x from -5 to 5 and save the figure as parabola.png, exactly 800 by 600 pixels.",
        outputs=("parabola.png",),
        verify=_parabola,
        solution=program("""
            import matplotlib.pyplot as plt
            import numpy as np
            x = np.linspace(-5, 5, 200)
            plt.figure(figsize=(8, 6), dpi=100)
            plt.plot(x, x**2)
            plt.savefig("parabola.png", dpi=100)
        """),
        near_miss=program("""
            import matplotlib.pyplot as plt
            import numpy as np
            x = np.linspace(-5, 5, 200)
            plt.plot(x, x**2)
            plt.savefig("parabola.png")
        """),
    ),
    Task(
        name="scatter_fit",
        kind="plot",
        prompt=(
            "points.csv has columns x and y. Make a scatter plot of y against x saved as scatter.png, fit a "
            "straight line by least squares, and write its slope (just the number) to slope.txt."
        ),
        outputs=("scatter.png", "slope.txt"),
        verify=_scatter,
        inputs={"points.csv": POINTS},
        solution=program("""
            import matplotlib.pyplot as plt
            import numpy as np
            import pandas as pd
            df = pd.read_csv("points.csv")
            slope, intercept = np.polyfit(df["x"], df["y"], 1)
            plt.scatter(df["x"], df["y"])
            plt.savefig("scatter.png")
            open("slope.txt", "w").write(f"{slope:.4f}")
        """),
        near_miss=program("""
            import matplotlib.pyplot as plt
            import pandas as pd
            df = pd.read_csv("points.csv")
            plt.scatter(df["x"], df["y"])
            plt.savefig("scatter.png")
            open("slope.txt", "w").write(str((df["y"].iloc[-1] - df["y"].iloc[0]) / 10))
        """),
    ),
]
