"""Paths and small helpers shared by test modules (``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.results import SubmissionResult

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
STUBS = REPO / "exercises"


def find_test(result: SubmissionResult, fragment: str) -> Any:
    """The test whose name contains ``fragment`` (exactly one)."""
    found = [t for t in result.tests if fragment in t.name]
    assert len(found) == 1, [t.name for t in result.tests]
    return found[0]
