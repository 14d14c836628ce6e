"""Class statistics: exact numbers on a made-up gradebook, and the CLI on the graded class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from classroom import GradedClass, run_cli
from grader import results as R
from grader.classroom.gradebook import Record, open_gradebook
from grader.report.class_stats import render_stats_html, sparkline
from grader.classroom.stats import class_stats, failure_kind


def _submission(student: str, rule: tuple[float, str], shape: tuple[float, str]) -> Record:
    tests = [R.TestResult("ex: rule", rule[0], 4.0, "passed" if rule[0] == 4 else "failed", rule[1]),
             R.TestResult("ex: shape", shape[0], 2.0, "passed" if shape[0] == 2 else "failed", shape[1])]
    result = R.SubmissionResult(sources=[f"{student}.ipynb"], units=[R.UnitResult("ex", "Ex", tests=tests)],
                                student=student)
    return Record(student=student, source=f"{student}.ipynb", files=[], file_hash=student, unit_versions={"ex": "1"},
                  status="graded", outcome="completed", result=result)


@pytest.fixture
def book(tmp_path: Path):
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = book.start_run(command="t", backend="local", workers=1, seed_policy="public", options={},
                             exercise_versions={}, environment={}, grader_version="0")
        book.record(run, _submission("a", (4, ""), (2, "")))
        book.record(run, _submission("b", (1, "3 of 12 pairs wrong\ndetail"), (0, "x3 has shape (2, 3)")))
        book.record(run, _submission("c", (2, "6 of 12 pairs wrong"), (0, "x3 is missing")))
        book.record(run, _submission("d", (0, "`f` raised ValueError"), (0, "x3 has shape (4, 1)")))
        book.record(run, Record(student="e", source="e.ipynb", files=[], file_hash="e", unit_versions={},
                                status="invalid", message="not JSON"))
        yield book


def test_failure_kinds_mask_numbers() -> None:
    assert failure_kind("3 of 12 pairs wrong\nmore") == "# of # pairs wrong"
    assert failure_kind("x3 has shape (2, 3), expected 1.5e-3") == "x# has shape (#, #), expected #"
    assert failure_kind("") == "(no message)"


def test_class_stats_numbers(book) -> None:
    stats = class_stats(book)
    assert (stats.students, stats.statuses) == (5, {"completed": 4, "invalid": 1})
    (ex,) = stats.exercises
    assert (ex.unit, ex.count, ex.max_score, ex.mean, ex.median, ex.pass_rate) == ("ex", 4, 6.0, 2.25, 1.5, 0.25)
    assert sorted(ex.scores) == [0.0, 1.0, 2.0, 6.0]
    rule, shape = ex.tests
    assert (rule.name, rule.count, rule.mean, rule.pass_rate) == ("ex: rule", 4, 1.75, 0.25)
    assert rule.failures == [("# of # pairs wrong", 2, "3 of 12 pairs wrong"), ("`f` raised ValueError", 1,
                                                                              "`f` raised ValueError")]
    assert (shape.mean, shape.pass_rate) == (0.5, 0.25)
    assert shape.failures[0] == ("x# has shape (#, #)", 2, "x3 has shape (2, 3)")


def test_sparkline_and_html(book) -> None:
    assert sparkline([0, 1, 2, 6], 6, bins=6) == "███▁▁█".replace("▁", " ")
    page = render_stats_html(class_stats(book))
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2
    assert "<li>2&times; 3 of 12 pairs wrong</li>" in page
    assert "https://" not in page and "<script" not in page


@pytest.mark.kernel
def test_stats_command(graded_class: GradedClass, tmp_path: Path) -> None:
    done = run_cli("stats", "--db", str(graded_class.db), "--html", str(tmp_path / "stats.html"), COLUMNS="250")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "6 students (1 cell_timeout, 3 completed, 1 dead_kernel, 1 invalid)"
    assert any(line.startswith("broadcasting: 4 submissions, mean 6.25/9, median 8, full marks 50%") for line in lines)
    assert any(line.startswith("sin_derivative: 2 submissions, mean 4/8, median 4, full marks 50%") for line in lines)
    assert "1x `sin_derivative` raised NotImplementedError (the exercise is not done yet)" in done.stdout
    page = (tmp_path / "stats.html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'<img alt="([^"]*)"', page)) == [
        "broadcasting pass rates", "broadcasting score histogram", "sin_derivative pass rates",
        "sin_derivative score histogram"]
