"""Hand marks and overrides in the gradebook (kernel-free), the one rounding rule, and the
exports that compare students."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from staffbook import _broadcasting, make_gradebook

from grader.classroom.gradebook import Record, open_gradebook
from grader.classroom.review_store import ReviewStore, apply_reviews, class_items, load_reviews
from grader.rounding import round_percent, round_points, show_points
from grader.errors import GradebookError, InputError
from grader.report.export import grade_sheet, how_to_fix, write_csv, write_gradescope
from grader.results import SubmissionResult


@pytest.mark.parametrize("value, points", [(0.125, 0.13), (2.675, 2.68), (-0.125, -0.13), (6.666666, 6.67),
                                           (9.916666, 9.92), (13.6923, 13.69)])
def test_points_round_half_away_from_zero_on_the_decimal_value(value: float, points: float) -> None:
    assert round_points(value) == points


def test_percent_and_the_shown_form() -> None:
    assert round_percent(100 * 13.6923 / 17) == 80.5 and round_percent(93.75) == 93.8 and round_percent(None) is None
    assert show_points(13.6923, 17) == "13.69 / 17 (80.5%)"
    assert show_points(0, 0) == "0 / 0"


def test_no_review_yet_reads_empty_even_read_only(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    with open_gradebook(db) as book:
        reviews = load_reviews(book.conn)
    assert reviews.marks == {} and reviews.overrides == {} and reviews.hand_points == 1.0


def test_store_refuses_bad_marks_and_foreign_files(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    store = ReviewStore(db, "tess")
    with pytest.raises(InputError, match="points must be between 0 and 1, not 1.5"):
        store.save_mark("alice", "weight_init", "answer", 1.5)
    with pytest.raises(InputError, match="an override needs a reason"):
        store.save_override("alice", "broadcasting", "t", 1.0, "  ", auto_score=0.0, max_score=9.0)
    with pytest.raises(InputError, match="between 0 and 9, not 10"):
        store.save_override("alice", "broadcasting", "t", 10.0, "why", auto_score=0.0, max_score=9.0)
    with pytest.raises(InputError, match="--hand-points must be above 0"):
        store.set_hand_points(0)
    store.close()
    with pytest.raises(InputError, match="marker's name"):
        ReviewStore(db, " ")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(GradebookError, match="another application"):
        ReviewStore(other, "tess")


def test_reviews_survive_a_regrade_and_show_the_changed_automatic_score(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    store = ReviewStore(db, "tess")
    store.save_override("dave", "broadcasting", "broadcasting: example pairs", 9.0, "pairs right, shapes printed",
                        auto_score=20 / 3, max_score=9.0)
    store.close()
    with open_gradebook(db, write=True) as book:  # a regrade: a new attempt with another automatic score
        run = book.start_run(command="grade batch --regrade", backend="local", workers=1, seed_policy="secret",
                             options={}, exercise_versions={}, environment={}, grader_version="test")
        book.record(run, Record(student="dave", source="dave.ipynb", files=[], file_hash="dave2", unit_versions={},
                                status="graded", outcome="completed",
                                result=SubmissionResult(["dave.ipynb"], units=[_broadcasting(8.0)], student="dave")))
        sub = book.submissions(student="dave")[0]
        reviews = load_reviews(book.conn)
    assert sub.attempt == 2
    reviewed = apply_reviews(sub.result, "dave", reviews, class_items([sub.result]))
    test = reviewed.units[0].tests[0]
    assert (test.score, test.status, reviewed.score) == (9.0, "passed", 9.0)
    assert test.message == "8 of 9\nScore changed by tess from 6.67 to 9: pairs right, shapes printed"
    assert test.details["override"]["auto_score"] == pytest.approx(20 / 3)  # full precision kept
    assert sub.result.units[0].tests[0].score == 8.0  # the stored result is not changed


def test_csv_compares_students(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    store = ReviewStore(db, "tess")
    store.set_hand_points(2)
    store.save_mark("alice", "weight_init", "answer", 1.5, "good, one step missing")
    store.close()
    with open_gradebook(db) as book:
        write_csv(book, tmp_path / "grades.csv")
        sheet = grade_sheet(book)
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["student", "broadcasting", "broadcasting_max", "broadcasting_percent", "weight_init",
                       "weight_init_max", "weight_init_percent", "total", "total_max", "percent", "automatic",
                       "hand_marked", "hand_unmarked", "overrides", "review_notes", "status", "reason"]
    assert rows[1] == ["alice", "9.0", "9.0", "100.0", "7.5", "9.0", "83.3", "16.5", "18.0", "91.7", "15.0", "1.5",
                       "0", "0", "weight_init / answer: 1.5 of 2 by tess (good, one step missing)", "completed", ""]
    assert rows[2][4:10] == ["7.0", "9.0", "77.8", "7.0", "9.0", "77.8"]  # bob: no answer, 0 of 2 unmarked
    assert rows[3][7:] == ["0.0", "", "", "", "0.0", "0", "0", "", "invalid", "carol.ipynb: is not valid JSON "
                                                                               "(line 1 column 11)"]
    assert rows[4][1:4] == ["6.67", "9.0", "74.1"]
    assert sheet.loc[3, "total"] == 6.67  # the sheet holds the rounded figures it shows


def test_invalid_submission_says_what_went_wrong_and_how_to_fix(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    with open_gradebook(db) as book:
        write_gradescope(book, tmp_path / "gs")
    import json

    carol = json.loads((tmp_path / "gs" / "carol" / "results.json").read_text())
    assert carol["tests"][0]["output"] == (
        "What went wrong: carol.ipynb: is not valid JSON (line 1 column 11)\nHow to fix it: "
        + how_to_fix("not valid JSON") + ".")
    assert carol["d2l_grade"]["seed_policy"] == "secret"
    assert "open it in Jupyter" in how_to_fix("x.ipynb: is not valid JSON")
