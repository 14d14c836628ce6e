"""``grade calibrate``: measure the reference solution under many secrets.

The bands themselves (reading, storing, scoring against them) live in
:mod:`grader.checking.calibration`; this module only runs the pipeline to make one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import Any, Mapping, Sequence

from grader.checking.calibration import Calibration, Stats, solution_digest
from grader.course.validate import material_dirs
from grader.config import for_many_notebooks, threads_per_worker
from grader.errors import InputError
from grader.pipeline import grade_async, grader_version
from grader.registry import get_exercise

__all__ = ["calibrate", "summarise"]


def _measurements(result: Any, exercise_id: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for unit in result.units:
        if unit.id == exercise_id:
            for test in unit.tests:
                found.update(test.details.get("measured", {}))
    return found


def summarise(runs: Sequence[Mapping[str, float]]) -> dict[str, Stats]:
    """Per-metric statistics over runs; a metric must be measured in every run."""
    names = set().union(*runs) if runs else set()
    missing = sorted(n for n in names if any(n not in r for r in runs))
    if missing:
        raise ValueError(f"measured in some runs only: {missing}")
    return {name: Stats.of([r[name] for r in runs]) for name in sorted(names)}


def calibrate(exercise_id: str, runs: int, options: Any, workers: int = 0) -> Calibration:
    """Grade the reference solution ``runs`` times (secrets ``calibration-1`` ...) and
    return the distribution of its measurements; the caller saves it."""
    exercise = get_exercise(exercise_id)
    solution = material_dirs()[0] / f"{exercise_id}.ipynb"
    if not solution.is_file():
        raise InputError(f"no reference solution {solution}")
    if runs < 2:
        raise InputError("calibration needs at least 2 runs for a standard deviation")
    workers = max(1, workers or os.cpu_count() or 1)
    threads = threads_per_worker(workers, options.threads)
    options = for_many_notebooks(options)
    seeds = tuple(f"calibration-{i + 1}" for i in range(runs))
    started = time.monotonic()

    async def one(secret: str, gate: asyncio.Semaphore) -> Any:
        async with gate:
            run_options = dataclasses.replace(options, secret=secret, threads=threads)
            return await grade_async([solution], options=run_options, exercise_ids=[exercise_id])

    async def all_runs() -> list[Any]:
        gate = asyncio.Semaphore(workers)
        return list(await asyncio.gather(*(one(s, gate) for s in seeds)))

    results = asyncio.run(all_runs())
    measured = []
    for secret, result in zip(seeds, results):
        values = _measurements(result, exercise_id)
        if not values:
            problems = [t.message.splitlines()[0] for t in result.tests if t.status != "passed"]
            raise InputError(f"run {secret} measured nothing: {problems or 'no test reported a measurement'}")
        measured.append(values)
    environment = dict(results[0].executions[0].environment) if results[0].executions else {}
    keep = ("torch", "python", "numpy", "threads", "cpu_count", "platform")
    return Calibration(exercise=exercise_id, exercise_version=exercise.version, budget=dict(exercise.budget),
                       metrics=summarise(measured), grader_version=grader_version(),
                       solution_digest=solution_digest(solution, exercise_id), seeds=seeds,
                       environment={k: environment[k] for k in keep if k in environment},
                       seconds=round(time.monotonic() - started, 1))
