"""The gradebook without kernels: schema, one transaction per submission, history, and
files that are not our gradebook refused and left untouched."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from classroom import run_cli, tiny
from grader.errors import GradebookError
from grader.classroom.gradebook import APPLICATION_ID, SCHEMA_VERSION, Record, open_gradebook
from grader import results
from grader.results import SubmissionResult, UnitResult


def _result(score: float) -> SubmissionResult:
    unit = UnitResult("broadcasting", "Broadcasting", version="1", tests=[
        results.TestResult("broadcasting: rule", score, 4.0, "passed" if score == 4 else "failed", "msg one"),
        results.TestResult("broadcasting: tensors", 2.0, 2.0, "passed", "")])
    return SubmissionResult(sources=["a.ipynb"], units=[unit], student="alice")


def _record(student: str = "alice", file_hash: str = "h1", versions: dict[str, str] | None = None,
            score: float = 4.0, status: str = "graded") -> Record:
    return Record(student=student, source=f"{student}.ipynb", files=[{"path": f"{student}.ipynb", "sha256": file_hash}],
                  file_hash=file_hash, unit_versions=versions or {"broadcasting": "1"}, status=status,
                  outcome="completed", result=_result(score) if status == "graded" else None)


def _run(book) -> int:
    return book.start_run(command="test", backend="local", workers=1, seed_policy="public", options={},
                          exercise_versions={"broadcasting": "1"}, environment={}, grader_version="0")


def test_new_gradebook_has_the_schema_and_marks(tmp_path: Path) -> None:
    db = tmp_path / "gb.sqlite"
    open_gradebook(db, write=True).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert tables == {"runs", "students", "submissions", "results", "latest_submissions"}


def test_record_commits_rows_and_attempts_keep_history(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = _run(book)
        book.record(run, _record(score=1.0))
        book.record(run, _record("bob", "h2", status="invalid"))
        assert book.finished("alice", "h1") == {"broadcasting": "1"}
        assert book.finished("alice", "other") is None
        book.record(run, _record(file_hash="h3", score=4.0))
        every = book.submissions(latest=False)
        assert [(s.student, s.attempt, s.status) for s in every] == [
            ("alice", 1, "graded"), ("alice", 2, "graded"), ("bob", 1, "invalid")]
        latest = book.submissions()
        assert [(s.student, s.attempt, s.score, s.max_score) for s in latest] == [
            ("alice", 2, 6.0, 6.0), ("bob", 1, None, None)]
        assert latest[0].result is not None and latest[0].result.units[0].tests[0].message == "msg one"
        rows = book.test_rows()
        assert [(r["student"], r["test"], r["score"]) for r in rows] == [
            ("alice", "broadcasting: rule", 4.0), ("alice", "broadcasting: tensors", 2.0)]


def test_error_rows_are_not_finished(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        book.record(_run(book), _record(status="error"))
        assert book.finished("alice", "h1") is None


def test_a_failed_transaction_leaves_only_an_error_row_saying_why(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = _run(book)
        bad = _record()
        # JSON takes it, SQLite cannot store it: the last insert of the transaction fails and
        # rolls back; the submission still gets a row, an error row retried by the next run.
        bad.result.units[0].tests[1].hidden = 10**30
        book.record(run, bad)
        (row,) = book.submissions(latest=False)
        assert (row.student, row.status, row.result, row.attempt) == ("alice", "error", None, 1)
        assert row.message == "the gradebook could not store this grading (OverflowError: Python int too large " \
                              "to convert to SQLite INTEGER)"
        assert book.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0
        assert book.finished("alice", "h1") is None


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "gb.sqlite"
    with open_gradebook(db, write=True):
        with pytest.raises(GradebookError, match="another `grade batch` is writing this gradebook"):
            open_gradebook(db, write=True)
        open_gradebook(db).close()  # readers are welcome


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('x')")
    conn.commit()
    conn.close()


def _newer_gradebook(path: Path) -> None:
    open_gradebook(path, write=True).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def _corrupt_gradebook(path: Path) -> None:
    with open_gradebook(path, write=True) as book:
        run = _run(book)
        for i in range(200):
            book.record(run, _record(f"s{i:03d}", f"h{i}"))
        book.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096:4096 * 6] = b"\xff" * (4096 * 5)  # pages past the header overwritten
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"PK\x03\x04 a zip file, not a database"), "is not a SQLite database"),
    (_foreign_sqlite, "is a SQLite database of another application (tables: users)"),
    (_newer_gradebook, f"gradebook schema {SCHEMA_VERSION + 1} is newer than this grader's ({SCHEMA_VERSION})"),
    (_corrupt_gradebook, "the database is corrupt"),
], ids=["not-sqlite", "foreign", "newer", "corrupt"])
def test_foreign_or_broken_files_are_refused_and_untouched(tmp_path: Path, make, message: str) -> None:
    db = tmp_path / "gb.sqlite"
    make(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    listing = sorted(p.name for p in tmp_path.iterdir())
    tiny(tmp_path / "class" / "alice.ipynb", 1)
    for command in (["batch", str(tmp_path / "class"), "--db", str(db)], ["export", "--db", str(db), "--csv",
                                                                           str(tmp_path / "out.csv")]):
        done = run_cli(*command, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"grade: error: {db}: ")
        assert message in done.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "class") == listing
