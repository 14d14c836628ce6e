"""Overhead of grading over plain execution, measured side by side in one run.

Grades a reference solution with `grade` (sandboxed kernel, runtime, probes, checks) as a
user runs it (``fork_kernels = auto``: the kernel is forked from the shared template that
imported torch and the rest once, when one is running) and with a fresh kernel
(``--fork-kernels off``), and executes the same notebook with plain nbclient, alternating,
a few times each. Every figure is the whole command, process start included. The
benchmark's graders use a template folder of their own, so the first grade starts the
template (printed apart: what the first `grade` of a session costs) and the later ones
find it; the template is stopped at the end. Prints each timing and, on the last line, the
median ratio grade (auto) / nbclient. Target (issue 18): <= 0.5. The machine may be
shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
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


def graded(path: Path, fork: str, runtime_dir: str) -> float:
    """Seconds for the whole `grade` command on ``path`` (process start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", str(path), "--json", "--fork-kernels", fork],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO, env={**os.environ, "XDG_RUNTIME_DIR": runtime_dir})
    return time.perf_counter() - start


def stop_templates(runtime_dir: str) -> None:
    """Stop the templates the benchmark's graders started (their sockets' folder is its own)."""
    for line in subprocess.run(["pgrep", "-f", "forktemplate.py " + runtime_dir], capture_output=True,
                               text=True).stdout.split():
        os.kill(int(line), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(REPO / "solutions" / "sin_derivative.ipynb"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.notebook)
    print(f"{path.name}, {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} "
          "(other work on the machine skews every figure)")
    p = plain(path)  # also warms the disk cache for all
    runtime_dir = tempfile.mkdtemp(prefix="d2lg-bench-")
    try:
        first_on = graded(path, "on", runtime_dir)  # waits for the template it starts
        print(f"first grade of a session (starts the shared template): {first_on:.2f} s, "
              f"ratio {first_on / p:.3f} to nbclient {p:.2f} s")
        forked, fresh = [], []
        for i in range(args.repeat):
            g, f, p = graded(path, "auto", runtime_dir), graded(path, "off", runtime_dir), plain(path)
            forked.append(g / p)
            fresh.append(f / p)
            print(f"run {i + 1}: grade (template warm) {g:.2f} s, grade fresh {f:.2f} s, nbclient {p:.2f} s, "
                  f"ratios {g / p:.3f} / {f / p:.3f}")
    finally:
        stop_templates(runtime_dir)
        shutil.rmtree(runtime_dir, ignore_errors=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    print(f"median ratio grade (fresh kernel)/nbclient: {statistics.median(fresh):.3f}")
    print(f"median ratio grade (auto, template warm)/nbclient: {statistics.median(forked):.3f}")


if __name__ == "__main__":
    main()
