"""Exports of a gradebook: a CSV grade sheet, Gradescope ``results.json`` files, JUnit XML.

All read the newest attempt of each student, as reviewed: a TA's overrides replace the
automatic scores they name and hand-marked items (``grade review``) count as tests of
their unit (see :mod:`grader.classroom.review_store`). A submission that could not be
graded (``invalid`` or ``error``) appears as one failed test saying why, worth no
points, so no export silently drops a student.

The CSV compares students: per unit and in total the points, the maximum and the
percentage, rounded by the one rule of ``review_store`` (points 2 decimals, percent 1);
the Gradescope and JUnit files keep full precision.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.classroom.gradebook import Gradebook, StoredSubmission
from grader.classroom.review_store import apply_reviews, class_items, load_reviews
from grader.rounding import percent, round_percent, round_points
from grader.report.escape import csv_frame, file_name
from grader.report.gradescope import to_gradescope
from grader.report.junit import to_junit
from grader.results import SubmissionResult, TestResult, UnitResult

__all__ = ["submission_result", "reviewed_submissions", "grade_sheet", "SHEET_TAIL", "write_csv", "write_gradescope",
           "write_junit", "write_html_reports", "units_in", "how_to_fix", "sheet_csv"]


# What a student can do about a submission that could not be graded, by the error's words.
FIXES = [
    ("not valid JSON", "the file is damaged or is not a notebook: open it in Jupyter (or Colab), save it "
                       "(File > Save, or File > Download > .ipynb) and upload that .ipynb file again"),
    ("not a Jupyter notebook", "upload the .ipynb file Jupyter saves, not an export (PDF, HTML, .py) or a copy "
                               "of its text"),
    ("nbformat", "save the notebook with a current Jupyter (File > Save) and upload it again"),
    ("no exercise found", "keep the assignment's function names and the notebook's exercise tags (start from "
                          "the notebook handed out), or ask the course staff which exercise it is"),
    ("no notebook", "upload your work as a Jupyter notebook (.ipynb)"),
]


def how_to_fix(message: str) -> str:
    """A sentence telling the student how to make an invalid submission gradable."""
    for words, fix in FIXES:
        if words.lower() in message.lower():
            return fix
    return "open the notebook in Jupyter, check that it opens and runs from the top, save it and upload it again"


def submission_result(sub: StoredSubmission, seed_policy: str = "") -> SubmissionResult:
    """The stored result, or for a submission not graded a result of one test saying why (and how to fix it)."""
    if sub.result is not None:
        return sub.result
    if sub.status == "invalid":
        title = "Your submission could not be graded"
        message = f"What went wrong: {sub.message}\nHow to fix it: {how_to_fix(sub.message)}."
        status = "failed"
    else:
        title = "The grader failed on your submission"
        message = ("This is not a problem with your work: the grader itself failed (internal grading error). "
                   "The course staff will grade it again.")
        status = "error"
    test = TestResult(name="submission: gradable notebook", score=0.0, max_score=0.0, status=status, message=message)
    unit = UnitResult(id="submission", title=title, tests=[test])
    return SubmissionResult(sources=[f["path"] for f in sub.files] or [sub.source], units=[unit], student=sub.student,
                            seed_policy=seed_policy)


def reviewed_submissions(book: Gradebook) -> list[tuple[StoredSubmission, SubmissionResult]]:
    """Each newest submission with its result as reviewed (overrides and hand marks applied)."""
    subs = book.submissions()
    policies = {run["id"]: run["seed_policy"] for run in book.runs()}
    reviews = load_reviews(book.conn)
    expected = class_items(s.result for s in subs)
    out = []
    for sub in subs:
        reviewed = apply_reviews(sub.result, sub.student, reviews, expected)
        out.append((sub, reviewed if reviewed is not None else submission_result(sub, policies.get(sub.run_id, ""))))
    return out


# After the per-unit columns: totals, then what the review changed, then status and why.
SHEET_TAIL = ["total", "total_max", "percent", "automatic", "hand_marked", "hand_unmarked", "overrides",
              "review_notes", "status", "reason"]


def _review_notes(result: SubmissionResult) -> tuple[float, int, int, str]:
    """Hand points, unmarked items, overrides and one line listing them."""
    hand, unmarked, overrides, notes = 0.0, 0, 0, []
    for unit in result.units:
        for test in unit.tests:
            if "override" in test.details:
                o = test.details["override"]
                overrides += 1
                notes.append(f"{unit.id} / {test.name}: {round_points(o['auto_score']):g} -> "
                             f"{round_points(o['score']):g} by {o['grader']} ({o['reason']})")
            elif "hand" in test.details:
                h = test.details["hand"]
                hand += test.score
                unmarked += not h["marked"]
                if h["marked"]:
                    notes.append(f"{unit.id} / {h['item']}: {round_points(test.score):g} of "
                                 f"{round_points(test.max_score):g} by {h['grader']}"
                                 + (f" ({h['comment']})" if h.get("comment") else ""))
    return hand, unmarked, overrides, "; ".join(notes)


def grade_sheet(book: Gradebook) -> Any:
    """A pandas DataFrame: one row per student; per unit points, maximum and percent; totals; review; status."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    units: list[str] = []
    for sub, result in reviewed_submissions(book):
        row: dict[str, Any] = {"student": sub.student}
        graded = sub.result is not None
        for unit in result.units if graded else []:
            if unit.id not in units:
                units.append(unit.id)
            row[unit.id] = round_points(unit.score)
            row[f"{unit.id}_max"] = round_points(unit.max_score)
            row[f"{unit.id}_percent"] = round_percent(percent(unit.score, unit.max_score))
        hand, unmarked, overrides, notes = _review_notes(result) if graded else (0.0, 0, 0, "")
        row.update({
            "total": round_points(result.score) if graded else 0.0,
            "total_max": round_points(result.max_score) if graded else None,
            "percent": round_percent(percent(result.score, result.max_score)) if graded else None,
            "automatic": round_points(sub.result.score) if sub.result else None,
            "hand_marked": round_points(hand), "hand_unmarked": unmarked, "overrides": overrides,
            "review_notes": notes,
            "status": sub.status if sub.status != "graded" else sub.outcome,
            # Why a row is not a plain "completed": the invalid file's problem, the timeout, the crash.
            "reason": sub.message.strip().splitlines()[0] if sub.message.strip() else "",
        })
        rows.append(row)
    per_unit = [c for u in sorted(units) for c in (u, f"{u}_max", f"{u}_percent")]
    return pd.DataFrame(rows, columns=["student", *per_unit, *SHEET_TAIL])


