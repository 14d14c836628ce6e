"""Exports of a gradebook: a CSV grade sheet, Gradescope ``results.json`` files, JUnit XML.

All read the newest attempt of each student. A submission that could not be graded
(``invalid`` or ``error``) appears as one failed test saying why, worth no points, so
no export silently drops a student.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.classroom.gradebook import Gradebook, StoredSubmission
from grader.report.gradescope import to_gradescope
from grader.report.junit import to_junit
from grader.results import SubmissionResult, TestResult, UnitResult

__all__ = ["submission_result", "grade_sheet", "write_csv", "write_gradescope", "write_junit", "write_html_reports",
           "units_in"]


def submission_result(sub: StoredSubmission) -> SubmissionResult:
    """The stored result, or for a submission not graded a result of one test saying why."""
    if sub.result is not None:
        return sub.result
    why = "the notebook could not be graded" if sub.status == "invalid" else "internal grading error"
    test = TestResult(name="submission: gradable notebook", score=0.0, max_score=0.0,
                      status="failed" if sub.status == "invalid" else "error", message=f"{why}: {sub.message}")
    unit = UnitResult(id="submission", title="The submission could be graded", tests=[test])
    return SubmissionResult(sources=[f["path"] for f in sub.files] or [sub.source], units=[unit], student=sub.student)


def grade_sheet(book: Gradebook) -> Any:
    """A pandas DataFrame: one row per student, one column per exercise (points), total, status."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    units: list[str] = []
    for sub in book.submissions():
        row: dict[str, Any] = {"student": sub.student}
        for unit in sub.result.units if sub.result else []:
            if unit.id not in units:
                units.append(unit.id)
            row[unit.id] = unit.score
        row["total"] = sub.result.score if sub.result else 0.0
        row["status"] = sub.status if sub.status != "graded" else sub.outcome
        rows.append(row)
    return pd.DataFrame(rows, columns=["student", *sorted(units), "total", "status"])


def write_csv(book: Gradebook, path: Path) -> int:
    """Write the grade sheet as CSV; returns the number of students."""
    sheet = grade_sheet(book)
    sheet.to_csv(path, index=False)
    return len(sheet)


def _safe_name(student: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in student).strip(".")
    return cleaned or "_"


def write_gradescope(book: Gradebook, folder: Path) -> int:
    """``folder/<student>/results.json`` for each student; returns how many were written."""
    count = 0
    for sub in book.submissions():
        target = folder / _safe_name(sub.student) / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = to_gradescope(submission_result(sub))
        if sub.status != "graded":
            doc["output"] = sub.message
        target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        count += 1
    return count


def write_junit(book: Gradebook, path: Path) -> int:
    """One JUnit XML file for the class; returns the number of submissions in it."""
    subs = book.submissions()
    path.write_text(to_junit([submission_result(s) for s in subs]), encoding="utf-8")
    return len(subs)


def units_in(book: Gradebook) -> set[str]:
    """Ids of the exercises and homeworks in the newest submissions."""
    return {unit.id for sub in book.submissions() if sub.result for unit in sub.result.units}


def write_html_reports(book: Gradebook, folder: Path, *, references: Mapping[str, Sequence[dict[str, Any]]]) -> int:
    """``folder/<student>.html`` (self-contained) for each student; returns how many."""
    from grader.report.html import write_html

    count = 0
    for sub in book.submissions():
        write_html([submission_result(sub)], folder / f"{_safe_name(sub.student)}.html", references=references)
        count += 1
    return count
