"""Overhead of grading over plain execution, measured side by side in one run.

Grades a reference solution with `grade` (sandboxed kernel, runtime, probes, checks) with
forked kernels (``--fork-kernels on``: a template process imports torch and the rest once
and forks the kernel) and with a fresh kernel (``--fork-kernels off``), and executes the
same notebook with plain nbclient, alternating, a few times each. Every figure is the
whole command, process start included. Prints each timing and, on the last line, the
median ratio grade (forked) / nbclient. Target (issue 18): <= 0.5. The machine may be
shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
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


def graded(path: Path, fork: bool) -> float:
    """Seconds for the whole `grade` command on ``path`` (process start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", str(path), "--json",
                    "--fork-kernels", "on" if fork else "off"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(REPO / "solutions" / "sin_derivative.ipynb"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.notebook)
    print(f"{path.name}, {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} "
          "(other work on the machine skews every figure)")
    plain(path)  # warm the disk cache for all
    forked, fresh = [], []
    for i in range(args.repeat):
        g, f, p = graded(path, True), graded(path, False), plain(path)
        forked.append(g / p)
        fresh.append(f / p)
        print(f"run {i + 1}: grade forked {g:.2f} s, grade fresh {f:.2f} s, nbclient {p:.2f} s, "
              f"ratios {g / p:.3f} / {f / p:.3f}")
    print(f"load average after {os.getloadavg()[0]:.2f}")
    print(f"median ratio grade (fresh kernel)/nbclient: {statistics.median(fresh):.3f}")
    print(f"median ratio grade (forked kernel)/nbclient: {statistics.median(forked):.3f}")


if __name__ == "__main__":
    main()
