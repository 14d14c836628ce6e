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
from grader.checking.checks import Check, all_of
from grader.checking.code import not_allowed
from grader.protocol import ExecutionRun
from grader.checking.probe import CallResults, GuardedCall, guarded_calls, read_answer
from grader.results import CellRecord, TestResult, UnitResult
from grader.units.context import UnitContext
from grader.notebook.static import uses_in
from grader.units.redact import failing_case, student_message, training_message
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
    private = [check.detail] if check.detail else []
    if not show_detail and "seeds" in details:  # they rebuild the hidden inputs
        private.append(f"seeds: {details.pop('seeds')}")
    if private:
        if show_detail:
            message = f"{message}\n{check.detail}"
        else:
            details["instructor_detail"] = "\n".join(private)
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


def _seen_at_run_time(exercise: Exercise, run: ExecutionRun) -> dict[int, list[GuardedCall]]:
    """Forbidden calls the kernel's guard recorded during this exercise's probes, by rule;
    a removed guard (rule -1) counts against every rule of the function it ran in."""
    seen: dict[int, list[GuardedCall]] = {}
    for name in exercise.probes:
        for record in guarded_calls(run.answers.get(f"{exercise.id}/{name}")):
            if record.rule >= 0:
                seen.setdefault(record.rule, []).append(record)
                continue
            for i, rule in enumerate(exercise.forbidden):
                if record.function in rule.functions:
                    seen.setdefault(i, []).append(record)
    return seen


def _run_time_gate(static: Check, rules: Sequence[str], seen: list[GuardedCall]) -> Check:
    """The static rule's verdict, failed by calls only the run-time guard saw."""
    if not seen:
        return static
    names = list(dict.fromkeys(f"{r.name} (in `{r.function}`)" for r in seen))
    extra = "\nseen at run time: " + "; ".join(names)
    if not static.passed:
        return Check(False, static.message, static.detail + extra, static.fraction, static.data)
    # a call names the function best; then a removed guard; then a forbidden module's import
    first = min(seen, key=lambda r: (r.rule < 0 or r.name.startswith("import "), not r.rule < 0))
    if first.rule < 0:
        what = (f"stops the grader's run-time check of forbidden calls ({first.name}) while `{first.function}` runs, "
                "which this exercise does not allow")
    elif first.name.startswith("import "):
        what = (f"imports {first.name[len('import '):]} at run time while `{first.function}` runs, "
                "which this exercise does not allow")
    else:
        what = (f"uses {first.name}, which this exercise does not allow: `{first.function}` called it at run time "
                "through a name or path the source does not show")
    # helpers a forbidden function calls itself (`torch.autograd._make_grads`) are not counted
    more = len({r.name for r in seen if r.name != first.name and not any(
        part.startswith("_") for part in r.name.split("."))})
    return Check(False, what + (f" (and {more} more)" if more > 0 else ""),
                 "forbidden here: " + ", ".join(rules) + extra)


def _forbidden_checks(exercise: Exercise, ctx: UnitContext, region: list[int],
                      run: ExecutionRun) -> list[tuple[Any, Check]]:
    out = []
    seen = _seen_at_run_time(exercise, run)
    for i, rule in enumerate(exercise.forbidden):
        uses = uses_in(ctx.codes, roots=rule.functions, cells=region if rule.cells else ())
        static = not_allowed(uses, rule.rules, labels=ctx.labels(), dynamic=rule.dynamic)
        out.append((rule, _run_time_gate(static, rule.rules, seen.get(i, []))))
    return out


def _student_view(exercise: Exercise, spec: Any, fixtures: dict[str, Any], check: Check) -> Check:
    """A hidden test's check as the student sees it: which hidden case failed and what was
    wrong, without the inputs, the expected values or what the notebook returned for them
    (see :mod:`grader.units.redact`); the full message goes to the instructor's detail."""
    hidden = [(p, fixtures[p]) for p in spec.params
              if p in exercise.probes and exercise.probes[p].hidden and isinstance(fixtures[p], CallResults)]
    if not hidden:
        steps = [fixtures[p] for p in spec.params
                 if p in exercise.probes and exercise.probes[p].hidden and isinstance(fixtures[p], dict)]
        if not steps:
            return check
        # a training's measurements stay: its inputs are data sets no message prints
        message = training_message(check, steps)
        if message == check.message:
            return check
        return Check(check.passed, message, "\n".join(p for p in (f"full message: {check.message}", check.detail) if p),
                     check.fraction, check.data)
    case = None
    if len(hidden) == 1 and not check.passed:
        param, results = hidden[0]

        def alone(single: CallResults) -> Check:
            return _as_check(spec.fn(**{p: single if p == param else fixtures[p] for p in spec.params}))

        case = failing_case(alone, results, check)
    detail = "\n".join(part for part in (f"full message: {check.message}", check.detail) if part)
    return Check(check.passed, student_message(check, [r for _, r in hidden], case), detail, check.fraction,
                 check.data)


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
            notes.append(f"{record.where} {what.get(record.status, record.status)}".strip())
    return notes


def score_exercise(exercise: Exercise, ctx: UnitContext, run: ExecutionRun) -> UnitResult:
    """Run every test of ``exercise`` in this process and turn the checks into points."""
    region = exercise.region(ctx)
    fixtures = _fixtures(exercise, ctx, run, region)
    gates = _forbidden_checks(exercise, ctx, region, run)
    tests: list[TestResult] = []
    curves: list[dict[str, Any]] = []
    for spec in exercise.tests:
        name = f"{exercise.id}: {spec.title}"
        show = not spec.hidden or ctx.show_hidden_details
        try:
            from grader.units.fixtures import probe_failure  # the fixture guard (units/fixtures.py)
            check = (probe_failure(exercise, spec.params, fixtures)
                     or _as_check(spec.fn(**{p: fixtures[p] for p in spec.params})))
        except Exception:
            tests.append(TestResult(name=name, score=0.0, max_score=spec.points, status="error",
                                    message="internal grading error: this test failed to run; "
                                            "your instructor has been shown the details",
                                    hidden=spec.hidden, details={"traceback": traceback.format_exc()}))
            continue
        if not show:
            try:
                check = _student_view(exercise, spec, fixtures, check)
            except Exception:  # never risk the inputs: say less instead
                check = Check(check.passed, "this hidden test failed; its details are withheld",
                              f"full message: {check.message}\n{traceback.format_exc()}", check.fraction, check.data)
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
    labels = ctx.labels()
    figures = [{**fig, "label": labels.get(fig["cell"], f"cell {fig['cell'] + 1}")} for fig in run.figures(region)]
    extra: dict[str, Any] = {"section": exercise.section, "cells": region, "answers": answers, "figures": figures}
    if curves:
        extra["curves"] = curves
    if exercise.budget:
        extra["budget"] = dict(exercise.budget)
        seeds = {k.split("/", 1)[1]: v for k, v in ctx.seeds.items() if k.startswith(f"{exercise.id}/")}
        # a hidden probe's seed is the instructor's (it follows from the secret and the id)
        extra["seeds"] = {k: v for k, v in seeds.items()
                          if ctx.show_hidden_details or not (k in exercise.probes and exercise.probes[k].hidden)}
    return UnitResult(id=exercise.id, title=exercise.title, kind="exercise", version=exercise.version,
                      tests=tests, notes=notes, extra=extra)
