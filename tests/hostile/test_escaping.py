"""Nothing a student writes is obeyed by what staff read it with: spreadsheets (formulas),
terminals (control sequences) and JUnit readers (invalid XML). Kernel-free."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from grader.classroom.gradebook import Record, open_gradebook
from grader.classroom.stats import class_stats
from grader.report.class_stats import print_stats
from grader.report.escape import csv_cell, terminal_text, xml_text
from grader.report.export import write_csv
from grader.report.junit import to_junit
from grader.report.terminal import render
from grader import results
from grader.results import CellRecord, ExecutionSummary, SubmissionResult, UnitResult

# A window-title change, a colour, a cursor move, a bell, and a right-to-left override.
ESC_NAME = "\x1b]0;pwned\x07\x1b[31mEvil\x1b[2JError\u202e"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[31mEvil\\x1b[2JError\\u202e"


@pytest.mark.parametrize("value, cell", [
    ("=2+5", "'=2+5"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("alice", "alice"), ("a=1", "a=1"), (-1.5, -1.5), (3, 3), (None, None),
])
def test_csv_cells_starting_a_formula_are_neutralised(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_terminal_and_xml_text() -> None:
    assert terminal_text(ESC_NAME) == SHOWN
    assert terminal_text("two\nlines\tand tabs, 한국어") == "two\nlines\tand tabs, 한국어"
    assert xml_text("a\x00b\x1bc\ud800d\ufffee\tf\ng") == "a\\x00b\\x1bc\\ud800d\\ufffee\tf\ng"


def _result(student: str) -> SubmissionResult:
    test = results.TestResult("broadcasting: rule", 0.0, 4.0, "failed", f"broadcast_shape raised {ESC_NAME}: no\x00")
    cell = CellRecord(index=0, status="error", ename=ESC_NAME, evalue="\x1b[1A\x1b[2Kfine")
    run = ExecutionSummary(cells=[cell], network_attempts=["connect to \x1b[5m"], malformed=["event \x1b[0m"])
    return SubmissionResult(sources=[f"{student}.ipynb"], units=[UnitResult("broadcasting", "B", tests=[test])],
                            executions=[run], student=student)


def _book(path: Path, students: list[str]) -> None:
    with open_gradebook(path, write=True) as book:
        run = book.start_run(command="t", backend="local", workers=1, seed_policy="public", options={},
                             exercise_versions={}, environment={}, grader_version="0")
        for student in students:
            book.record(run, Record(student=student, source=f"{student}.ipynb", files=[], file_hash=student,
                                    unit_versions={}, status="graded", outcome="completed", result=_result(student),
                                    message="@cmd|' /C calc'!A0"))


def test_the_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    _book(tmp_path / "gb.sqlite", ["=2+5", "alice"])
    with open_gradebook(tmp_path / "gb.sqlite") as book:
        write_csv(book, tmp_path / "grades.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8"))))
    cells = [c for row in rows for c in row]
    assert [row[0] for row in rows[1:]] == ["'=2+5", "alice"]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or c[:1] == "-" and not _number(c)]


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_the_terminal_report_shows_control_characters_instead_of_obeying_them() -> None:
    out = io.StringIO()
    render(_result("\x1b[8mmallory"), Console(file=out, width=200, highlight=False, color_system=None))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert f"cell 1: {SHOWN}: \\x1b[1A\\x1b[2Kfine" in text
    assert "(student \\x1b[8mmallory)" in text
    assert "refused from the kernel (malformed): event \\x1b[0m" in text


def test_grade_stats_shows_control_characters_instead_of_obeying_them(tmp_path: Path) -> None:
    _book(tmp_path / "gb.sqlite", ["alice", "bob"])
    out = io.StringIO()
    with open_gradebook(tmp_path / "gb.sqlite") as book:
        print_stats(class_stats(book), Console(file=out, width=300, highlight=False, color_system=None))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert f"2x broadcast_shape raised {SHOWN}: no\\x00" in text


def test_junit_xml_stays_valid() -> None:
    xml = to_junit([_result("a\x00\x1bb"), _result("\ud800c")])
    root = ET.fromstring(xml.encode("utf-8"))  # a parser refuses invalid XML 1.0
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["a\\x00\\x1bb::broadcasting", "\\ud800c::broadcasting"]
    failure = suites[0].find("testcase/failure")
    assert failure is not None and failure.get("message") == f"broadcast_shape raised {xml_text(ESC_NAME)}: no\\x00"
