"""What a class's submissions folder holds: one :class:`Submission` per student.

Two layouts, possibly mixed, as LMS downloads lay them out:

* a notebook per student directly in the folder (``alice.ipynb``);
* a folder per student (``alice/``) holding one or several notebooks (e.g. one per
  chapter), found recursively: the whole folder is ONE submission.

The student id comes from (``--student-from``):

* ``auto`` (default): the folder's name for a folder, the file name without ``.ipynb``
  for a notebook;
* ``filename``: the name of the (first) notebook without ``.ipynb``;
* ``folder``: the entry's name in SUBMISSIONS, folder or file;
* ``metadata``: ``metadata.d2l_grade.student`` of the notebooks, else ``auto``.

Describing a submission reads its notebooks statically (no kernel): the files' hashes,
the exercises it holds and their versions (what makes a grading reusable), the options
each notebook runs with, and the heavy modules to import ahead. A notebook that cannot
be graded at all (not JSON, no exercise found) makes the submission *invalid* with the
message saying why; it is recorded as such, never fatal to the batch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from grader.config import Options
from grader.errors import InputError, NotebookError, UnknownExerciseError
from grader.notebook.load import read_notebook
from grader.pipeline import effective_options, hidden_paths
from grader.engine.pool import heavy_imports
from grader.registry import detect_units
from grader.notebook.static import analyse

__all__ = ["STUDENT_SOURCES", "Submission", "find_submissions", "describe"]

STUDENT_SOURCES = ("auto", "filename", "folder", "metadata")
SKIP_PARTS = (".ipynb_checkpoints", "__MACOSX")


@dataclass
class Submission:
    """One student's work: notebooks, identity, hashes and how to grade each notebook."""

    name: str
    source: Path
    notebooks: list[Path]
    student: str = ""
    files: list[dict[str, str]] = field(default_factory=list)
    file_hash: str = ""
    submitted_at: str | None = None
    unit_versions: dict[str, str] = field(default_factory=dict)
    run_options: list[Options] = field(default_factory=list)
    hidden: list[tuple[str, ...]] = field(default_factory=list)
    preload: list[tuple[str, ...]] = field(default_factory=list)
    problem: str = ""


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part in SKIP_PARTS or part.startswith(".") for part in p.relative_to(folder).parts))


def find_submissions(root: Path) -> list[Submission]:
    """The submissions in ``root``, sorted by name (empty folders are skipped)."""
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of submissions (give a folder of notebooks or of student folders)")
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in SKIP_PARTS:
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append(Submission(entry.stem, entry, [entry]))
        elif entry.is_dir():
            notebooks = _notebooks_in(entry)
            if notebooks:
                found.append(Submission(entry.name, entry, notebooks))
    if not found:
        raise InputError(f"{root}: no notebooks found (*.ipynb, directly or in one folder per student)")
    return found


def _file_facts(sub: Submission, root: Path) -> None:
    digests = []
    for path in sub.notebooks:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        sub.files.append({"path": str(path.relative_to(root)), "sha256": digest})
        # Paths inside the submission, not the folder's location: moving the class folder
        # must not make finished work look new.
        inner = path.name if path == sub.source else str(path.relative_to(sub.source))
        digests.append([inner, digest])
    sub.file_hash = hashlib.sha256(json.dumps(digests).encode()).hexdigest()
    newest = max(p.stat().st_mtime for p in sub.notebooks)
    sub.submitted_at = datetime.fromtimestamp(newest, timezone.utc).isoformat(timespec="seconds")


def _student(sub: Submission, how: str, metadata_ids: list[str]) -> str:
    if how == "metadata" and metadata_ids:
        return metadata_ids[0]
    if how == "filename":
        return sub.notebooks[0].stem
    return sub.name


def describe(subs: Sequence[Submission], root: Path, *, options: Options, exercise_ids: Sequence[str] = (),
             homework_id: str | None = None, student_from: str = "auto",
             hide: Sequence[str | Path] = ()) -> list[Submission]:
    """Fill in each submission's identity, hashes, exercises and kernel plans (in place)."""
    if student_from not in STUDENT_SOURCES:
        raise InputError(f"--student-from must be one of {', '.join(STUDENT_SOURCES)}, not {student_from!r}")
    for sub in subs:
        _file_facts(sub, root)
        metadata_ids: list[str] = []
        try:
            for path in sub.notebooks:
                nb = read_notebook(path)
                meta = nb.metadata.get("d2l_grade")
                if isinstance(meta, dict) and isinstance(meta.get("student"), str) and meta["student"].strip():
                    metadata_ids.append(meta["student"].strip())
                codes = analyse(nb.cells)
                units = detect_units(nb, codes, exercise_ids=list(exercise_ids), homework_id=homework_id)
                sub.unit_versions.update({u.id: str(u.version) for u in units})
                run_options = effective_options(options, units)
                sub.run_options.append(run_options)
                sub.hidden.append(tuple(hidden_paths(sub.notebooks, options=run_options, hide=hide)))
                sub.preload.append(heavy_imports(codes))
        except (NotebookError, UnknownExerciseError) as exc:
            sub.problem = str(exc)
        sub.student = _student(sub, student_from, metadata_ids)
    _refuse_duplicates(subs)
    return list(subs)


def _refuse_duplicates(subs: Sequence[Submission]) -> None:
    seen: dict[str, list[str]] = {}
    for sub in subs:
        seen.setdefault(sub.student, []).append(str(sub.source.name))
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    if clashes:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(clashes.items()))
        raise InputError(f"several submissions have the same student id ({listed}); "
                         "choose another --student-from or rename them")
