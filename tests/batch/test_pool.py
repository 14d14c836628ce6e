"""The warm kernel pool with stand-in kernels: keys, fallbacks, shutdown of the unused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import grader.engine.pool as pool_module
from grader.engine.pool import KernelKey, KernelPool


class FakeKernel:
    """Records what happened to it; ``fail`` makes start raise, ``dies`` makes it dead after start."""

    made: list[FakeKernel] = []
    fail: set[tuple[str, ...]] = set()
    dies: set[tuple[str, ...]] = set()

    def __init__(self, options: Any, hide: Any = (), threads: int = 0) -> None:
        self.hide, self.threads, self.preload = tuple(hide), threads, None
        self.started = self.shut = False
        FakeKernel.made.append(self)

    async def start(self, preload: Any = ()) -> None:
        await asyncio.sleep(0.01)
        self.preload = tuple(preload)
        if self.preload in FakeKernel.fail:
            raise RuntimeError("boot failed")
        self.started = True

    async def alive(self) -> bool:
        return self.started and self.preload not in FakeKernel.dies

    async def shutdown(self) -> None:
        self.shut = True


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeKernel.made, FakeKernel.fail, FakeKernel.dies = [], set(), set()
    monkeypatch.setattr(pool_module, "Kernel", FakeKernel)


def key(*preload: str) -> KernelKey:
    return KernelKey(options=None, hide=("/hidden",), preload=preload, threads=1)  # type: ignore[arg-type]


def test_warm_kernels_go_to_their_key_and_the_rest_boot_on_demand() -> None:
    async def scenario() -> tuple[list[Any], Any]:
        async with KernelPool() as pool:
            pool.warm(key("torch"))
            pool.warm(key())
            first = await pool.take(key())            # the warm one without torch
            second = await pool.take(key("numpy"))    # nothing warm: booted now
            third = await pool.take(key("torch"))
            assert pool.waiting == 0
            return [first, second, third], pool.stats
    (first, second, third), stats = asyncio.run(scenario())
    assert [k.preload for k in (first, second, third)] == [(), ("numpy",), ("torch",)]
    assert first is FakeKernel.made[1] and third is FakeKernel.made[0]
    assert (stats.warm, stats.cold, stats.failed) == (2, 1, 0)
    assert not any(k.shut for k in (first, second, third))  # handed-out kernels belong to the pipeline


def test_failed_or_dead_warm_kernels_are_replaced_by_unstarted_ones() -> None:
    FakeKernel.fail.add(("torch",))
    FakeKernel.dies.add(("numpy",))

    async def scenario() -> list[Any]:
        async with KernelPool() as pool:
            pool.warm(key("torch"))
            pool.warm(key("numpy"))
            return [await pool.take(key("torch")), await pool.take(key("numpy"))]
    replaced = asyncio.run(scenario())
    assert [k.started for k in replaced] == [False, False]  # the pipeline starts them and reports failures
    assert [k.hide for k in replaced] == [("/hidden",), ("/hidden",)]
    assert [k.shut for k in FakeKernel.made[:2]] == [True, True]


def test_close_shuts_down_what_nobody_took() -> None:
    async def scenario() -> None:
        async with KernelPool() as pool:
            pool.warm(key())
            pool.warm(key("torch"))
            await asyncio.sleep(0.05)  # one booted, the other too: both unused
            pool.warm(key("pandas"))   # cancelled at close before it made a kernel
    asyncio.run(scenario())
    assert [(k.preload, k.shut) for k in FakeKernel.made] == [((), True), (("torch",), True)]


def test_a_boot_cancelled_midway_cleans_up() -> None:
    async def scenario() -> None:
        async with KernelPool() as pool:
            pool.warm(key("torch"))
            await asyncio.sleep(0.001)  # inside start()
    asyncio.run(scenario())
    (kernel,) = FakeKernel.made
    assert (kernel.started, kernel.shut) == (False, True)


def test_forked_kernels_and_fork_fallbacks_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.engine.forked import FORKED, FRESH

    notes = iter([{"kernel_process": FORKED}, {"kernel_process": FRESH, "fork_failed": "no template"}, {}])
    original = FakeKernel.start

    async def start(self: FakeKernel, preload: Any = ()) -> None:
        await original(self, preload)
        self.start_note = next(notes)  # what the kernel manager says about the process it made
        self.km = self  # type: ignore[attr-defined]
    monkeypatch.setattr(FakeKernel, "start", start)

    async def scenario() -> Any:
        async with KernelPool() as pool:
            for _ in range(3):
                await pool.take(key())
            return pool.stats
    stats = asyncio.run(scenario())
    assert (stats.forked, stats.fork_failed, stats.cold) == (1, 1, 3)
