"""A warm kernel pool: kernels started and booted ahead, one per submission, never reused.

Starting a sandboxed kernel and importing torch takes seconds of CPU. The batch knows
which notebooks come next, so it asks the pool to :meth:`KernelPool.warm` their kernels
while other submissions are being graded; when a notebook's turn comes,
:meth:`KernelPool.take` hands over a kernel that is already running with the heavy
modules that notebook imports (found statically) already imported.

With the ``fork_kernels`` option each kernel is a fork of this process's kernel template
(:mod:`grader.engine.forkserver`, :mod:`grader.engine.forked`), which imported torch and the rest once: a boot then
costs the fork, the sandbox and ipykernel's start (well under a second), not the imports,
and the preload is already done. :class:`PoolStats` counts the forked kernels and the ones
that fell back to a fresh process.

A kernel is booted for one :class:`KernelKey` (options, hidden paths, preload, threads)
and only handed to a notebook that needs exactly that key; anything else gets a kernel
booted on the spot. Every kernel goes to one notebook only: the pipeline shuts it down
after the run, and kernels never handed out are shut down by :meth:`KernelPool.close`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from grader.config import Options, forking
from grader.engine.kernel import Kernel
from grader.engine.forked import FORKED, HEAVY_MODULES, describe_start, heavy_imports
from grader.engine.forkserver import ForkError, fork_server

__all__ = ["HEAVY_MODULES", "KernelKey", "KernelPool", "PoolStats", "heavy_imports"]


@dataclass(frozen=True)
class KernelKey:
    """Everything a booted kernel is fixed to: its options, what it hides, what it imported."""

    options: Options
    hide: tuple[str, ...]
    preload: tuple[str, ...]
    threads: int


@dataclass
class PoolStats:
    """How the pool did: kernels handed over warm or booted on demand, and boot times."""

    warm: int = 0
    cold: int = 0
    failed: int = 0
    forked: int = 0       # kernels forked from the template
    fork_failed: int = 0  # kernels meant to be forked that started fresh instead
    boot_seconds: list[float] = field(default_factory=list)


class KernelPool:
    """Kernels booting in the background, handed out by key. Use as ``async with``."""

    def __init__(self) -> None:
        self._ready: dict[KernelKey, deque[asyncio.Task[Kernel]]] = {}
        self.stats = PoolStats()
        self._template_warmed = False

    async def __aenter__(self) -> KernelPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def warm(self, key: KernelKey) -> None:
        """Start booting a kernel for ``key`` now; a later :meth:`take` of that key gets it."""
        if forking(key.options) and not self._template_warmed:
            # a class imports everything sooner or later: the template does it once, when idle
            self._template_warmed = True
            try:
                fork_server(key.options.template_idle).warm(HEAVY_MODULES)
            except ForkError:
                pass  # no template here: each kernel records why it started fresh
        task = asyncio.ensure_future(self._boot(key))
        self._ready.setdefault(key, deque()).append(task)

    @property
    def waiting(self) -> int:
        """Kernels booted or booting that nobody took yet."""
        return sum(len(q) for q in self._ready.values())

    def claim(self, key: KernelKey) -> asyncio.Task[Kernel]:
        """Reserve the oldest kernel warmed for ``key``, or start booting one now; then
        :meth:`ready` gives it. (Two steps, so a caller can warm the next kernel between.)"""
        queue = self._ready.get(key)
        if queue:
            task = queue.popleft()
            task.warm = True  # type: ignore[attr-defined]
            return task
        return asyncio.ensure_future(self._boot(key))

    async def ready(self, task: asyncio.Task[Kernel], key: KernelKey) -> Kernel:
        """The claimed kernel once booted.

        A kernel that failed to boot or died while waiting is replaced by a new,
        unstarted one: the pipeline then starts it and records a failure as the result."""
        try:
            kernel = await task
        except Exception:
            self.stats.failed += 1
            return Kernel(key.options, hide=key.hide, threads=key.threads)
        if not await kernel.alive():
            self.stats.failed += 1
            await kernel.shutdown()
            return Kernel(key.options, hide=key.hide, threads=key.threads)
        if getattr(task, "warm", False):
            self.stats.warm += 1
        else:
            self.stats.cold += 1
        start = describe_start(getattr(kernel, "km", None))
        self.stats.forked += start["kernel_process"] == FORKED
        self.stats.fork_failed += "fork_failed" in start
        return kernel

    async def take(self, key: KernelKey) -> Kernel:
        """A started kernel for ``key``: the oldest warm one, else one booted now."""
        return await self.ready(self.claim(key), key)

    async def _boot(self, key: KernelKey) -> Kernel:
        kernel = Kernel(key.options, hide=key.hide, threads=key.threads)
        started = time.monotonic()
        try:
            await kernel.start(preload=key.preload)
        except BaseException:
            await kernel.shutdown()  # removes the sandbox of a kernel that never served
            raise
        self.stats.boot_seconds.append(round(time.monotonic() - started, 3))
        return kernel

    async def close(self) -> None:
        """Shut down every kernel not handed out (cancelling boots still under way)."""
        leftover = [task for queue in self._ready.values() for task in queue]
        self._ready.clear()
        for task in leftover:
            task.cancel()
        for task in leftover:
            try:
                kernel = await task
            except BaseException:
                continue  # _boot already cleaned up
            await kernel.shutdown()
