"""Result records of every stage, as dataclasses with plain-dict round trips.

Renderers (``grader.report``), the gradebook and the exports consume these; nothing
here formats text for a terminal.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "TestResult", "UnitResult", "CellRecord", "Edit", "ExecutionSummary",
    "SubmissionResult", "to_dict", "from_dict", "TestStatus", "CellStatus", "RunOutcome", "Outcome",
    "SubmissionStatus", "AnswerStatus",
]

# Every status of the grader, typed once. Renderers map each value to words; a new value
# added here must be added to their tables (mypy checks the Literal uses).
TestStatus = Literal["passed", "failed", "error"]
CellStatus = Literal["ok", "error", "timeout", "killed", "memory", "not_run"]
RunOutcome = Literal["completed", "timeout", "dead_kernel", "memory_limit", "startup_failed"]
"""How one notebook's execution ended (:attr:`ExecutionSummary.outcome`)."""
Outcome = Literal["completed", "cell_timeout", "timeout", "dead_kernel", "memory_limit", "startup_failed", ""]
"""A submission's worst outcome (a :class:`RunOutcome`, or ``cell_timeout`` when every
notebook completed but a cell was interrupted; empty when it was not graded)."""
SubmissionStatus = Literal["graded", "invalid", "error"]
"""graded (a result exists), invalid (the upload cannot be graded: the student's to fix),
error (the grader failed on it: kept with the traceback, retried by the next run)."""
AnswerStatus = Literal["ok", "timeout", "killed", "dead_kernel", "no_answer", "tampered", "not_run", "error"]
"""What came back for one probe request (:class:`grader.protocol.RawAnswer`)."""


@dataclass
class TestResult:
    """One graded test: points earned, points possible and the message that teaches."""

    name: str
    score: float
    max_score: float
    status: TestStatus
    message: str = ""
    hidden: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class UnitResult:
    """One exercise or one free-form homework, graded."""

    id: str
    title: str
    kind: Literal["exercise", "homework"] = "exercise"
    version: str = ""
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)


@dataclass
class CellRecord:
    """What happened to one code cell during the grader's own execution."""

    index: int
    status: CellStatus
    seconds: float = 0.0
    ename: str = ""
    evalue: str = ""
    output_bytes: int = 0
    truncated: bool = False
    source_file: str = ""
    label: str = ""  # "code cell 3": how reports name the cell (older rows: empty)

    @property
    def where(self) -> str:
        """The cell as reports name it."""
        return self.label or f"cell {self.index + 1}"


@dataclass
class Edit:
    """A change the prepare stage made to a cell, listed in the report."""

    cell: int
    line: int
    kind: str
    original: str
    label: str = ""  # "code cell 3" (older rows: empty)

    @property
    def note(self) -> str:
        """The line and why it was not run, for the reports."""
        why = {"install": "nothing is installed while grading; the grader's environment has the course's packages",
               "matplotlib magic": "figures are drawn headless while grading, and the grader reads them"}
        where = self.label or f"cell {self.cell + 1}"
        return f"{where}, line {self.line}: {self.original} (not run: {why.get(self.kind, self.kind)})"


@dataclass
class ExecutionSummary:
    """How one notebook's execution went, as a whole."""

    outcome: RunOutcome = "completed"
    message: str = ""
    seconds: float = 0.0
    cells: list[CellRecord] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    isolation: dict[str, Any] = field(default_factory=dict)
    network_attempts: list[str] = field(default_factory=list)
    source_file: str = ""
    malformed: list[str] = field(default_factory=list)  # kernel messages refused (tampered runtime)

    def fork_note(self, limit: int = 160) -> str:
        """One line when the kernel was meant to be forked from the template but started
        fresh (the isolation record's ``fork_failed`` says why), else ``""``."""
        reason = str(self.isolation.get("fork_failed") or "").strip()
        if not reason:
            return ""
        reason = reason.splitlines()[0]
        if len(reason) > limit:
            reason = reason[:limit - 3] + "..."
        return f"kernel started fresh: the kernel template could not fork ({reason})"


@dataclass
class SubmissionResult:
    """Everything graded for one submission (one or several notebooks)."""

    sources: list[str]
    units: list[UnitResult] = field(default_factory=list)
    executions: list[ExecutionSummary] = field(default_factory=list)
    student: str = ""
    seed_policy: str = "public"
    grader_version: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(u.score for u in self.units), 6)

    @property
    def max_score(self) -> float:
        return round(sum(u.max_score for u in self.units), 6)

    @property
    def tests(self) -> list[TestResult]:
        return [t for u in self.units for t in u.tests]


def to_dict(obj: Any) -> Any:
    """A JSON-ready dict of any result dataclass (properties ``score``/``max_score`` included)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for prop in ("score", "max_score"):
            if isinstance(getattr(type(obj), prop, None), property):
                out[prop] = getattr(obj, prop)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: type[Any], data: Any) -> Any:
    """Rebuild a result dataclass from :func:`to_dict` output; unknown keys are ignored."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _revive(hints[f.name], data[f.name])
    return cls(**kwargs)


def _revive(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if dataclasses.is_dataclass(item):
            return [from_dict(item, v) for v in value]
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    return value
