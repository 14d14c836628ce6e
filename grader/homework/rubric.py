"""Points for a free-form homework: a rubric declared as data, scored with every point explained.

Per section: *present* (found by heading or code), *ran* (share of its code cells that ran,
cells raising the error their exercise is about counting as run, cells needing a module
or the network the grading machine does not offer left out), *checkpoints* (share of
measurable checkpoints met), *discussion* (the student's own text is there, at least
``discussion_min_chars`` characters; never judged for quality). Then the exercises
(``exercise_each`` per exercise answered correctly, a share of it for one recognised but
wrong or not measurable, up to ``exercises``), and the trained models (each goal: a
model of a section, of given classes, reaching an accuracy measured by the grader).
Each rubric item becomes one test of the result, its message listing every point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from grader.results import TestResult

__all__ = ["ModelGoal", "Rubric", "SectionScore", "score_section", "score_exercises", "score_models"]


@dataclass(frozen=True)
class ModelGoal:
    """A model the homework should train: in ``section``, of one of ``classes`` (any if
    empty), reaching ``min_accuracy`` on the 10,000 test images as the grader measures it."""

    section: str
    title: str
    points: float
    min_accuracy: float
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rubric:
    """Points of each item (see the module's docstring)."""

    present: float = 1.0
    ran: float = 2.0
    checkpoints: float = 2.0
    discussion: float = 1.0
    discussion_min_chars: int = 40
    exercises: float = 14.0
    exercise_each: float = 3.5
    attempted_share: float = 0.4
    models: tuple[ModelGoal, ...] = ()

    def section_max(self, has_code: bool, has_checkpoints: bool) -> float:
        """Points a section is worth."""
        return self.present + self.discussion + (self.ran if has_code else 0.0) + \
            (self.checkpoints if has_code and has_checkpoints else 0.0)

    def describe(self) -> dict[str, Any]:
        """The rubric as plain JSON."""
        return {"present": self.present, "ran": self.ran, "checkpoints": self.checkpoints,
                "discussion": self.discussion, "discussion_min_chars": self.discussion_min_chars,
                "exercises": self.exercises, "exercise_each": self.exercise_each,
                "attempted_share": self.attempted_share,
                "models": [{"section": g.section, "title": g.title, "points": g.points,
                            "min_accuracy": g.min_accuracy, "classes": list(g.classes)} for g in self.models]}


@dataclass
class SectionScore:
    """The facts one section's points come from."""

    id: str
    title: str
    present: bool
    how: str
    has_code: bool
    code_cells: int = 0
    ok: int = 0
    expected: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    has_checkpoints: bool = False
    discussion_chars: int = 0


def _pts(x: float) -> str:
    return f"{round(x, 2):g}"


def _line(label: str, got: float, of: float, why: str) -> str:
    return f"{label} {_pts(got)}/{_pts(of)}: {why}"


def _ran(rubric: Rubric, s: SectionScore) -> tuple[float, str]:
    counted = s.code_cells - len(s.environment)
    if s.code_cells == 0:
        return 0.0, "no code cells in this section"
    if counted <= 0:
        return rubric.ran, f"{s.code_cells} cells, all needing what the grading machine lacks ({s.environment[0]})"
    good = s.ok + len(s.expected)
    why = f"{good} of {counted} code cells ran"
    if s.expected:
        why += f"; raised on purpose: {', '.join(s.expected)}"
    if s.failed:
        why += f"; failed: {', '.join(s.failed[:3])}" + (f" and {len(s.failed) - 3} more" if len(s.failed) > 3 else "")
    if s.environment:
        why += f"; not counted: {', '.join(s.environment[:2])}"
    return rubric.ran * good / counted, why


def _checkpoints(rubric: Rubric, s: SectionScore, ran_share: float) -> tuple[float, str]:
    measurable = [c for c in s.checkpoints if c["status"] != "unmeasurable"]
    passed = [c for c in measurable if c["status"] == "passed"]
    if not measurable:
        if not s.checkpoints:
            return 0.0, "none measured"
        return rubric.checkpoints * ran_share, (f"none measurable ({s.checkpoints[0]['message']}); "
                                               "credited as the code ran")
    why = f"{len(passed)} of {len(measurable)} met"
    misses = [f"{c['title']} ({c['message']})" for c in measurable if c["status"] != "passed"]
    if misses:
        why += "; missed: " + "; ".join(misses[:3])
    skipped = len(s.checkpoints) - len(measurable)
    if skipped:
        why += f"; {skipped} not measurable (a merged cell or the notebook's own variant of the code)"
    return rubric.checkpoints * len(passed) / len(measurable), why


def score_section(rubric: Rubric, s: SectionScore) -> TestResult:
    """The test of one section, with each item's points explained."""
    total = rubric.section_max(s.has_code, s.has_checkpoints)
    name = f"{s.id} {s.title}"
    if not s.present:
        return TestResult(name=name, score=0.0, max_score=total, status="failed",
                          message=f"0/{_pts(total)}: section not found (no heading naming it and none of its book code)")
    lines = [_line("present", rubric.present, rubric.present, f"found by {s.how}")]
    score = rubric.present
    ran_share = 0.0
    if s.has_code:
        got, why = _ran(rubric, s)
        ran_share = got / rubric.ran if rubric.ran else 0.0
        lines.append(_line("book code ran", got, rubric.ran, why))
        score += got
        if s.has_checkpoints:
            got, why = _checkpoints(rubric, s, ran_share)
            lines.append(_line("checkpoints", got, rubric.checkpoints, why))
            score += got
    enough = s.discussion_chars >= rubric.discussion_min_chars
    got = rubric.discussion if enough else 0.0
    lines.append(_line("discussion", got, rubric.discussion,
                       f"{s.discussion_chars} characters of the student's own text"
                       + ("" if enough else f" (at least {rubric.discussion_min_chars} needed)")))
    score += got
    score = round(score, 4)
    return TestResult(name=name, score=score, max_score=total, status="passed" if score >= total - 1e-9 else "failed",
                      message="\n".join(lines))


def score_exercises(rubric: Rubric, exercises: Sequence[dict[str, Any]]) -> TestResult:
    """The exercises test: each recognised exercise and what its answer earned."""
    lines, score = [], 0.0
    for ex in exercises:
        share = 1.0 if ex["status"] == "correct" else rubric.attempted_share
        got = rubric.exercise_each * share
        score += got
        lines.append(f"{ex['id']} {ex['title']}: {ex['status']} (+{_pts(got)}): {ex['message']}")
    capped = min(score, rubric.exercises)
    if not exercises:
        lines.append("no exercise recognised from the code (answers in prose are left to the staff)")
    elif capped < score:
        lines.append(f"capped at {_pts(rubric.exercises)}")
    capped = round(capped, 4)
    return TestResult(name="Exercises", score=capped, max_score=rubric.exercises,
                      status="passed" if capped >= rubric.exercises - 1e-9 else "failed",
                      message=f"{_pts(capped)}/{_pts(rubric.exercises)}\n" + "\n".join(lines))


def score_models(rubric: Rubric, models: Sequence[dict[str, Any]]) -> list[TestResult]:
    """One test per model goal, from the models the grader measured."""
    tests = []
    for goal in rubric.models:
        candidates = [m for m in models if m["section"] == goal.section and (not goal.classes or m["cls"] in goal.classes)]
        name = f"Model: {goal.title}"
        measured = [m for m in candidates if m["trained"] and m["accuracy"] is not None]
        # rebuilt evidence only: the kernel's own predictions could have been looked up from the labels it holds
        trained = [m for m in measured if m["evidence"] == "rebuilt"]
        if not candidates:
            message = f"no model of {' or '.join(goal.classes) or 'any class'} was trained or evaluated in {goal.section}"
            tests.append(TestResult(name, 0.0, goal.points, "failed", f"0/{_pts(goal.points)}: {message}"))
            continue
        best = max(trained, key=lambda m: m["accuracy"], default=None)
        if best is None:
            m = measured[0] if measured else candidates[0]
            why = "its parameters never changed: it was not trained" if not m["trained"] else (
                f"measured only from {m['evidence']}" if m["accuracy"] is not None else (m["reason"] or "not measured"))
            tests.append(TestResult(name, 0.0, goal.points, "failed", f"0/{_pts(goal.points)}: {m['cls']}: {why}"))
            continue
        evidence = "rebuilt here from its parameters"
        where = best.get("cell_label") or f"cell {best['cell'] + 1 if best['cell'] is not None else '?'}"
        text = (f"{best['cls']} ({where}): test accuracy "
                f"{best['accuracy']:.4f} on 10,000 images, {evidence}; needed {goal.min_accuracy:g}")
        ok = best["accuracy"] >= goal.min_accuracy
        got = goal.points if ok else 0.0
        tests.append(TestResult(name, got, goal.points, "passed" if ok else "failed", f"{_pts(got)}/{_pts(goal.points)}: {text}"))
    return tests
