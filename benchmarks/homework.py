"""Grade every reference solution in solutions/ in one run; print time and peak memory.

    python benchmarks/homework.py [--workers N] [--threads T]

Notebooks are graded concurrently, ``--workers`` at a time (default: one per core), each
kernel with ``--threads`` torch threads (default: cores / workers), as ``grade
validate`` does. Memory is sampled every 0.1 s from /proc: the grader's own resident
set, each kernel process's, and the sum over the grader and all its descendants.
Targets (issue 5): the whole homework in <= 60 s on 2 cores, <= 1.5 GB per worker
(one kernel plus its share of the grader). A benchmark prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from grader.config import load_options  # noqa: E402
from proctree import children, cmdline, memory  # noqa: E402
from grader.pipeline import grade_async  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def _rss(pid: int) -> int:
    return memory(pid)[0]


class MemorySampler(threading.Thread):
    """Peak RSS of this process, of any one kernel, and of this process plus all descendants."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.stop = interval, threading.Event()
        self.peak_total = self.peak_kernel = self.peak_self = 0

    def run(self) -> None:
        root = os.getpid()
        while not self.stop.is_set():
            tree, pending, total = children(), [root], 0
            while pending:
                pid = pending.pop()
                rss = _rss(pid)
                total += rss
                if pid != root and "ipykernel" in cmdline(pid):
                    self.peak_kernel = max(self.peak_kernel, rss)
                pending += tree.get(pid, [])
            self.peak_self = max(self.peak_self, _rss(root))
            self.peak_total = max(self.peak_total, total)
            self.stop.wait(self.interval)


async def _grade_all(paths: list[Path], options: object, workers: int) -> list[tuple[Path, object, float]]:
    gate = asyncio.Semaphore(workers)

    async def one(path: Path) -> tuple[Path, object, float]:
        async with gate:
            started = time.monotonic()
            result = await grade_async([path], options=options)  # type: ignore[arg-type]
            return path, result, time.monotonic() - started

    return list(await asyncio.gather(*(one(p) for p in paths)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("ids", nargs="*", metavar="ID", help="only these solutions (default: all)")
    args = parser.parse_args()
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    options = dataclasses.replace(load_options(), threads=threads)
    paths = [p for p in sorted((REPO / "solutions").glob("*.ipynb")) if not args.ids or p.stem in args.ids]
    sampler = MemorySampler()
    sampler.start()
    started = time.monotonic()
    results = asyncio.run(_grade_all(paths, options, args.workers))
    total = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    print(f"{len(paths)} reference solutions, {args.workers} workers x {threads} thread(s), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for path, result, seconds in results:
        graded: Any = result
        cells = sum(c.seconds for e in graded.executions for c in e.cells)
        print(f"  {path.stem:<24} {graded.score:g}/{graded.max_score:g}  {seconds:5.1f} s (cells {cells:.1f} s)")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"total {total:.1f} s")
    print(f"peak RSS: grader {max(peak_self, sampler.peak_self) / MiB:.0f} MiB, largest kernel "
          f"{sampler.peak_kernel / MiB:.0f} MiB, grader + all kernels {sampler.peak_total / MiB:.0f} MiB "
          f"(per worker about {sampler.peak_total / args.workers / MiB:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
