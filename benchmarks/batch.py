"""Throughput of `grade batch --workers 2` against a serial loop of plain nbclient runs.

20 submissions (solutions and stubs of the course's exercises, copied under per-student
names) are executed twice in one run:

1. serially, each by a plain ``nbclient.NotebookClient`` with the default kernel and no
   sandbox (what a home-made grading loop does, before any grading);
2. by ``grade batch --workers 2 --fork-kernels on`` into a fresh gradebook: sandboxed
   kernels forked from a template that imported torch and the rest once, probes, checks,
   the gradebook and the warm kernel pool;
3. with ``--fresh`` also by ``grade batch --fork-kernels off`` (a fresh Python per kernel).

Prints the figures; the LAST line is the throughput ratio (serial seconds / batch seconds,
forked kernels); target (issue 18) >= 8. It also prints the bound the grading work itself
sets: the gradebook's seconds per submission (the student's cells plus the grader's probes,
such as training a student's model on hidden data) summed and divided by the workers is
the least any schedule needs, so serial / that bound is the highest ratio reachable. The machine may be shared: the load average is
printed before and after. Usage:
``python benchmarks/batch.py [--submissions 20] [--workers 2] [--fresh]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent


def make_class(folder: Path, count: int) -> list[Path]:
    """``count`` notebooks named student_00.ipynb ..., cycling through solutions and stubs."""
    sources = sorted((REPO / "solutions").glob("*.ipynb")) + sorted((REPO / "exercises").glob("*.ipynb"))
    folder.mkdir(parents=True)
    made = []
    for i, source in zip(range(count), itertools.cycle(sources)):
        made.append(Path(shutil.copyfile(source, folder / f"student_{i:02d}.ipynb")))
    return made


def serial_nbclient(paths: list[Path]) -> float:
    """Seconds to execute every notebook, one after the other, with plain nbclient."""
    started = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, allow_errors=True).execute()
    return time.perf_counter() - started


def batch(folder: Path, db: Path, workers: int, fork: bool = True) -> tuple[float, str]:
    """Seconds of one `grade batch` command (a new process, as a user runs it), and its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--db", str(db),
                           "--workers", str(workers), "--fork-kernels", "on" if fork else "off"],
                          env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"grade batch failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="also grade the batch with fresh kernels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="d2lg-bench-") as tmp:
        paths = make_class(Path(tmp, "class"), args.submissions)
        print(f"{len(paths)} submissions, {os.cpu_count()} cores, workers {args.workers}, "
              f"load average before {os.getloadavg()[0]:.2f} (other work on the machine skews both figures)")
        serial = serial_nbclient(paths)
        print(f"serial plain nbclient: {serial:.1f} s ({len(paths) / serial * 60:.1f} notebooks/min)")
        if args.fresh:
            fresh, output = batch(Path(tmp, "class"), Path(tmp, "fresh.sqlite"), args.workers, fork=False)
            _report(f"grade batch --workers {args.workers} --fork-kernels off", fresh, output, len(paths))
            print(f"throughput ratio, fresh kernels (batch / serial): {serial / fresh:.2f}")
        seconds, output = batch(Path(tmp, "class"), Path(tmp, "gradebook.sqlite"), args.workers)
        _report(f"grade batch --workers {args.workers} --fork-kernels on", seconds, output, len(paths))
        busy = _graded_seconds(Path(tmp, "gradebook.sqlite"))
        print(f"grading work: {busy:.1f} s summed over submissions; over {args.workers} workers at least "
              f"{busy / args.workers:.1f} s, so the ratio can reach at most {serial / (busy / args.workers):.2f}")
        print(f"load average after {os.getloadavg()[0]:.2f}")
    print(f"throughput ratio (batch / serial): {serial / seconds:.2f}")


def _graded_seconds(db: Path) -> float:
    """Seconds the workers spent on the submissions, summed (from the gradebook)."""
    with sqlite3.connect(db) as conn:
        return float(conn.execute("SELECT COALESCE(SUM(seconds), 0) FROM submissions").fetchone()[0])


def _report(what: str, seconds: float, output: str, count: int) -> None:
    summary = [line for line in output.splitlines() if "submissions in" in line or "graded" in line]
    print(f"{what}: {seconds:.1f} s ({count / seconds * 60:.1f} notebooks/min)")
    for line in summary[-2:]:
        print(f"  {line.strip()}")


if __name__ == "__main__":
    main()
