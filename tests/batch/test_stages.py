"""Each stage of the batch survives one submission's failure (kernel-free): grading,
static analysis, storing and reading back a row, rendering its page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import grader.classroom.graded as graded_module
import grader.classroom.submissions as submissions_module
from grader import results
from grader.classroom.batch import unstarted
from grader.classroom.gradebook import Record, open_gradebook
from grader.classroom.graded import grade_submission
from grader.classroom.submissions import describe, find_submissions
from grader.report.export import write_html_reports
from grader.results import SubmissionResult, UnitResult
from nbfactory import code, notebook, write


def _deep(*args, **kwargs):  # type: ignore[no-untyped-def]
    def down(n: int) -> int:
        return down(n + 1)
    return down(0)


def test_any_exception_of_grading_is_an_error_row_with_its_traceback(monkeypatch, options) -> None:  # type: ignore[no-untyped-def]
    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        _deep()

    monkeypatch.setattr(graded_module, "grade_async", broken)
    graded = asyncio.run(grade_submission([Path("a.ipynb")], student="a", options=options))
    first, *trace = graded.message.splitlines()
    assert (graded.status, first) == ("error", "internal grading error: RecursionError: maximum recursion depth "
                                               "exceeded")
    assert "Traceback (most recent call last):" in trace and "in down" in graded.message
    assert len(graded.message) < 21_000


def test_static_analysis_failing_on_one_upload_is_that_uploads_error_row(monkeypatch, tmp_path: Path,
                                                                         options) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "class"
    write(notebook([code("# ada\nx3 = 1")], exercises=["broadcasting"]), root / "ada.ipynb")
    write(notebook([code("x3 = 1")], exercises=["broadcasting"]), root / "bo.ipynb")
    real = submissions_module.analyse  # as if static analysis had a bug that ada's notebook triggers
    monkeypatch.setattr(submissions_module, "analyse", lambda cells: _deep() if "# ada" in cells[0].source else real(cells))
    ada, bo = describe(find_submissions(root), root, options=options)
    assert ada.fault.startswith("the notebook could not be analysed (RecursionError: maximum recursion depth exceeded)")
    assert "Traceback" in ada.fault and not ada.problem
    assert not bo.fault and bo.unit_versions == {"broadcasting": "1"}
    row = unstarted(ada)
    assert (row.status, row.message) == ("error", ada.fault)


def _result(**extra: object) -> SubmissionResult:
    test = results.TestResult("broadcasting: rule", 4.0, 4.0, "passed", "fine \ud800 text")
    unit = UnitResult("broadcasting", "B", tests=[test], extra=dict(extra))
    return SubmissionResult(sources=["a.ipynb"], units=[unit], student="a")


def _run(book) -> int:  # type: ignore[no-untyped-def]
    return book.start_run(command="t", backend="local", workers=1, seed_policy="public", options={},
                          exercise_versions={}, environment={"x": np.zeros(2)}, grader_version="0")


def _record(student: str, result: SubmissionResult | None) -> Record:
    return Record(student=student, source=f"{student}.ipynb", files=[], file_hash=student, unit_versions={},
                  status="graded", outcome="completed", result=result)


def test_values_json_cannot_hold_are_stored_as_markers_and_named(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        book.record(_run(book), _record("a", _result(env={"array": np.zeros(3), "ok": 1}, when=object())))
        (row,) = book.submissions()
    assert (row.status, row.score) == ("graded", 4.0)
    assert row.message == ("\n[gradebook: 2 values could not be stored as JSON: result.units[0].extra.env.array "
                           "(ndarray), result.units[0].extra.when (object)]")
    assert row.result is not None and row.result.units[0].extra == {
        "env": {"array": {"__unencodable__": "ndarray"}, "ok": 1}, "when": {"__unencodable__": "object"}}
    assert row.result.tests[0].message == "fine ? text"


def test_an_unreadable_stored_row_still_gets_its_page(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = _run(book)
        book.record(run, _record("a", _result()))
        book.record(run, _record("b", _result()))
        book.conn.execute("UPDATE submissions SET result_json = '{\"units\": 5}' WHERE student_id = 'b'")
    with open_gradebook(tmp_path / "gb.sqlite") as book:
        a, b = book.submissions()
        assert a.result is not None and b.result is None
        assert b.message.startswith("the stored result could not be read (TypeError: ")
        assert write_html_reports(book, tmp_path / "html", references={}) == 2
    assert "internal grading error" in (tmp_path / "html" / "b.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("size", [17 * 1024 * 1024])
def test_a_result_over_the_cap_keeps_its_scores_and_loses_its_details(tmp_path: Path, size: int) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        book.record(_run(book), _record("a", _result(log="x" * size)))
        (row,) = book.submissions()
    assert row.score == 4.0 and row.result is not None
    assert row.result.units[0].extra == {"dropped": "too large to store"}
    assert row.message.endswith("over the cap of 16,777,216: test details and extra were dropped]")


def test_a_page_that_fails_to_render_does_not_cost_the_others_theirs(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import grader.report.html as html_module

    real = html_module.write_html

    def broken_for_b(results, path, **kwargs):  # type: ignore[no-untyped-def]
        if path.stem == "b":
            raise KeyError("lines")
        return real(results, path, **kwargs)

    monkeypatch.setattr(html_module, "write_html", broken_for_b)
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = _run(book)
        for student in ("a", "b", "c"):
            book.record(run, _record(student, _result()))
        assert write_html_reports(book, tmp_path / "html", references={}) == 3
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (tmp_path / "html").glob("*.html")}
    assert sorted(pages) == ["a", "b", "c"]
    assert "could not be drawn because of a grader bug" in pages["b"] and "KeyError: &#x27;lines&#x27;" in pages["b"]
    assert "could not be drawn" not in pages["a"] + pages["c"]
