"""Reference figures: the figures the solutions draw, to show beside a student's.

They are obtained the honest way, by grading ``solutions/<id>.ipynb`` with figure images
on, and cached as JSON in the user's cache directory under a key made of the solution
file's hash, the exercise's version and the grader's version, so a changed solution or
exercise is graded again and an unchanged one never is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from platformdirs import user_cache_dir

from grader.config import Options
from grader.errors import GraderError
from grader.notebook.load import read_notebook, units_in_metadata
from grader.pipeline import grade_async, grader_version
from grader.registry import exercises, homeworks
from grader.course.validate import material_dirs

__all__ = ["reference_figures", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where reference figures are cached."""
    return Path(user_cache_dir("d2l-grade")) / "references"


def _solutions_for(unit_ids: set[str]) -> list[tuple[Path, list[str]]]:
    solutions, _ = material_dirs()
    found = []
    for path in sorted(solutions.glob("*.ipynb")):
        try:
            declared, homework = units_in_metadata(read_notebook(path))
        except GraderError:
            continue
        wanted = [u for u in [*declared, *([homework] if homework else [])] if u in unit_ids]
        if wanted:
            found.append((path, wanted))
    return found


def _cache_file(path: Path, units: list[str], cache_dir: Path) -> Path:
    known = {**exercises(), **homeworks()}
    key = json.dumps([hashlib.sha256(path.read_bytes()).hexdigest(), grader_version(),
                      {u: str(known[u].version) for u in units if u in known}], sort_keys=True)
    return cache_dir / f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


async def _grade_solution(path: Path, options: Options, gate: asyncio.Semaphore) -> dict[str, list[dict[str, Any]]]:
    async with gate:
        result = await grade_async([path], options=options)
    return {unit.id: list(unit.extra.get("figures", [])) for unit in result.units}


def reference_figures(unit_ids: Iterable[str], *, options: Options,
                      cache_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Figures of each solution notebook holding one of ``unit_ids``, by unit id."""
    wanted = set(unit_ids)
    cache_dir = cache_dir or default_cache_dir()
    out: dict[str, list[dict[str, Any]]] = {}
    missing: list[tuple[Path, Path]] = []
    for path, units in _solutions_for(wanted):
        cached = _cache_file(path, units, cache_dir)
        if cached.is_file():
            out.update({k: v for k, v in json.loads(cached.read_text(encoding="utf-8")).items() if k in wanted})
        else:
            missing.append((path, cached))
    if missing:
        options = dataclasses.replace(options, figures=True)
        gate = asyncio.Semaphore(max(1, os.cpu_count() or 1))

        async def grade_all() -> list[dict[str, list[dict[str, Any]]]]:
            return list(await asyncio.gather(*(_grade_solution(p, options, gate) for p, _ in missing)))
        for (_, cached), figures in zip(missing, asyncio.run(grade_all())):
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(figures), encoding="utf-8")
            out.update({k: v for k, v in figures.items() if k in wanted})
    return out
