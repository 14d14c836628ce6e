"""Find the exercises and homeworks the package declares, and which ones a notebook holds.

Exercise modules live in ``grader/exercises/`` (one ``EXERCISE`` each), homework modules
in ``grader/homeworks/`` (one ``HOMEWORK`` each). Adding either is adding one module.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from functools import cache
from typing import Any

from grader.errors import SpecError, UnknownExerciseError
from grader.notebook.load import Notebook, units_in_metadata
from grader.units.spec import Exercise
from grader.notebook.static import CellCode

__all__ = ["exercises", "homeworks", "get_exercise", "get_homework", "detect_units"]


def _discover(package: str, attribute: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        unit = getattr(module, attribute, None)
        if unit is None:
            continue
        if str(getattr(unit, "id", "")).replace("-", "_") != info.name:
            raise SpecError(f"{package}.{info.name}",
                            f"{attribute}.id must be the module name ({info.name!r}, '-' allowed for '_')")
        if hasattr(unit, "validate"):
            unit.validate()
        found[unit.id] = unit
    return found


@cache
def exercises() -> dict[str, Exercise]:
    """Every exercise, by id, in a stable order."""
    return _discover("grader.exercises", "EXERCISE")


@cache
def homeworks() -> dict[str, Any]:
    """Every free-form homework, by id."""
    return _discover("grader.homeworks", "HOMEWORK")


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise ``exercise_id``, or a clear error listing the known ids."""
    if exercise_id not in exercises():
        raise UnknownExerciseError(exercise_id, list(exercises()))
    return exercises()[exercise_id]


def get_homework(homework_id: str) -> Any:
    """The homework ``homework_id``, or a clear error listing the known ids."""
    if homework_id not in homeworks():
        raise UnknownExerciseError(homework_id, list(homeworks()), what="homework")
    return homeworks()[homework_id]


def _by_names(codes: list[CellCode]) -> list[Exercise]:
    defined = set().union(*(c.defines for c in codes)) if codes else set()
    hits: dict[str, set[str]] = {}
    for exercise in exercises().values():
        found_names = {name for name in exercise.names if name in defined}
        if exercise.names and len(found_names) >= math.ceil(len(exercise.names) / 2):
            hits[exercise.id] = found_names
    # an exercise matched only by names another match also has (control_flow_grad's `f`
    # in a chain_rule notebook) is that other exercise's
    return [exercises()[i] for i, names in hits.items()
            if not any(j != i and names < other for j, other in hits.items())]


def detect_units(nb: Notebook, codes: list[CellCode], *, exercise_ids: list[str] | None = None,
                 homework_id: str | None = None) -> list[Any]:
    """The units to grade in ``nb``: forced ids, else metadata and tags, else
    a homework whose sections' book code it holds, else the names it defines. Raises when
    nothing matches."""
    if exercise_ids or homework_id:
        units: list[Any] = [get_exercise(e) for e in exercise_ids or []]
        return units + ([get_homework(homework_id)] if homework_id else [])
    declared, homework = units_in_metadata(nb)
    if homework:
        return [get_homework(homework)]
    if declared:
        return [get_exercise(e) for e in declared]
    # A homework first: its book code defines names (2.5's `f`) that an exercise also asks for.
    for hw in homeworks().values():
        if hw.matches(nb, codes):
            return [hw]
    found: list[Any] = _by_names(codes)
    if found:
        return found
    known = sorted(exercises()) + [f"homework {h}" for h in sorted(homeworks())]
    raise UnknownExerciseError.no_match(str(nb.path), known)
