"""`grade batch` on a small class (built once, see conftest): broken notebooks recorded
and the batch going on, folders as one submission, and the exports' contents."""

from __future__ import annotations

import csv
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.registry import exercises, homeworks
from classroom import GradedClass, run_cli

pytestmark = pytest.mark.kernel


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_every_submission_is_recorded_whatever_it_did(graded_class: GradedClass) -> None:
    assert graded_class.returncode == 0, graded_class.stderr
    rows = _rows(graded_class.db, "SELECT student_id, attempt, status, outcome, score, max_score FROM submissions "
                                  "ORDER BY student_id")
    assert rows == [
        ("alice", 1, "graded", "completed", 9.0, 9.0),
        ("bob", 1, "graded", "completed", 0.0, 8.0),
        ("carol", 1, "invalid", "", None, None),
        ("dave", 1, "graded", "completed", 15.0, 17.0),
        ("erin", 1, "graded", "cell_timeout", 9.0, 9.0),
        ("frank", 1, "graded", "dead_kernel", 0.0, 9.0),
    ]
    carol = _rows(graded_class.db, "SELECT message FROM submissions WHERE student_id = 'carol'")[0][0]
    assert carol.endswith("carol.ipynb: is not valid JSON (line 1: Expecting value); is it really a .ipynb?")
    erin = _rows(graded_class.db, "SELECT message FROM submissions WHERE student_id = 'erin'")[0][0]
    assert erin == "erin.ipynb: code cell 3 interrupted after 3 s"
    frank = _rows(graded_class.db, "SELECT message FROM submissions WHERE student_id = 'frank'")[0][0]
    assert frank == "frank.ipynb: the kernel died in code cell 2"


def test_a_folder_is_one_submission_of_all_its_notebooks(graded_class: GradedClass) -> None:
    files, units = _rows(graded_class.db, "SELECT files, unit_versions FROM submissions WHERE student_id = 'dave'")[0]
    assert [f["path"] for f in json.loads(files)] == ["dave/chapter2.ipynb", "dave/chapter2_5.ipynb"]
    assert json.loads(units) == {"broadcasting": "1", "sin_derivative": "1"}
    tests = _rows(graded_class.db, "SELECT r.unit_id, r.test, r.score, r.max_score, r.status FROM results r JOIN "
                                   "submissions s ON s.id = r.submission_id WHERE s.student_id = 'dave' "
                                   "AND r.status != 'passed'")
    assert tests == [("broadcasting", "broadcasting: x3 and y3 are 3-D tensors of different shapes and z3 = x3 + y3",
                      0.0, 2.0, "failed")]


def test_summary_counts_and_failures(graded_class: GradedClass) -> None:
    out = graded_class.stdout
    assert "6 submissions, 0 already in the gradebook; grading 6 with 2 local workers" in out
    assert "5  graded" in out and "1    stopped: the kernel died" in out and "3    completed" in out and "1    a cell interrupted at its time limit" in out
    assert "1  invalid notebooks" in out
    assert "carol: invalid:" in out and "erin: cell_timeout: erin.ipynb: code cell 3 interrupted after 3 s" in out
    summary = json.loads(_rows(graded_class.db, "SELECT summary FROM runs")[0][0])
    assert (summary["graded"], summary["invalid"], summary["errors"]) == (5, 1, 0)
    assert summary["outcomes"] == {"completed": 3, "cell_timeout": 1, "dead_kernel": 1}
    assert summary["pool"]["warm"] + summary["pool"]["cold"] == 6  # one kernel per notebook
    # The three kernels warmed before any worker starts (two workers + one spare) always go
    # to the first claims of their keys. Later ones depend on which worker pops erin first
    # relative to dave's second notebook, so more than three warm is timing, not a contract.
    assert summary["pool"]["warm"] >= 3


def test_run_metadata(graded_class: GradedClass) -> None:
    (run,) = _rows(graded_class.db, "SELECT grader_version, seed_policy, exercise_versions, environment, options, "
                                    "finished_at FROM runs")
    assert run[1] == "public"
    versions = json.loads(run[2])   # every exercise the run could have graded, with its version
    assert set(versions) == set(exercises()) | set(homeworks()) and versions["broadcasting"] == versions["sin_derivative"] == "1"
    env = json.loads(run[3])
    assert {"python", "torch", "isolation", "cores"} <= set(env)
    options = json.loads(run[4])
    assert options["cell_timeout"] == 3.0 and "secret" not in options and options["figures"] is True
    assert run[5] is not None


