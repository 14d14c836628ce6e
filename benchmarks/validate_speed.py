"""Every reference solution graded one after another in one grader process, as `grade
validate` does for the solutions with one worker; prints the time and peak memory.

    python benchmarks/validate_speed.py [--fresh] [--threads T] [ID ...]

With forked kernels (the default) the grader's kernel template imports torch and the rest
once and every kernel is a fork of it (a template of this run's own, started by its first
grade and counted in the time and memory, as `grade validate` on a machine where none runs); ``--fresh`` grades the same notebooks again with a
fresh Python per kernel, side by side in this run. Memory is sampled every 0.1 s from
/proc over this process and all its descendants (template, kernels, their workers): the
peak of the summed proportional set size (PSS: a page shared by the template and its forks
counts once in the sum) is the worker's memory; the largest single kernel's RSS is printed
too. Target (issue 18): <= 45 s for all solutions on 2 cores. The machine may be shared:
the load average is printed before and after. A benchmark asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from grader.config import load_options
from proctree import descendants, memory
from grader.pipeline import grade

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class MemorySampler(threading.Thread):
    """Peak summed PSS of this process and its descendants; peak RSS of the largest kernel."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.stop = interval, threading.Event()
        self.peak_pss = self.peak_kernel_rss = 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            pss = 0
            for pid in descendants(me):
                rss, share = memory(pid)
                pss += share
                if pid != me and _is_kernel(pid):
                    self.peak_kernel_rss = max(self.peak_kernel_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.stop.wait(self.interval)


def _is_kernel(pid: int) -> bool:
    """A kernel: a fresh ipykernel, or a forked one (the template's grandchild runs as the student)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except (OSError, StopIteration, ValueError):
        return False
    return b"ipykernel" in cmdline or (b"forktemplate" in cmdline and uid != os.getuid())


def run(paths: list[Path], options: Any, fork: bool) -> None:
    """Grade ``paths`` one after another; print a line each, the total and the memory peaks."""
    options = dataclasses.replace(options, fork_kernels="on" if fork else "off")
    sampler = MemorySampler()
    sampler.start()
    started = time.monotonic()
    for path in paths:
        t0 = time.monotonic()
        result = grade(path, options=options)
        process = {e.isolation.get("kernel_process", "") for e in result.executions}
        print(f"  {path.stem:<24} {result.score:g}/{result.max_score:g}  {time.monotonic() - t0:5.1f} s  "
              f"{'forked' if any(p.startswith('forked') for p in process) else 'fresh'}")
    total = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    print(f"{'forked' if fork else 'fresh'} kernels: {len(paths)} solutions in {total:.1f} s; peak memory of the "
          f"worker (grader + template + kernel, PSS) {sampler.peak_pss / MiB:.0f} MiB, largest kernel RSS "
          f"{sampler.peak_kernel_rss / MiB:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="also grade them with fresh kernels")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per kernel (default: all cores)")
    parser.add_argument("ids", nargs="*", metavar="ID", help="only these solutions (default: all)")
    args = parser.parse_args()
    # A template folder of our own: the template is this process's child (its memory is
    # sampled) and leaves with it (template_idle 0), whatever template the machine runs.
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="d2lg-bench-")
    options = dataclasses.replace(load_options(), threads=args.threads, template_idle=0)
    paths = [p for p in sorted((REPO / "solutions").glob("*.ipynb")) if not args.ids or p.stem in args.ids]
    print(f"{len(paths)} reference solutions one after another, {os.cpu_count()} cores, load average before "
          f"{os.getloadavg()[0]:.2f} (other work on the machine skews every figure)")
    if args.fresh:
        run(paths, options, fork=False)
    run(paths, options, fork=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
