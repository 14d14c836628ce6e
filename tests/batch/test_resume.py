"""Resume after SIGKILL and explicit regrading, with real kernels."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classroom import FAST, REPO, cli_env, run_cli, tiny
from grader.classroom.batch import grade_batch
from grader.classroom.gradebook import open_gradebook
from grader.registry import exercises

pytestmark = pytest.mark.kernel


def _submissions(db: Path) -> list[tuple]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT id, student_id, attempt, run_id, graded_at, file_hash FROM submissions "
                                "ORDER BY id").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet
        return []


def test_sigkill_loses_nothing_and_the_rerun_grades_only_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    for i in range(5):
        tiny(folder / f"student{i}.ipynb", i)
    db = tmp_path / "gb.sqlite"
    command = [sys.executable, "-m", "grader", "batch", str(folder), "--db", str(db), "--workers", "1", *FAST]
    proc = subprocess.Popen(command, env=cli_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _submissions(db) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _submissions(db)
    assert 1 <= len(before) < 5, "the kill should land midway"

    done = run_cli("batch", str(folder), "--db", str(db), "--workers", "1", *FAST)
    assert done.returncode == 0, done.stderr
    assert f"5 submissions, {len(before)} already in the gradebook; grading {5 - len(before)}" in done.stdout
    after = _submissions(db)
    assert after[:len(before)] == before  # graded rows untouched
    assert sorted(row[1] for row in after) == [f"student{i}" for i in range(5)]  # none lost, none twice
    assert {row[2] for row in after} == {1}
    assert {row[3] for row in after[len(before):]} == {2}  # the rest graded by the second run
    with open_gradebook(db) as book:
        runs = book.runs()
        assert [r["finished_at"] is None for r in runs] == [True, False]
        assert book.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 5 * 5  # five tests per broadcasting submission

    again = run_cli("batch", str(folder), "--db", str(db), "--workers", "1", *FAST)
    assert "5 submissions, 5 already in the gradebook; grading 0" in again.stdout
    assert _submissions(db) == after


def test_regrade_is_explicit_and_keeps_history(tmp_path: Path, options, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny(tmp_path / "class" / "alice.ipynb", 1)
    db = tmp_path / "gb.sqlite"
    first = grade_batch(tmp_path / "class", db=db, options=options, workers=1)
    assert (first.graded, first.done_before) == (1, 0)

    monkeypatch.setattr(exercises()["broadcasting"], "version", "2")  # the exercise changed
    skipped = grade_batch(tmp_path / "class", db=db, options=options, workers=1)
    assert (skipped.graded, skipped.done_before, skipped.stale) == (0, 0, 1)

    regraded = grade_batch(tmp_path / "class", db=db, options=options, workers=1, regrade=True)
    assert (regraded.graded, regraded.stale) == (1, 0)
    again = grade_batch(tmp_path / "class", db=db, options=options, workers=1, regrade=True)
    assert (again.graded, again.done_before) == (0, 1)  # a regrade run resumes like any other

    with open_gradebook(db) as book:
        history = book.submissions(latest=False)
        assert [(s.attempt, s.unit_versions, s.run_id) for s in history] == [
            (1, {"broadcasting": "1"}, 1), (2, {"broadcasting": "2"}, 3)]
        assert history[0].file_hash == history[1].file_hash
        assert [s.attempt for s in book.submissions()] == [2]
        versions = book.conn.execute("SELECT DISTINCT unit_version FROM results ORDER BY 1").fetchall()
        assert [v[0] for v in versions] == ["1", "2"]