def test_csv_export(graded_class: GradedClass, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    done = run_cli("export", "--db", str(graded_class.db), "--csv", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}: 6 students\n"
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    # Columns: per unit points, max, percent; totals; review (none here: 0 hand items, 0 overrides); status, reason.
    assert rows[0] == ["student", "broadcasting", "broadcasting_max", "broadcasting_percent", "sin_derivative",
                       "sin_derivative_max", "sin_derivative_percent", "total", "total_max", "percent", "automatic",
                       "hand_marked", "hand_unmarked", "overrides", "review_notes", "status", "reason"]
    unreviewed = ["0.0", "0", "0", ""]
    assert rows[1:] == [
        ["alice", "9.0", "9.0", "100.0", "", "", "", "9.0", "9.0", "100.0", "9.0", *unreviewed, "completed", ""],
        ["bob", "", "", "", "0.0", "8.0", "0.0", "0.0", "8.0", "0.0", "0.0", *unreviewed, "completed", ""],
        ["carol", "", "", "", "", "", "", "0.0", "", "", "", *unreviewed, "invalid", rows[3][-1]],
        ["dave", "7.0", "9.0", "77.8", "8.0", "8.0", "100.0", "15.0", "17.0", "88.2", "15.0", *unreviewed,
         "completed", ""],
        ["erin", "9.0", "9.0", "100.0", "", "", "", "9.0", "9.0", "100.0", "9.0", *unreviewed, "cell_timeout",
         "erin.ipynb: code cell 3 interrupted after 3 s"],
        ["frank", "0.0", "9.0", "0.0", "", "", "", "0.0", "9.0", "0.0", "0.0", *unreviewed, "dead_kernel",
         "frank.ipynb: the kernel died in code cell 2"],
    ]
    assert rows[3][-1].endswith("carol.ipynb: is not valid JSON (line 1: Expecting value); is it really a .ipynb?")


def test_gradescope_and_junit_exports(graded_class: GradedClass, tmp_path: Path) -> None:
    done = run_cli("export", "--db", str(graded_class.db), "--gradescope", str(tmp_path / "gs"),
                   "--junit", str(tmp_path / "junit.xml"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.parent.name for p in (tmp_path / "gs").glob("*/results.json")) == [
        "alice", "bob", "carol", "dave", "erin", "frank"]
    dave = json.loads((tmp_path / "gs" / "dave" / "results.json").read_text())
    assert (dave["score"], dave["max_score"]) == (15.0, 17.0)
    assert len(dave["tests"]) == len({t["name"] for t in dave["tests"]})
    failed = [t for t in dave["tests"] if t["status"] == "failed"]
    assert [(t["name"], t["score"], t["max_score"]) for t in failed] == [
        ("broadcasting: x3 and y3 are 3-D tensors of different shapes and z3 = x3 + y3", 0.0, 2.0)]
    assert failed[0]["output"] == "x3 and y3 both have shape (2, 3, 1): give them different shapes so that they broadcast"
    assert set(dave["tests"][0]) == {"name", "score", "max_score", "status", "output", "visibility"}
    assert dave["d2l_grade"]["student"] == "dave"
    carol = json.loads((tmp_path / "gs" / "carol" / "results.json").read_text())
    assert carol["score"] == 0.0 and "is not valid JSON" in carol["output"]
    assert carol["tests"][0]["status"] == "failed"

    root = ET.parse(tmp_path / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert sorted(suites) == ["alice::broadcasting", "bob::sin_derivative", "carol::submission",
                              "dave::broadcasting", "dave::sin_derivative", "erin::broadcasting",
                              "frank::broadcasting"]
    assert suites["alice::broadcasting"].get("failures") == "0"
    assert suites["dave::broadcasting"].get("failures") == "1"
    failure = suites["dave::broadcasting"].find("testcase/failure")
    assert failure is not None and failure.get("message")
    assert suites["carol::submission"].find("testcase/failure").get("message").startswith(
        "What went wrong: ")
    bob_failures = int(suites["bob::sin_derivative"].get("failures"))
    assert bob_failures == len([t for t in suites["bob::sin_derivative"].iter("testcase")
                                if t.find("failure") is not None]) > 0
