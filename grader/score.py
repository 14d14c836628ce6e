"""Score an exercise: run its tests on the probed data, apply rules, make results.

Points live here once: a test earns ``points x credit`` where the credit comes from
its checks; a broken forbidden-call rule makes the tests it names worth nothing and is
reported as a 0-point line of its own; a test that crashes is an internal grading
error (status ``error``, 0 points, never blamed on the student). For hidden tests graded
with the instructor's secret, details that could reveal hidden inputs are kept for the
instructor and left out of the student's message. Markdown cells tagged
``answer:<id>`` are collected as written answers for teaching staff to read; they are
never scored automatically.
"""

from __future__ import annotations

import traceback
from typing import Any, Sequence

from .checks import Check, all_of, not_allowed
from .execute import ExecutionRun
from .probe import read_answer
from .results import CellRecord, TestResult, UnitResult
from .spec import Exercise, UnitContext
from .static import uses_in
from .values import FigureValue

__all__ = ["score_exercise", "make_result", "cell_notes"]


def _as_check(value: Any) -> Check:
    if isinstance(value, Check):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Check) for v in value):
        return all_of(*value)
    raise TypeError(f"a test must return a Check or a list of Checks, not {type(value).__name__}")


def make_result(name: str, points: float, check: Check, *, hidden: bool, show_detail: bool) -> TestResult:
    """A :class:`TestResult` from a check; ``show_detail`` False keeps details for instructors only."""
    credit = check.credit
    status = "passed" if check.passed and credit >= 1.0 else "failed"
    message = check.message
    details: dict[str, Any] = {}
    if check.detail:
        if show_detail:
            message = f"{message}\n{check.detail}"
        else:
            details["instructor_detail"] = check.detail
    return TestResult(name=name, score=round(points * credit, 4), max_score=points, status=status,
                      message=message, hidden=hidden, details=details)


def _fixtures(exercise: Exercise, ctx: UnitContext, run: ExecutionRun, region: list[int]) -> dict[str, Any]:
    fixtures: dict[str, Any] = {}
    for name in exercise.probes:
        key = f"{exercise.id}/{name}"
        fixtures[name] = read_answer(ctx.descriptors[key], run.answers.get(key))
    fixtures["figures"] = [FigureValue(f) for f in run.figures(region)]
    fixtures["cells"] = [r for r in run.summary.cells if r.index in region]
    fixtures["source"] = [c for c in ctx.codes if c.cell.index in region]
    fixtures["context"] = ctx
    return fixtures


def _forbidden_checks(exercise: Exercise, ctx: UnitContext, region: list[int]) -> list[tuple[Any, Check]]:
    out = []
    for rule in exercise.forbidden:
        uses = uses_in(ctx.codes, roots=rule.functions, cells=region if rule.cells else ())
        out.append((rule, not_allowed(uses, rule.rules, labels=ctx.labels(), dynamic=rule.dynamic)))
    return out


def cell_notes(records: Sequence[CellRecord], region: Sequence[int]) -> list[str]:
    """Notes for the exercise's cells that raised, timed out or did not run."""
    notes = []
    for record in records:
        if record.index in region and record.status != "ok":
            what = {"error": f"raised {record.ename}: {record.evalue}", "not_run": "was not run",
                    "timeout": "timed out", "killed": "was killed", "memory": "exceeded the memory limit"}
            notes.append(f"cell {record.index + 1} {what.get(record.status, record.status)}".strip())
    return notes


def score_exercise(exercise: Exercise, ctx: UnitContext, run: ExecutionRun) -> UnitResult:
    """Run every test of ``exercise`` in this process and turn the checks into points."""
    region = exercise.region(ctx)
    fixtures = _fixtures(exercise, ctx, run, region)
    gates = _forbidden_checks(exercise, ctx, region)
    tests: list[TestResult] = []
    for spec in exercise.tests:
        name = f"{exercise.id}: {spec.title}"
        show = not spec.hidden or ctx.show_hidden_details
        try:
            check = _as_check(spec.fn(**{p: fixtures[p] for p in spec.params}))
        except Exception:
            tests.append(TestResult(name=name, score=0.0, max_score=spec.points, status="error",
                                    message="internal grading error: this test failed to run; "
                                            "your instructor has been shown the details",
                                    hidden=spec.hidden, details={"traceback": traceback.format_exc()}))
            continue
        for rule, gate in gates:
            if not gate.passed and (not rule.tests or spec.name in rule.tests) and check.credit > 0:
                check = Check(False, f"0 points: {gate.message}", check.detail if check.passed else "")
        tests.append(make_result(name, spec.points, check, hidden=spec.hidden, show_detail=show))
    for _, gate in gates:
        tests.append(make_result(f"{exercise.id}: forbidden calls", 0.0, gate, hidden=False, show_detail=True))
    notes = cell_notes(run.summary.cells, region)
    answers = [{"cell": c.index + 1, "text": c.source} for c in ctx.notebook.cells
               if f"answer:{exercise.id}" in c.tags]
    for name in exercise.names:
        where = [c.cell.label for c in ctx.codes if name in c.defines]
        if len(where) > 1:
            notes.append(f"`{name}` is defined in {', '.join(where)}; graded as it stands after {where[-1]}")
    if not region:
        notes.append(f"no cell is tagged for `{exercise.id}` or defines {', '.join(exercise.names)}")
    return UnitResult(id=exercise.id, title=exercise.title, kind="exercise", version=exercise.version,
                      tests=tests, notes=notes,
                      extra={"section": exercise.section, "cells": region, "answers": answers,
                             "figures": run.figures(region)})
