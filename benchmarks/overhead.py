"""Overhead of grading over plain execution, measured side by side in one run.

Grades a reference solution with `grade` (sandboxed kernel, runtime, probes, checks)
and executes the same notebook with plain nbclient, alternating, a few times each.
Prints each timing and, on the last line, the median ratio grade / nbclient.
Targets: <= 1.15 now, <= 1.05 as the goal.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent


def plain(path: Path) -> float:
    """Seconds to execute ``path`` with a plain nbclient kernel (no sandbox, no grading)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def graded(path: Path) -> float:
    """Seconds for the whole `grade` command on ``path`` (process start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", str(path), "--json"], check=True,
                   stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(REPO / "solutions" / "sin_derivative.ipynb"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.notebook)
    plain(path)  # warm the disk cache for both
    ratios = []
    for i in range(args.repeat):
        g, p = graded(path), plain(path)
        ratios.append(g / p)
        print(f"run {i + 1}: grade {g:.2f} s, nbclient {p:.2f} s, ratio {g / p:.3f}")
    print(f"median ratio grade/nbclient: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
