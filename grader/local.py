"""Students' local checks: ``from grader import check; check("broadcasting")``.

Run inside the student's own Jupyter session (JupyterLab, VS Code, Colab, nbclient),
:func:`check` grades the *saved* notebook with the public seed through the same
pipeline as the instructor, in a fresh, isolated kernel of its own: the student's kernel
only waits and prints. Every Jupyter kernel already runs an event loop, where
``asyncio.run`` is refused, so the grading runs on a worker thread with a loop of its
own. The report (score, each test with its message) is printed in the cell. Save the
notebook first: the check sees the file, not the cells' unsaved state. While the grader
itself runs a notebook, ``check`` is replaced by a stand-in that does nothing.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

from grader.results import SubmissionResult

__all__ = ["check", "find_notebook", "Checked"]


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


class Checked:
    """The result of :func:`check`: a :class:`SubmissionResult` (its attributes are
    reachable directly) that shows as one short line, so that a cell ending in
    ``check(...)`` does not print the whole record after the report."""

    def __init__(self, result: SubmissionResult) -> None:
        self.result = result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)

    def __repr__(self) -> str:
        return f"<d2l-grade check: {self.result.score:g} / {self.result.max_score:g}>"


def _in_worker(job: Any) -> Any:
    """``job()`` on a thread of its own (which has no running event loop), re-raising
    whatever it raised here."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = job()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="d2l-grade-check", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def check(exercise: str | None = None, path: str | os.PathLike[str] | None = None) -> Checked:
    """Grade the saved notebook (public seed) and print the report in the cell."""
    from rich.console import Console

    from grader.config import load_options
    from grader.pipeline import grade
    from grader.report.terminal import render

    options = load_options(env={k: v for k, v in os.environ.items() if k != "GRADER_SECRET"})
    notebook = find_notebook(exercise, path)
    ids = [exercise] if exercise else []
    result: SubmissionResult = _in_worker(lambda: grade(notebook, options=options, exercise_ids=ids))
    text = io.StringIO()
    # plain text, printed by the cell's own thread: rich would otherwise send one HTML
    # display per line when it finds itself in Jupyter
    render(result, Console(file=text, force_jupyter=False, highlight=False, soft_wrap=True))
    print(text.getvalue(), end="")
    return Checked(result)
