"""Extracts kept in the gradebook: created once, reused, refreshed when the base changes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from grader.classroom.gradebook import Record, open_gradebook
from grader.classroom.similarity import find_similar
from grader.classroom.similarity.store import TABLE
from grader.errors import InputError


def _gradebook(db: Path, folder: Path) -> None:
    with open_gradebook(db, write=True) as book:
        run = book.start_run(command="test", backend="none", workers=0, seed_policy="public", options={},
                             exercise_versions={}, environment={}, grader_version="test")
        for path in sorted(folder.glob("*.ipynb")):
            book.record(run, Record(student=path.stem, source=str(path), files=[{"path": path.name, "sha256": "-"}],
                                    file_hash=path.stem, unit_versions={"d2l-ch2-5": "1"}, status="graded"))


def _rows(db: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT submission_id, context FROM {TABLE} ORDER BY submission_id").fetchall()
    finally:
        conn.close()


@pytest.fixture
def graded(class_folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "class"
    shutil.copytree(class_folder, folder)
    db = tmp_path / "class.sqlite"
    _gradebook(db, folder)
    return db, folder


def test_the_gradebook_keeps_every_extract_and_reuses_them(graded: tuple[Path, Path], class_report) -> None:  # type: ignore[no-untyped-def]
    db, folder = graded
    first = find_similar(db=db, workers=1)
    rows = _rows(db)
    assert len(rows) == 20 and {c.split("#")[0] for _, c in rows} == {"homework:d2l-ch2-5"}
    # the notebooks are gone: the stored extracts are enough
    shutil.rmtree(folder)
    again = find_similar(db=db, workers=1)
    assert [(p.a, p.b, p.code, p.prose) for p in again.pairs] == [(p.a, p.b, p.code, p.prose) for p in first.pairs]
    assert [(p.a, p.b, p.code, p.prose) for p in first.pairs] == \
        [(p.a, p.b, p.code, p.prose) for p in class_report.pairs]


def test_another_base_extracts_again_and_keeps_both(graded: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = graded
    find_similar(db=db, workers=1)
    before = {c for _, c in _rows(db)}
    extra = tmp_path / "given.py"
    extra.write_text("def helper(x):\n    return x * 2\n", encoding="utf-8")
    find_similar(db=db, workers=1, base_paths=[extra])
    contexts = {c for _, c in _rows(db)}
    # one row per submission: the extract under the newer base replaced the older one
    assert len(contexts) == 1 and contexts != before and len(_rows(db)) == 20


def test_a_batch_holding_the_gradebook_only_stops_the_saving(graded: tuple[Path, Path]) -> None:
    db, _ = graded
    with open_gradebook(db, write=True):
        report = find_similar(db=db, workers=1)
    assert any("not saved" in note for note in report.notes)
    assert len(report.pairs) == 190


def test_moved_notebooks_are_found_in_the_folder_given(graded: tuple[Path, Path], tmp_path: Path) -> None:
    db, folder = graded
    moved = tmp_path / "moved"
    folder.rename(moved)
    with pytest.raises(InputError, match="notebooks not found at .*give the class folder too"):
        find_similar(db=db, workers=1)
    report = find_similar(db=db, folder=moved, workers=1)
    assert len(report.extracts) == 20 and not report.notes
