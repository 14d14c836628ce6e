"""Similarity across a class: the students' own code and prose, base subtracted.

``grade similarity`` calls :func:`find_similar`; the stages are separate modules:

* ``extract``: per submission, own code statements and own prose sentences (static base out);
* ``store``:   the extracts kept in the gradebook (table ``similarity_extracts``);
* ``code``:    normalised tokens, winnowed k-gram fingerprints, matched regions;
* ``prose``:   character n-gram TF-IDF, sentence alignment;
* ``compare``: class base (what many share), pair scores, clusters;
* ``output``:  JSON, CSV, and the JPlag / Dolos export.

See ``docs/SIMILARITY.md``. Nothing here calls anything plagiarism: scores and regions
are evidence for a person to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from grader.classroom.similarity.compare import (CODE_THRESHOLD, PROSE_THRESHOLD, Cluster, Pair, SimilarityReport,
                                                 compare_class)
from grader.classroom.similarity.extract import Base, Extract, build_base, extract_notebooks, homework_of
from grader.classroom.similarity.store import extract_class, extracts_from_gradebook, store_extract, units_in_gradebook
from grader.errors import InputError

__all__ = ["find_similar", "build_base", "extract_notebooks", "store_extract", "compare_class", "Base", "Extract",
           "Pair", "Cluster", "SimilarityReport", "CODE_THRESHOLD", "PROSE_THRESHOLD"]


def _folder_jobs(folder: Path) -> list[tuple[str, list[Path]]]:
    from grader.classroom.submissions import find_submissions

    return [(sub.name, list(sub.notebooks)) for sub in find_submissions(folder)]


def find_similar(*, folder: Path | None = None, db: Path | None = None, homework_id: str | None = None,
                 exercise_ids: Sequence[str] = (), base_paths: Sequence[Path] = (), workers: int = 2,
                 code_threshold: float = CODE_THRESHOLD, prose_threshold: float = PROSE_THRESHOLD,
                 save: bool = True) -> SimilarityReport:
    """Compare a class given as a folder of submissions, or as a gradebook (``db``; its
    stored extracts are used, missing ones are read from the notebooks and stored when
    ``save``; ``folder`` then says where the notebooks are if they moved)."""
    if folder is None and db is None:
        raise InputError("give a folder of submissions or --db GRADEBOOK")
    if homework_id and exercise_ids:
        raise InputError("give --homework or --exercise, not both")
    for name, value in (("--code-threshold", code_threshold), ("--prose-threshold", prose_threshold)):
        if not 0 < value <= 1:
            raise InputError(f"{name} must be in (0, 1], not {value}")
    jobs = _folder_jobs(folder) if folder is not None and db is None else []
    if not homework_id and not exercise_ids:
        homework_id, exercise_ids = units_in_gradebook(db) if db is not None else homework_of(jobs[0][1])
    base = build_base(homework_id=homework_id, exercise_ids=exercise_ids, base_paths=base_paths)
    notes: list[str] = []
    if db is not None:
        extracts, notes = extracts_from_gradebook(db, base, folder=folder, workers=workers, save=save)
    else:
        extracts = extract_class(jobs, base, workers=workers)
    if len(extracts) < 2:
        raise InputError("fewer than two submissions to compare" + (f" ({notes[0]})" if notes else ""))
    report = compare_class(extracts, base, code_threshold=code_threshold, prose_threshold=prose_threshold)
    report.notes = notes + report.notes
    return report
