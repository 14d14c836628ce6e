"""Class statistics from a gradebook: per exercise and per test, on each student's newest
attempt. Pass rate means full marks; failure messages are grouped by their first line
with numbers masked, so "got 3.1" and "got 2.7" count as one kind of mistake.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from grader.classroom.gradebook import Gradebook

__all__ = ["ExerciseStats", "TestStats", "ClassStats", "class_stats", "failure_kind"]

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
TOP_FAILURES = 3


def failure_kind(message: str) -> str:
    """The first line of ``message`` with every number replaced by ``#``."""
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return NUMBER.sub("#", first)


@dataclass
class TestStats:
    """One test across the class."""

    unit: str
    name: str
    count: int
    max_score: float
    mean: float
    pass_rate: float
    failures: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, count, an example)


@dataclass
class ExerciseStats:
    """One exercise (or homework) across the class."""

    unit: str
    count: int
    max_score: float
    mean: float
    median: float
    pass_rate: float
    scores: list[float]
    tests: list[TestStats] = field(default_factory=list)


@dataclass
class ClassStats:
    """The whole gradebook: counts by status and the exercises."""

    students: int
    statuses: dict[str, int]
    exercises: list[ExerciseStats]


def _test_stats(unit: str, name: str, rows: Any) -> TestStats:
    failed = rows[rows["status"] != "passed"]
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}
    for message in failed["message"]:
        kind = failure_kind(message)
        kinds[kind] += 1
        example.setdefault(kind, message.strip().splitlines()[0] if message.strip() else "(no message)")
    return TestStats(unit=unit, name=name, count=len(rows), max_score=float(rows["max_score"].max()),
                     mean=round(float(rows["score"].mean()), 3),
                     pass_rate=round(float((rows["status"] == "passed").mean()), 4),
                     failures=[(k, n, example[k]) for k, n in kinds.most_common(TOP_FAILURES)])


def class_stats(book: Gradebook) -> ClassStats:
    """Statistics of the newest attempt of every student."""
    import pandas as pd

    subs = book.submissions(with_results=False)
    statuses = Counter(s.status if s.status != "graded" else s.outcome for s in subs)
    tests = pd.DataFrame(book.test_rows(), columns=["student", "attempt", "unit_id", "unit_version", "test", "score",
                                                     "max_score", "status", "message", "hidden"])
    exercises = []
    for unit, rows in tests.groupby("unit_id", sort=True):
        per_student = rows.groupby("student").agg(score=("score", "sum"), max_score=("max_score", "sum"))
        full = per_student["score"] >= per_student["max_score"] - 1e-9
        stats = ExerciseStats(unit=str(unit), count=len(per_student), max_score=float(per_student["max_score"].max()),
                              mean=round(float(per_student["score"].mean()), 3),
                              median=float(per_student["score"].median()), pass_rate=round(float(full.mean()), 4),
                              scores=[float(v) for v in per_student["score"]])
        for name, test_rows in rows.groupby("test", sort=False):
            stats.tests.append(_test_stats(str(unit), str(name), test_rows))
        exercises.append(stats)
    return ClassStats(students=len(subs), statuses=dict(statuses), exercises=exercises)
