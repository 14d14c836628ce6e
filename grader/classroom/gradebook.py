"""The gradebook: one SQLite file holding every grading of a class, crash-safe.

Schema and guarantees are documented in ``docs/GRADEBOOK.md``. In short:

* one writer (the process running ``grade batch``), holding an exclusive lock file;
* each submission's rows (student, submission, one row per test, the full result JSON)
  commit in ONE transaction as soon as it is graded, in WAL mode with full sync, so a
  SIGKILL at any moment loses nothing graded and leaves nothing half written;
* a submission is *done* when a finished grading of the same student, file hash and
  exercise versions exists; re-grading after an exercise changed adds a new attempt and
  keeps the old one;
* a file that is not our gradebook (another SQLite database, a corrupt file, a newer
  schema) is refused with :class:`~grader.errors.GradebookError` before anything writes
  to it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from grader.classroom.storable import result_json, safe_canonical, sqlite_text, storable
from grader.errors import GradebookError
from grader.results import SubmissionResult, SubmissionStatus, from_dict

__all__ = ["SCHEMA_VERSION", "APPLICATION_ID", "Gradebook", "Record", "StoredSubmission", "open_gradebook",
           "iter_results", "now_iso", "storable"]

SCHEMA_VERSION = 1
# PRAGMA application_id marks the file as ours ("d2lg" in ASCII), so a foreign SQLite
# database is recognised and left alone.
APPLICATION_ID = 0x64326C67
SQLITE_HEADER = b"SQLite format 3\x00"
FINISHED = ("graded", "invalid")  # an 'error' row (the grader's fault) is retried by the next run

SCHEMA = """
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    grader_version    TEXT NOT NULL,
    command           TEXT NOT NULL,
    backend           TEXT NOT NULL,
    workers           INTEGER NOT NULL,
    seed_policy       TEXT NOT NULL,
    options           TEXT NOT NULL,
    exercise_versions TEXT NOT NULL,
    environment       TEXT NOT NULL,
    summary           TEXT
);
CREATE TABLE students (
    id         TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);
CREATE TABLE submissions (
    id            INTEGER PRIMARY KEY,
    student_id    TEXT NOT NULL REFERENCES students(id),
    attempt       INTEGER NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    source        TEXT NOT NULL,
    files         TEXT NOT NULL,
    file_hash     TEXT NOT NULL,
    unit_versions TEXT NOT NULL,
    submitted_at  TEXT,
    graded_at     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('graded', 'invalid', 'error')),
    outcome       TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    score         REAL,
    max_score     REAL,
    seconds       REAL,
    result_json   TEXT,
    UNIQUE (student_id, attempt)
);
CREATE INDEX submissions_by_hash ON submissions(student_id, file_hash);
CREATE TABLE results (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    position      INTEGER NOT NULL,
    unit_id       TEXT NOT NULL,
    unit_version  TEXT NOT NULL,
    test          TEXT NOT NULL,
    score         REAL NOT NULL,
    max_score     REAL NOT NULL,
    status        TEXT NOT NULL,
    message       TEXT NOT NULL,
    hidden        INTEGER NOT NULL,
    PRIMARY KEY (submission_id, position)
);
CREATE VIEW latest_submissions AS
    SELECT s.* FROM submissions s
    WHERE s.attempt = (SELECT MAX(t.attempt) FROM submissions t WHERE t.student_id = s.student_id);
"""


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Record:
    """One graded (or refused) submission, ready to be committed."""

    student: str
    source: str
    files: list[dict[str, str]]
    file_hash: str
    unit_versions: dict[str, str]
    status: SubmissionStatus
    outcome: str = ""
    message: str = ""
    submitted_at: str | None = None
    seconds: float = 0.0
    result: SubmissionResult | None = None


@dataclass
class StoredSubmission:
    """A submission row read back, with its result rebuilt (None when it was not graded)."""

    id: int
    student: str
    attempt: int
    run_id: int
    source: str
    file_hash: str
    unit_versions: dict[str, str]
    graded_at: str
    status: str
    outcome: str
    message: str
    score: float | None
    max_score: float | None
    seconds: float | None
    files: list[dict[str, str]] = field(default_factory=list)
    result: SubmissionResult | None = None


def _uri(path: Path, immutable: bool = False) -> str:
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")


def _check_file(path: Path) -> bool:
    """True when ``path`` holds our gradebook, False when there is nothing yet; raise otherwise."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    if path.is_dir():
        raise GradebookError(f"{path}: is a directory, not a gradebook file")
    with open(path, "rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise GradebookError(f"{path}: is not a SQLite database, so not a gradebook; refusing to touch it "
                             "(give a new file name with --db)")
    # Read-only, so that inspecting a foreign file cannot change it; immutable (no -shm or
    # -wal files created) unless a write-ahead log shows the file is a live WAL database.
    live = Path(str(path) + "-wal").exists()
    try:
        conn = sqlite3.connect(_uri(path, immutable=not live), uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            check = conn.execute("PRAGMA quick_check").fetchone()[0] if app_id == APPLICATION_ID else "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise GradebookError(f"{path}: the database is corrupt ({exc}); refusing to use it. Restore a backup "
                             "or grade into a new file") from None
    if app_id != APPLICATION_ID:
        if not tables and app_id == 0:
            return False  # an empty SQLite file: ours to initialise
        raise GradebookError(f"{path}: is a SQLite database of another application (tables: "
                             f"{', '.join(sorted(tables)) or 'none'}); refusing to touch it")
    if version > SCHEMA_VERSION:
        raise GradebookError(f"{path}: gradebook schema {version} is newer than this grader's ({SCHEMA_VERSION}); "
                             "upgrade d2l-grade to use it")
    if check != "ok":
        raise GradebookError(f"{path}: the database is corrupt (integrity check: {check}); refusing to use it")
    return True


