"""Gradescope's ``results.json`` for one submission.

Top level: ``score``, ``max_score``, ``execution_time``, ``tests`` (each with ``name``,
``score``, ``max_score``, ``status`` of passed/failed, ``output``), and under the extra
key ``d2l_grade`` what else the grader knows: environment, isolation, lines not run,
cell errors, notes; for a free-form homework, everything measured per section (its
``UnitResult.extra``: sections, exercises, models, discussions). Internal grading errors
show as failed with a plain message; their traceback stays in the gradebook, not in what
students see. Each test carries its ``visibility``: hidden tests ``after_published``, the
others ``visible``. Nothing private reaches this document: messages of hidden tests are
the student's version (no inputs or expected values, see grader/units/redact.py) and the
tests' ``details`` (instructor detail, seeds, tracebacks) are left out.
"""

from __future__ import annotations

from typing import Any

from grader.results import SubmissionResult

__all__ = ["to_gradescope"]


def _output(test: Any) -> str:
    return test.message


def _visibility(test: Any) -> str:
    """Hidden tests show once the instructor publishes the grades; the others at once."""
    return "after_published" if test.hidden else "visible"


def to_gradescope(result: SubmissionResult) -> dict[str, Any]:
    """The ``results.json`` document of ``result``."""
    tests = []
    for unit in result.units:
        for test in unit.tests:
            tests.append({"name": test.name, "score": test.score, "max_score": test.max_score,
                          "status": "passed" if test.status == "passed" else "failed",
                          "output": _output(test), "visibility": _visibility(test)})
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": result.seconds,
        "tests": tests,
        "d2l_grade": {
            "student": result.student,
            "sources": result.sources,
            "seed_policy": result.seed_policy,
            "grader_version": result.grader_version,
            "units": [{"id": u.id, "title": u.title, "kind": u.kind, "score": u.score, "max_score": u.max_score,
                       "notes": u.notes, **({"homework": u.extra} if u.kind == "homework" else {})}
                      for u in result.units],
            "executions": [{
                "source": e.source_file, "outcome": e.outcome, "message": e.message, "seconds": e.seconds,
                "environment": e.environment, "isolation": e.isolation, "network_attempts": e.network_attempts,
                "not_run": [{"cell": x.cell + 1, "line": x.line, "kind": x.kind, "text": x.original} for x in e.edits],
                "cell_errors": [{"cell": c.index + 1, "status": c.status, "error": f"{c.ename}: {c.evalue}"}
                                for c in e.cells if c.status != "ok"],
            } for e in result.executions],
        },
    }