def write_csv(book: Gradebook, path: Path) -> int:
    """Write the grade sheet as CSV; returns the number of students."""
    sheet = grade_sheet(book)
    csv_frame(sheet).to_csv(path, index=False)  # formulas in student-chosen text are neutralised
    return len(sheet)


def sheet_csv(db: Path) -> str:
    """The grade sheet of gradebook ``db`` as CSV text (what ``grade review`` serves)."""
    from grader.classroom.gradebook import open_gradebook

    path = Path(tempfile.mkstemp(suffix=".csv")[1])
    try:
        with open_gradebook(db) as book:
            write_csv(book, path)
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)


def _safe_name(student: str) -> str:
    return file_name(student)  # distinct and reversible per id: see docs/GRADEBOOK.md


def write_gradescope(book: Gradebook, folder: Path) -> int:
    """``folder/<student>/results.json`` for each student; returns how many were written."""
    count = 0
    for sub, result in reviewed_submissions(book):
        target = folder / _safe_name(sub.student) / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = to_gradescope(result)
        if sub.status != "graded":
            doc["output"] = sub.message
        target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        count += 1
    return count


def write_junit(book: Gradebook, path: Path) -> int:
    """One JUnit XML file for the class; returns the number of submissions in it."""
    results = [result for _, result in reviewed_submissions(book)]
    path.write_text(to_junit(results), encoding="utf-8")
    return len(results)


def units_in(book: Gradebook) -> set[str]:
    """Ids of the exercises and homeworks in the newest submissions."""
    return {unit.id for sub in book.submissions() if sub.result for unit in sub.result.units}


def write_html_reports(book: Gradebook, folder: Path, *, references: Mapping[str, Sequence[dict[str, Any]]]) -> int:
    """``folder/<student>.html`` (self-contained) for each student; returns how many."""
    from grader.report.html import write_html

    count = 0
    for sub, result in reviewed_submissions(book):
        path = folder / f"{_safe_name(sub.student)}.html"
        try:
            write_html([result], path, references=references)
        except Exception as exc:  # one row's rendering bug must not cost the others their pages
            _write_fallback_page(path, sub.student, f"{type(exc).__name__}: {exc}")
        count += 1
    return count


def _write_fallback_page(path: Path, student: str, problem: str) -> None:
    """A plain page saying the report could not be drawn; the grade itself is in the gradebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>d2l-grade report</title>"
        f"<h1>Report for {html.escape(student)}</h1>"
        "<p>The grade is recorded, but this page could not be drawn because of a grader bug; "
        "the course staff can see the details with <code>grade export</code>.</p>"
        f"<pre>{html.escape(problem[:2000])}</pre>", encoding="utf-8")
