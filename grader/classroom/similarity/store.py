"""Keep each submission's extracted own code and prose in the gradebook, and read a class.

The table ``similarity_extracts`` (created by this module in the gradebook's SQLite
file, beside the gradebook's own tables) holds one row per graded submission row::

    submission_id  INTEGER PRIMARY KEY   -- submissions.id (student, attempt, file hash)
    context        TEXT                  -- homework:<id> | exercises:<ids> | auto, plus --base files
    version        INTEGER               -- EXTRACT_VERSION of the extractor
    extracted_at   TEXT                  -- UTC, ISO 8601
    data           TEXT                  -- Extract.to_dict() as JSON

A row is reused when its context and version match; otherwise the submission's notebooks
are read again (from the paths the gradebook recorded) and the row replaced.
:func:`store_extract` is what ``grade batch`` can call right after grading a submission.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

from grader.classroom.gradebook import Gradebook, StoredSubmission, now_iso, open_gradebook
from grader.classroom.similarity.extract import EXTRACT_VERSION, Base, Extract, extract_notebooks
from grader.errors import GradebookError, InputError

__all__ = ["TABLE", "ensure_table", "store_extract", "stored_extracts", "notebooks_of", "extract_class",
           "extracts_from_gradebook", "units_in_gradebook"]

TABLE = "similarity_extracts"
CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    context       TEXT NOT NULL,
    version       INTEGER NOT NULL,
    extracted_at  TEXT NOT NULL,
    data          TEXT NOT NULL
)"""
PARALLEL_FROM = 24  # submissions: below this, worker processes cost more than they save


def ensure_table(book: Gradebook) -> None:
    """Create the table if the gradebook has none (needs a gradebook opened for writing)."""
    book.conn.execute(CREATE)


def store_extract(book: Gradebook, submission_id: int, extract: Extract, context: str) -> None:
    """Keep one submission's extract (replacing an older one), in one statement."""
    ensure_table(book)
    book.conn.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?)",
                      (submission_id, context, EXTRACT_VERSION, now_iso(),
                       json.dumps(extract.to_dict(), ensure_ascii=False)))


def stored_extracts(book: Gradebook, context: str) -> dict[int, Extract]:
    """The stored extracts of ``context`` and the current version, by submission id."""
    exists = book.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()
    if not exists:
        return {}
    rows = book.conn.execute(f"SELECT submission_id, data FROM {TABLE} WHERE context = ? AND version = ?",
                             (context, EXTRACT_VERSION)).fetchall()
    return {int(r[0]): Extract.from_dict(json.loads(r[1])) for r in rows}


def notebooks_of(sub: StoredSubmission, folder: Path | None = None) -> list[Path]:
    """The notebook files of a stored submission: where the gradebook says they were, or
    under ``folder`` (the class folder moved)."""
    source = Path(sub.source)
    root = folder if folder is not None else source.parent
    paths = [root / f["path"] for f in sub.files if "path" in f]
    if not paths and source.suffix == ".ipynb":
        paths = [source]
    return paths


def _one(job: tuple[str, list[Path], Base]) -> Extract:
    student, paths, base = job
    return extract_notebooks(student, paths, base)


def extract_class(jobs: Sequence[tuple[str, list[Path]]], base: Base, *, workers: int = 2) -> list[Extract]:
    """Extract every submission, in worker processes for a large class."""
    if workers > 1 and len(jobs) >= PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_one, [(s, p, base) for s, p in jobs], chunksize=8))
    return [extract_notebooks(s, p, base) for s, p in jobs]


def units_in_gradebook(db: Path) -> tuple[str | None, list[str]]:
    """The homework, else the exercises, its newest submissions were graded as."""
    from grader.registry import homeworks

    with open_gradebook(db) as book:
        ids = sorted({u for s in book.submissions(with_results=False) for u in s.unit_versions})
    known = homeworks()
    homework = next((u for u in ids if u in known), None)
    return (homework, []) if homework else (None, ids)


def extracts_from_gradebook(db: Path, base: Base, *, folder: Path | None = None, workers: int = 2,
                            save: bool = True) -> tuple[list[Extract], list[str]]:
    """The newest submission of every student: stored extracts where the gradebook has them,
    else read from the notebooks (and stored, when ``save`` and no batch holds the lock)."""
    notes: list[str] = []
    with open_gradebook(db) as book:
        subs = [s for s in book.submissions(with_results=False) if s.status == "graded"]
        stored = stored_extracts(book, base.context)
    if not subs:
        raise InputError(f"{db}: the gradebook has no graded submission to compare")
    missing = [s for s in subs if s.id not in stored]
    jobs, kept = [], []
    for sub in missing:
        paths = notebooks_of(sub, folder)
        if not paths or not all(p.is_file() for p in paths):
            notes.append(f"{sub.student}: notebooks not found at {paths[0].parent if paths else sub.source}; "
                         "skipped (give the class folder too)")
            continue
        jobs.append((sub.student, paths))
        kept.append(sub)
    fresh = extract_class(jobs, base, workers=workers)
    if save and fresh:
        try:
            with open_gradebook(db, write=True) as book:
                book.conn.execute("BEGIN IMMEDIATE")
                for sub, extract in zip(kept, fresh):
                    store_extract(book, sub.id, extract, base.context)
                book.conn.execute("COMMIT")
        except GradebookError as exc:
            notes.append(f"extracts not saved in the gradebook ({exc})")
    by_id = {**stored, **{s.id: e for s, e in zip(kept, fresh)}}
    return [by_id[s.id] for s in subs if s.id in by_id], notes
