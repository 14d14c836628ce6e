"""Score an exercise: run its tests on the probed data, apply rules, make results.

Points live here once: a test earns ``points x credit`` where the credit comes from
its checks; a broken forbidden-call rule makes the tests it names worth nothing and is
reported as a 0-point line of its own; a test that crashes is an internal grading
error (status ``error``, 0 points, never blamed on the student). For hidden tests graded
with the instructor's secret, details that could reveal hidden inputs are kept for the
instructor and left out of the student's message. Markdown cells tagged
``answer:<id>`` are collected as written answers for teaching staff to read; they are
never scored automatically.

A check's ``data`` (what was measured, reference bands, the kind of evidence) goes to
the test's ``details``; learning curves (``data["curves"]``) go to the unit's
``extra["curves"]`` for reports. Trained-model exercises receive two more built-in
fixtures, loaded only when a test asks for them: ``calibration`` (the exercise's
reference band, see :mod:`grader.checking.calibration`) and ``fashion_test`` (the Fashion-MNIST
test images and labels from the data store, loaded here and never sent to the kernel).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any, Sequence

from grader.checking.calibration import load_calibration
from grader.checking.checks import Check, all_of, not_allowed
from grader.protocol import ExecutionRun
from grader.checking.probe import read_answer
from grader.results import CellRecord, TestResult, UnitResult
from grader.units.context import UnitContext
from grader.notebook.static import uses_in
from grader.values import FigureValue

if TYPE_CHECKING:
    from grader.units.spec import Exercise

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
    details: dict[str, Any] = {k: v for k, v in check.data.items() if k != "curves"}
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
    wanted = {p for spec in exercise.tests for p in spec.params}
    if "calibration" in wanted:
        fixtures["calibration"] = load_calibration(exercise)
    if "fashion_test" in wanted:
        fixtures["fashion_test"] = _fashion_test(ctx)
    return fixtures


def _fashion_test(ctx: UnitContext) -> Any:
    """The Fashion-MNIST test split (images N x 1 x 28 x 28 in [0, 1], labels), or Missing."""
    from grader.checking.models import test_set
    from grader.values import Missing

    if ctx.data_root is None:
        return Missing("the grader has no data store configured")
    try:
        return test_set(ctx.data_root)
    except (OSError, ValueError) as exc:
        return Missing(f"the grader could not load the Fashion-MNIST test set: {exc}")


def _forbidden_checks(exercise: Exercise, ctx: UnitContext, region: list[int]) -> list[tuple[Any, Check]]:
    out = []
    for rule in exercise.forbidden:
        uses = uses_in(ctx.codes, roots=rule.functions, cells=region if rule.cells else ())
        out.append((rule, not_allowed(uses, rule.rules, labels=ctx.labels(), dynamic=rule.dynamic)))
    return out


def _with_setup(check: Check, exercise: Exercise, ctx: UnitContext, params: Sequence[str]) -> Check:
    """A measurement is recorded with the budget and the seeds of the probes it used."""
    seeds = {p: ctx.seeds[f"{exercise.id}/{p}"] for p in params if f"{exercise.id}/{p}" in ctx.seeds}
    data = dict(check.data, budget=dict(exercise.budget), seeds=seeds)
    return Check(check.passed, check.message, check.detail, check.fraction, data)


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
    curves: list[dict[str, Any]] = []
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
                check = Check(False, f"0 points: {gate.message}", check.detail if check.passed else "",
                              data=check.data)
        curves += [dict(c, test=name) for c in check.data.get("curves", [])]
        if "measured" in check.data:
            check = _with_setup(check, exercise, ctx, spec.params)
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
    extra: dict[str, Any] = {"section": exercise.section, "cells": region, "answers": answers,
                             "figures": run.figures(region)}
    if curves:
        extra["curves"] = curves
    if exercise.budget:
        extra["budget"] = dict(exercise.budget)
        extra["seeds"] = {k.split("/", 1)[1]: v for k, v in ctx.seeds.items() if k.startswith(f"{exercise.id}/")}
    return UnitResult(id=exercise.id, title=exercise.title, kind="exercise", version=exercise.version,
                      tests=tests, notes=notes, extra=extra)
