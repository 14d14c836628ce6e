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
* ``metadata``: ``metadata.d2l_grade.student`` of the notebooks, else ``auto``. A claimed
  id never takes another upload's id or an id the gradebook holds from another upload,
  unless ``trust_metadata`` is set (see docs/GRADEBOOK.md, "Identity").

Describing a submission reads its notebooks statically (no kernel): the files' hashes,
the exercises it holds and their versions (what makes a grading reusable), the options
each notebook runs with, and the heavy modules to import ahead. A notebook that cannot
be graded at all (not JSON, no exercise found) makes the submission *invalid* with the
message saying why; it is recorded as such, never fatal to the batch.

Every upload gets a row: a file that is not a notebook (``notes.txt``, ``work.zip``), a
folder without a notebook, a symbolic link leaving its submission (a link to a solution
elsewhere) and uploads that share one student id are each an *invalid* submission whose
message says why. A failure of the grader's own static analysis on one upload is a
``fault`` (recorded as an error row with the traceback), never a class-wide stop.
"""

from __future__ import annotations

import hashlib
import json
import os
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from grader.config import Options
from grader.errors import InputError, NotebookError, UnknownExerciseError
from grader.notebook.load import read_notebook
from grader.pipeline import effective_options, hidden_paths
from grader.engine.pool import heavy_imports
from grader.registry import detect_units
from grader.notebook.static import analyse

__all__ = ["STUDENT_SOURCES", "DUPLICATE_PREFIX", "Submission", "find_submissions", "describe", "clean_id"]

STUDENT_SOURCES = ("auto", "filename", "folder", "metadata")
SKIP_PARTS = (".ipynb_checkpoints", "__MACOSX")
DUPLICATE_PREFIX = "upload:"  # the row key of an upload whose student id another upload also has
MAX_ID = 200


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
    problem: str = ""  # why the upload cannot be graded (the student's to fix): an invalid row
    fault: str = ""  # the grader failed on it before grading (kept with the traceback): an error row
    claimed: str = ""  # the id its notebooks' metadata claims


def _hidden(part: str) -> bool:
    return part in SKIP_PARTS or part.startswith(".")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _scan_folder(entry: Path) -> tuple[list[Path], list[str], str]:
    """Notebooks, other files, and the first symbolic link leaving ``entry`` ('' if none)."""
    real = entry.resolve()
    notebooks, others = [], []
    for dirpath, dirnames, filenames in os.walk(entry, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames) + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            if _hidden(name):
                continue
            if path.is_symlink() and not _inside(Path(os.path.realpath(path)), real):
                return [], [], f"{path.relative_to(entry.parent)} -> {os.readlink(path)}"
            (notebooks if name.endswith(".ipynb") and path.is_file() else others).append(path)
    return notebooks, others, ""


def _not_a_notebook(entry: Path) -> str:
    kinds = {".zip": "a zip archive; unpack it and upload the notebook (.ipynb) itself",
             ".py": "a Python file, not a notebook; export the notebook (.ipynb) from Jupyter",
             ".html": "an HTML export; upload the notebook (.ipynb) itself",
             ".pdf": "a PDF export; upload the notebook (.ipynb) itself"}
    return f"{entry.name}: is {kinds.get(entry.suffix.lower(), 'not a notebook (.ipynb)')}"


def _upload(entry: Path) -> Submission:
    """The submission of one entry of the class folder (invalid when it cannot be graded)."""
    if entry.is_symlink():
        return Submission(entry.name, entry, [], problem=f"{entry.name}: is a symbolic link (to "
                          f"{os.readlink(entry)}), not an uploaded file; refused")
    if entry.is_file():
        if entry.suffix == ".ipynb":
            return Submission(entry.stem, entry, [entry])
        return Submission(entry.name, entry, [], problem=_not_a_notebook(entry))
    if not entry.is_dir():
        return Submission(entry.name, entry, [], problem=f"{entry.name}: is not a file nor a folder")
    notebooks, others, link = _scan_folder(entry)
    if link:
        return Submission(entry.name, entry, [], problem=f"{entry.name}/: holds a symbolic link leaving the folder "
                          f"({link}); refused: upload the files themselves")
    if not notebooks:
        held = ", ".join(str(p.relative_to(entry)) for p in others[:5]) + (" ..." if len(others) > 5 else "")
        what = f"it holds {held}" if others else "it is empty"
        return Submission(entry.name, entry, [], problem=f"{entry.name}/: no notebook (.ipynb) in the folder ({what})")
    return Submission(entry.name, entry, notebooks)


def find_submissions(root: Path) -> list[Submission]:
    """One submission per entry of ``root``, sorted by name; uploads that cannot be graded
    carry their ``problem``. Raises :class:`InputError` when ``root`` holds no notebook at all."""
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of submissions (give a folder of notebooks or of student folders)")
    found = [_upload(entry) for entry in sorted(root.iterdir()) if not _hidden(entry.name)]
    if not any(sub.notebooks for sub in found):
        raise InputError(f"{root}: no notebooks found (*.ipynb, directly or in one folder per student)")
    return found


def _digest(path: Path) -> str:
    if path.is_symlink():
        return hashlib.sha256(("link:" + os.readlink(path)).encode("utf-8", "replace")).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_facts(sub: Submission, root: Path) -> None:
    if sub.notebooks:
        paths = sub.notebooks
    elif sub.source.is_dir() and not sub.source.is_symlink():
        paths = sorted(p for p in sub.source.rglob("*") if p.is_file() or p.is_symlink())[:1000]
    else:
        paths = [sub.source]
    digests = []
    for path in paths:
        digest = _digest(path)
        sub.files.append({"path": str(path.relative_to(root)), "sha256": digest})
        # Paths inside the submission, not the folder's location: moving the class folder
        # must not make finished work look new.
        inner = path.name if path == sub.source else str(path.relative_to(sub.source))
        digests.append([inner, digest])
    sub.file_hash = hashlib.sha256(json.dumps(digests).encode("utf-8", "replace")).hexdigest()
    times = [p.lstat().st_mtime for p in paths] or [sub.source.lstat().st_mtime]
    sub.submitted_at = datetime.fromtimestamp(max(times), timezone.utc).isoformat(timespec="seconds")


def clean_id(value: str) -> str:
    """A student id as stored: stripped, at most 200 characters, no lone surrogates."""
    text = value.strip()[:MAX_ID]
    return text.encode("utf-8", "replace").decode("utf-8")


def _auto_id(sub: Submission, how: str) -> str:
    if how == "filename" and sub.notebooks:
        return clean_id(sub.notebooks[0].stem)
    return clean_id(sub.name)


def _analyse(sub: Submission, *, options: Options, exercise_ids: Sequence[str], homework_id: str | None,
             hide: Sequence[str | Path]) -> None:
    """Read the notebooks statically: exercises, versions, kernel plans, claimed id."""
    claims: list[str] = []
    try:
        for path in sub.notebooks:
            nb = read_notebook(path)
            meta = nb.metadata.get("d2l_grade")
            if isinstance(meta, dict) and isinstance(meta.get("student"), str) and meta["student"].strip():
                claims.append(clean_id(meta["student"]))
            codes = analyse(nb.cells)
            units = detect_units(nb, codes, exercise_ids=list(exercise_ids), homework_id=homework_id)
            sub.unit_versions.update({u.id: str(u.version) for u in units})
            run_options = effective_options(options, units)
            sub.run_options.append(run_options)
            sub.hidden.append(tuple(hidden_paths(sub.notebooks, options=run_options, hide=hide)))
            sub.preload.append(heavy_imports(codes))
    except (NotebookError, UnknownExerciseError) as exc:
        sub.problem = str(exc)
    except Exception as exc:  # the grader's static analysis failed on this upload only
        sub.fault = (f"the notebook could not be analysed ({type(exc).__name__}: {str(exc)[:200]})\n"
                     + "".join(traceback.format_exception(exc))[-4000:])
    sub.claimed = claims[0] if claims else ""


def describe(subs: Sequence[Submission], root: Path, *, options: Options, exercise_ids: Sequence[str] = (),
             homework_id: str | None = None, student_from: str = "auto", hide: Sequence[str | Path] = (),
             trust_metadata: bool = False,
             known_sources: Callable[[str], set[str]] | None = None) -> list[Submission]:
    """Fill in each submission's identity, hashes, exercises and kernel plans (in place).

    ``known_sources(id)`` gives the upload names the gradebook already holds for ``id``:
    a metadata claim on an id graded from another upload is refused unless ``trust_metadata``."""
    if student_from not in STUDENT_SOURCES:
        raise InputError(f"--student-from must be one of {', '.join(STUDENT_SOURCES)}, not {student_from!r}")
    for sub in subs:
        _file_facts(sub, root)
        if not sub.problem:
            _analyse(sub, options=options, exercise_ids=exercise_ids, homework_id=homework_id, hide=hide)
        sub.student = _auto_id(sub, student_from)
    if student_from == "metadata":
        _apply_claims(subs, trust_metadata, known_sources or (lambda _: set()))
    _separate_duplicates(subs)
    return list(subs)


def _apply_claims(subs: Sequence[Submission], trust: bool, known_sources: Callable[[str], set[str]]) -> None:
    """Use each notebook's claimed id, unless (without ``trust``) it belongs to another upload."""
    unclaimed = {sub.student: sub for sub in subs if not sub.claimed}
    for sub in subs:
        claim = sub.claimed
        if not claim or claim == sub.student:
            continue
        other = unclaimed.get(claim)
        graded_from = known_sources(claim) - {sub.source.name}
        if not trust and (other is not None or graded_from):
            owner = other.source.name if other is not None else ", ".join(sorted(graded_from))
            sub.problem = (f"{sub.source.name}: its metadata claims student id {claim!r}, which belongs to another "
                           f"upload ({owner}); not graded under that id (--trust-metadata accepts such claims)")
            continue
        sub.student = claim


def _separate_duplicates(subs: Sequence[Submission]) -> None:
    """Uploads sharing one student id: each gets its own row, keyed by its upload name, saying why."""
    groups: dict[str, list[Submission]] = {}
    for sub in subs:
        groups.setdefault(sub.student, []).append(sub)
    for student, group in groups.items():
        if len(group) < 2:
            continue
        names = ", ".join(sorted(s.source.name for s in group))
        for sub in group:
            sub.problem = (f"{sub.source.name}: several uploads have the student id {student!r} ({names}); none is "
                           "graded under it: rename them or choose another --student-from")
            sub.student = DUPLICATE_PREFIX + clean_id(sub.source.name)
