"""Students' local checks: ``from grader import check; check("broadcasting")``.

Run inside the student's own Jupyter session, :func:`check` grades the *saved*
notebook with the public seed through the same pipeline as the instructor (a fresh,
isolated kernel), and shows the report in the notebook. Save the notebook first: the
check sees the file, not the cells' unsaved state. While the grader itself runs a
notebook, ``check`` is replaced by a stand-in that does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.results import SubmissionResult

__all__ = ["check", "find_notebook"]


def find_notebook(exercise_id: str | None = None, path: str | os.PathLike[str] | None = None) -> Path:
    """The notebook to check: ``path``, else Jupyter's session file, else the only notebook here."""
    if path:
        return Path(path)
    session = os.environ.get("JPY_SESSION_NAME") or os.environ.get("__vsc_ipynb_file__")
    if session and Path(session).suffix == ".ipynb" and Path(session).is_file():
        return Path(session)
    candidates = sorted(Path.cwd().glob("*.ipynb"))
    if exercise_id:
        named = [p for p in candidates if exercise_id in p.stem]
        candidates = named or candidates
    if len(candidates) == 1:
        return candidates[0]
    raise FileNotFoundError("cannot tell which notebook to check; call check(exercise, path='my.ipynb')")


def check(exercise: str | None = None, path: str | os.PathLike[str] | None = None) -> SubmissionResult:
    """Grade the saved notebook (public seed) and print the report; returns the result."""
    from grader.config import load_options
    from grader.pipeline import grade
    from grader.report.terminal import print_report

    options = load_options(env={k: v for k, v in os.environ.items() if k != "GRADER_SECRET"})
    notebook = find_notebook(exercise, path)
    result = grade(notebook, options=options, exercise_ids=[exercise] if exercise else [])
    print_report(result)
    return result
