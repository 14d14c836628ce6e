"""Check the course material: every solution scores full marks, every stub scores zero.

``grade validate`` grades each notebook of ``solutions/`` and its stub in
``exercises/`` (same file name), and every exercise must have a solution. It runs the
notebooks concurrently, one kernel per core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from grader.config import CHECKOUT_DIR, Options, for_many_notebooks, threads_per_worker
from grader.errors import GraderError
from grader.notebook.load import read_notebook, units_in_metadata
from grader.pipeline import grade_async
from grader.registry import exercises, homeworks

__all__ = ["ValidationRow", "validate", "material_dirs"]


@dataclass
class ValidationRow:
    """One notebook checked: what it should score, what it scored, and why it failed."""

    path: str
    role: str  # solution | stub
    score: float = 0.0
    max_score: float = 0.0
    ok: bool = False
    problems: list[str] = field(default_factory=list)


def material_dirs() -> tuple[Path, Path]:
    """``solutions/`` and ``exercises/`` of the checkout this package runs from (else the cwd)."""
    repo = CHECKOUT_DIR
    base = repo if (repo / "solutions").is_dir() else Path.cwd()
    return base / "solutions", base / "exercises"


def _wanted(path: Path, ids: Sequence[str]) -> bool:
    declared, homework = units_in_metadata(read_notebook(path))
    return not ids or any(i in declared or i == homework for i in ids)


async def _check(path: Path, role: str, options: Options, gate: asyncio.Semaphore) -> ValidationRow:
    row = ValidationRow(str(path), role)
    async with gate:
        try:
            result = await grade_async([path], options=options)
        except GraderError as exc:
            row.problems.append(str(exc))
            return row
    row.score, row.max_score = result.score, result.max_score
    for test in result.tests:
        if role == "solution" and test.status != "passed":
            row.problems.append(f"{test.name}: {test.message.splitlines()[0] if test.message else test.status}")
        if role == "stub" and test.score > 0:
            row.problems.append(f"{test.name}: a stub earns {test.score:g} points")
        if test.status == "error":
            row.problems.append(f"{test.name}: internal grading error")
    for run in result.executions:
        if run.outcome != "completed":
            row.problems.append(f"execution {run.outcome}: {run.message}")
    if role == "solution" and result.score < result.max_score:
        row.problems.append(f"scores {result.score:g} of {result.max_score:g}")
    row.ok = not row.problems and result.max_score > 0
    return row


async def _validate(ids: Sequence[str], options: Options, workers: int) -> list[ValidationRow]:
    solutions, stubs = material_dirs()
    gate = asyncio.Semaphore(max(1, workers))
    jobs = []
    covered: set[str] = set()
    for path in sorted(solutions.glob("*.ipynb")):
        if not _wanted(path, ids):
            continue
        declared, homework = units_in_metadata(read_notebook(path))
        covered.update(declared + ([homework] if homework else []))
        jobs.append(_check(path, "solution", options, gate))
        stub = stubs / path.name
        if stub.is_file():
            jobs.append(_check(stub, "stub", options, gate))
        elif not homework:
            jobs.append(_missing(str(stub), "stub", "no stub: run `grade assign`"))
    rows = list(await asyncio.gather(*jobs))
    for unit_id in list(exercises()) + list(homeworks()):
        if (not ids or unit_id in ids) and unit_id not in covered:
            rows.append(await _missing(str(solutions / f"{unit_id}.ipynb"), "solution", f"no solution notebook for {unit_id}"))
    return rows


async def _missing(path: str, role: str, problem: str) -> ValidationRow:
    return ValidationRow(path, role, problems=[problem])


def validate(ids: Sequence[str], options: Options, workers: int = 0) -> list[ValidationRow]:
    """Grade every solution and stub (or those of ``ids``); each row says whether it is right."""
    workers = workers or os.cpu_count() or 1
    if not options.threads:
        options = dataclasses.replace(options, threads=threads_per_worker(workers))
    options = for_many_notebooks(options)
    return asyncio.run(_validate(ids, options, workers))