class Gradebook:
    """An open gradebook. Use :func:`open_gradebook`; close it (or use ``with``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: Any = None) -> None:
        self.path = path
        self.conn = conn
        self._lock = lock

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and release the writer's lock."""
        self.conn.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- runs -----------------------------------------------------------------------

    def start_run(self, *, command: str, backend: str, workers: int, seed_policy: str, options: dict[str, Any],
                  exercise_versions: dict[str, str], environment: dict[str, Any], grader_version: str) -> int:
        """Record that a run starts; returns its id."""
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, grader_version, command, backend, workers, seed_policy, options, "
                "exercise_versions, environment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now_iso(), grader_version, command, backend, workers, seed_policy, safe_canonical(options),
                 safe_canonical(exercise_versions), safe_canonical(environment)))
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        """Record the end of a run and its counts (a run killed midway keeps finished_at empty)."""
        with self._transaction():
            self.conn.execute("UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                              (now_iso(), safe_canonical(summary), run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""
        rows = self.conn.execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    # -- submissions ----------------------------------------------------------------

    def finished(self, student: str, file_hash: str) -> dict[str, str] | None:
        """Exercise versions of the newest finished grading of this exact file, else None."""
        row = self.conn.execute(
            "SELECT unit_versions FROM submissions WHERE student_id = ? AND file_hash = ? AND status IN (?, ?) "
            "ORDER BY attempt DESC LIMIT 1", (student, file_hash, *FINISHED)).fetchone()
        return json.loads(row[0]) if row else None

    def record(self, run_id: int, rec: Record) -> int:
        """Commit one submission (its row, its tests, its result JSON) in one transaction.

        Never fails for what the result holds: a value JSON cannot hold is stored as a
        marker and named in the row's message; a result that cannot be stored at all
        leaves an ``error`` row saying why (retried by the next run). Only a broken
        database (disk full, file removed) raises."""
        try:
            return self._insert(run_id, rec)
        except Exception as exc:  # the row must exist, whatever the result holds
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            why = f"the gradebook could not store this grading ({type(exc).__name__}: {sqlite_text(str(exc))[:300]})"
            fallback = Record(student=rec.student, source=rec.source, files=rec.files, file_hash=rec.file_hash,
                              unit_versions=rec.unit_versions, status="error", outcome="",
                              message=why + ("\n" + rec.message if rec.message else ""),
                              submitted_at=rec.submitted_at, seconds=rec.seconds)
            return self._insert(run_id, fallback)

    def _insert(self, run_id: int, rec: Record) -> int:
        result = rec.result
        student = sqlite_text(rec.student)
        stored_json, notes = result_json(result) if result is not None else (None, [])
        message = sqlite_text(rec.message + "".join(f"\n[gradebook: {n}]" for n in notes))
        with self._transaction():
            self.conn.execute("INSERT OR IGNORE INTO students (id, first_seen) VALUES (?, ?)", (student, now_iso()))
            attempt = self.conn.execute("SELECT COALESCE(MAX(attempt), 0) + 1 FROM submissions WHERE student_id = ?",
                                        (student,)).fetchone()[0]
            cur = self.conn.execute(
                "INSERT INTO submissions (student_id, attempt, run_id, source, files, file_hash, unit_versions, "
                "submitted_at, graded_at, status, outcome, message, score, max_score, seconds, result_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (student, attempt, run_id, sqlite_text(rec.source), safe_canonical(rec.files), rec.file_hash,
                 safe_canonical(rec.unit_versions), rec.submitted_at, now_iso(), rec.status, rec.outcome, message,
                 result.score if result else None, result.max_score if result else None, rec.seconds, stored_json))
            submission_id = int(cur.lastrowid or 0)
            if result is not None:
                rows = [(submission_id, i, sqlite_text(unit.id), sqlite_text(str(unit.version)), sqlite_text(test.name),
                         float(test.score), float(test.max_score), test.status, sqlite_text(test.message), int(test.hidden))
                        for i, (unit, test) in enumerate((u, t) for u in result.units for t in u.tests)]
                self.conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return submission_id

    def submissions(self, *, latest: bool = True, student: str | None = None,
                    with_results: bool = True) -> list[StoredSubmission]:
        """Submissions (the newest attempt of each student, or all), ordered by student and attempt."""
        table = "latest_submissions" if latest else "submissions"
        sql = f"SELECT * FROM {table}" + (" WHERE student_id = ?" if student else "") + " ORDER BY student_id, attempt"
        rows = self.conn.execute(sql, (student,) if student else ()).fetchall()
        return [self._stored(r, with_results) for r in rows]

    def test_rows(self, *, latest: bool = True) -> list[dict[str, Any]]:
        """One dict per graded test (student, attempt, unit, test, score, max, status, message)."""
        table = "latest_submissions" if latest else "submissions"
        rows = self.conn.execute(
            f"SELECT s.student_id AS student, s.attempt, r.unit_id, r.unit_version, r.test, r.score, r.max_score, "
            f"r.status, r.message, r.hidden FROM results r JOIN {table} s ON s.id = r.submission_id "
            f"ORDER BY s.student_id, r.position").fetchall()
        return [dict(r) for r in rows]

    def sources(self, student: str) -> set[str]:
        """The upload names (file or folder name) this student's rows were graded from."""
        rows = self.conn.execute("SELECT DISTINCT source FROM submissions WHERE student_id = ?", (student,))
        return {Path(r[0]).name for r in rows}

    @staticmethod
    def _stored(row: sqlite3.Row, with_results: bool) -> StoredSubmission:
        result = None
        message = row["message"]
        if with_results and row["result_json"]:
            try:
                result = from_dict(SubmissionResult, json.loads(row["result_json"]))
            except Exception as exc:  # a row written by another version, or damaged: shown, not fatal
                message = f"the stored result could not be read ({type(exc).__name__}: {exc}); {message}"
        return StoredSubmission(
            id=row["id"], student=row["student_id"], attempt=row["attempt"], run_id=row["run_id"],
            source=row["source"], file_hash=row["file_hash"], unit_versions=json.loads(row["unit_versions"]),
            graded_at=row["graded_at"], status=row["status"], outcome=row["outcome"], message=message,
            score=row["score"], max_score=row["max_score"], seconds=row["seconds"], files=json.loads(row["files"]),
            result=result)

    # -- plumbing -------------------------------------------------------------------

    def _transaction(self) -> Any:
        return _Transaction(self.conn)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _lock(path: Path) -> Any:
    """An exclusive lock on ``<db>.lock``: one writer at a time (released even by SIGKILL)."""
    handle = open(str(path) + ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise GradebookError(f"{path}: another `grade batch` is writing this gradebook; wait for it to finish") from None
    return handle


def open_gradebook(path: str | os.PathLike[str], *, write: bool = False) -> Gradebook:
    """Open ``path``; ``write`` creates it if needed and takes the single writer's lock.

    Without ``write`` the file must exist and is opened read-only."""
    path = Path(path)
    exists = _check_file(path)
    if not write:
        if not exists:
            raise GradebookError(f"{path}: no such gradebook (create one with `grade batch ... --db {path}`)")
        conn = sqlite3.connect(_uri(path), uri=True, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return Gradebook(path, conn)
    if not path.parent.is_dir():
        raise GradebookError(f"{path}: the folder {path.parent} does not exist")
    lock = _lock(path)
    try:
        exists = _check_file(path)  # again, now that no other writer can change it
    except GradebookError:
        lock.close()
        raise
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if not exists:
            _create(conn)
    except sqlite3.DatabaseError as exc:
        lock.close()
        raise GradebookError(f"{path}: cannot open the gradebook ({exc})") from None
    return Gradebook(path, conn, lock)


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("COMMIT")


def iter_results(book: Gradebook) -> Iterator[SubmissionResult]:
    """The results of the newest graded attempt of each student."""
    for sub in book.submissions():
        if sub.result is not None:
            yield sub.result
