"""A small gradebook made without kernels: results written as `grade batch` would store them."""

from __future__ import annotations

from pathlib import Path

from grader.classroom.gradebook import Record, open_gradebook
from grader.results import SubmissionResult, TestResult, UnitResult


def _weights(first: float, answer: str | None) -> UnitResult:
    tests = [TestResult("weight_init: statistics per scheme", first, 4.0, "passed" if first == 4.0 else "failed",
                        "2 of 3 schemes right" if first < 4 else "all schemes right"),
             TestResult("weight_init: zero init learns", 3.0, 3.0, "passed", "loss falls")]
    answers = [{"cell": 7, "text": answer}] if answer else []
    return UnitResult("weight_init", "Zero or large initial weights", tests=tests, extra={"answers": answers})


def _broadcasting(score: float) -> UnitResult:
    return UnitResult("broadcasting", "Broadcasting with 3-D tensors", tests=[
        TestResult("broadcasting: example pairs", score, 9.0, "passed" if score == 9 else "failed",
                   f"{score:g} of 9")])


def make_gradebook(path: Path) -> Path:
    """alice: weight_init 6/7 with a written answer + broadcasting 9/9; bob: weight_init 7/7, no
    answer; carol: a file that is not JSON (invalid); dave: broadcasting 2/3 of 9 (6.6667)."""
    rows = [
        ("alice", "graded", "completed", "", SubmissionResult(["alice.ipynb"], units=[
            _weights(3.0, "Zero weights keep every hidden unit identical, so they never differ."),
            _broadcasting(9.0)], student="alice")),
        ("bob", "graded", "completed", "", SubmissionResult(["bob.ipynb"], units=[_weights(4.0, None)],
                                                              student="bob")),
        ("carol", "invalid", "", "carol.ipynb: is not valid JSON (line 1 column 11)", None),
        ("dave", "graded", "completed", "", SubmissionResult(["dave.ipynb"], units=[_broadcasting(6.0 + 2 / 3)],
                                                               student="dave")),
    ]
    with open_gradebook(path, write=True) as book:
        run = book.start_run(command="grade batch class --db x", backend="local", workers=1, seed_policy="secret",
                             options={}, exercise_versions={}, environment={}, grader_version="test")
        for student, status, outcome, message, result in rows:
            book.record(run, Record(student=student, source=f"{student}.ipynb",
                                    files=[{"path": f"{student}.ipynb", "sha256": student}], file_hash=student,
                                    unit_versions={}, status=status, outcome=outcome, message=message,
                                    result=result))
        book.finish_run(run, {})
    return path
