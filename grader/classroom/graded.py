"""Grade one submission of a batch and turn whatever happens into a recordable outcome.

Used alike by the local workers and by Dask workers (where the outcome travels back as
a plain dict). A submission's own failures are results: a notebook that is not JSON or
holds no exercise is ``invalid``; a timeout, dead kernel or memory limit is ``graded``
with that ``outcome`` (finished exercises keep their points). Only the grader's faults,
an exception of the grader or a kernel that could not start, are ``error``: those are
retried by the next run.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from grader.config import Options
from grader.errors import InputError
from grader.pipeline import grade_async
from grader.results import Outcome, SubmissionResult, SubmissionStatus, from_dict, to_dict

__all__ = ["Graded", "assess", "grade_submission", "internal_error", "options_to_dict", "options_from_dict"]

MAX_TRACEBACK = 20_000  # characters of traceback kept in an error row


@dataclass
class Graded:
    """What grading one submission gave: status, worst outcome, message, the result."""

    status: SubmissionStatus
    outcome: Outcome = ""
    message: str = ""
    seconds: float = 0.0
    result: SubmissionResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), e.g. to return from a Dask worker."""
        return {"status": self.status, "outcome": self.outcome, "message": self.message, "seconds": self.seconds,
                "result": to_dict(self.result) if self.result is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graded:
        """Rebuild from :meth:`to_dict`."""
        result = from_dict(SubmissionResult, data["result"]) if data.get("result") else None
        return cls(data["status"], data.get("outcome", ""), data.get("message", ""), float(data.get("seconds", 0.0)),
                   result)


def assess(result: SubmissionResult) -> Graded:
    """Status, outcome and message of a finished grading.

    The outcome is the first notebook's that did not complete (timeout, dead_kernel,
    memory_limit, startup_failed); ``cell_timeout`` when every notebook completed but a
    cell had to be interrupted (the run went on, later exercises were graded)."""
    bad = [e for e in result.executions if e.outcome != "completed"]
    outcome: Outcome
    if bad:
        outcome = bad[0].outcome
        message = "; ".join(f"{Path(e.source_file).name}: {e.message or e.outcome}" for e in bad)
    else:
        stuck = [(e, c) for e in result.executions for c in e.cells if c.status in ("timeout", "killed")]
        outcome = "cell_timeout" if stuck else "completed"
        message = "; ".join(f"{Path(e.source_file).name}: {c.where} {c.evalue}" for e, c in stuck)
    status: SubmissionStatus = "error" if outcome == "startup_failed" else "graded"
    return Graded(status, outcome, message, result.seconds, result)


async def grade_submission(paths: Sequence[Path], *, student: str, options: Options,
                           exercise_ids: Sequence[str] = (), homework_id: str | None = None,
                           hide: Sequence[str | Path] = (),
                           new_kernel: Callable[[Options, Sequence[str]], Any] | None = None) -> Graded:
    """Grade ``paths`` as one submission; never raises for what a notebook does.

    Any exception of any stage (a decoder, static analysis, scoring, a renderer of
    ``extra``) becomes an ``error`` row for this submission only, with the traceback
    kept for staff; Ctrl-C and task cancellation still stop the batch."""
    try:
        result = await grade_async(paths, options=options, exercise_ids=exercise_ids, homework_id=homework_id,
                                   student=student, new_kernel=new_kernel, hide=hide)
        return assess(result)
    except InputError as exc:
        return Graded("invalid", "", str(exc))
    except Exception as exc:  # the grader's own fault (RecursionError, MemoryError included)
        return internal_error(exc)


def internal_error(exc: BaseException, where: str = "internal grading error") -> Graded:
    """An ``error`` outcome for ``exc``: one summary line, then the traceback for staff."""
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:  # formatting a RecursionError's traceback can fail in turn
        text = f"{type(exc).__name__} (traceback unavailable)"
    if len(text) > MAX_TRACEBACK:
        text = text[:MAX_TRACEBACK // 2] + "\n[... traceback cut ...]\n" + text[-MAX_TRACEBACK // 2:]
    try:
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
    except Exception:
        first = "<unprintable>"
    return Graded("error", "", f"{where}: {type(exc).__name__}: {first}\n{text}")


def options_to_dict(options: Options) -> dict[str, Any]:
    """The options as plain data (for a Dask task)."""
    return {k: (sorted(v) if isinstance(v, frozenset) else list(v) if isinstance(v, tuple) else v)
            for k, v in vars(options).items()}


def options_from_dict(data: dict[str, Any]) -> Options:
    """Rebuild :class:`Options` from :func:`options_to_dict`."""
    values = dict(data)
    values["explicit"] = frozenset(values.get("explicit", ()))
    values["hide_modules"] = tuple(values.get("hide_modules", ()))
    return Options(**values)
