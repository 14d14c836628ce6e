"""The homework's results as typed records: what ``UnitResult.extra`` holds for a homework.

:func:`grader.homework.evaluate.assemble` builds a :class:`HomeworkResult` and stores
``to_dict()`` in ``UnitResult.extra`` (so JSON, the gradebook and Gradescope's
``results.json`` keep plain data); a renderer reads it back with
:meth:`HomeworkResult.from_dict`, which accepts rows stored by older versions (missing
fields take their defaults, unknown ones are ignored).

The fields instructors script against (``d2l_grade -> units -> homework`` in
``results.json``; documented in docs/HOMEWORK.md) are: ``sections[].id``, ``.present``,
``.ran.failed``, ``.ran.expected_errors``; ``exercises[].id``, ``.title``, ``.status``
(correct | wrong | attempted); ``models[].cls``, ``.fmnist``, ``.evidence`` (starting
with ``rebuilt`` or ``kernel``), ``.accuracy``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

__all__ = ["Ran", "SectionResult", "ExerciseResult", "ModelResult", "HomeworkResult", "ExerciseStatus"]

ExerciseStatus = Literal["correct", "wrong", "attempted"]
T = TypeVar("T")


def _known(cls: type[T], data: Any) -> dict[str, Any]:
    """The fields of ``cls`` present in ``data`` (a dict), others dropped."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if k in names} if isinstance(data, dict) else {}


def _items(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@dataclass
class Ran:
    """How a section's code cells ran in the grader's run."""

    code_cells: int = 0
    ok: int = 0
    expected_errors: list[str] = field(default_factory=list)   # raised on purpose: an exercise's answer, and why
    environment: list[str] = field(default_factory=list)       # not the student's fault (no network, a module)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: Any) -> "Ran":
        return cls(**_known(cls, data))


@dataclass
class SectionResult:
    """One section as found and measured."""

    id: str
    title: str = ""
    present: bool = False
    how: str = "missing"
    has_code: bool = True
    cells: list[str] = field(default_factory=list)
    cell_refs: list[list[int]] = field(default_factory=list)
    headings: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: int = 0
    notes: list[str] = field(default_factory=list)
    ran: Ran = field(default_factory=Ran)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    discussion: dict[str, Any] = field(default_factory=dict)
    stored_outputs: list[dict[str, Any]] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)
    models: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> "SectionResult":
        known = _known(cls, data)
        known["ran"] = Ran.from_dict(known.get("ran"))
        return cls(**{"id": "?", **known})


@dataclass
class ExerciseResult:
    """A recognised exercise: its overall status and each attempt."""

    id: str
    section: str = ""
    title: str = ""
    status: ExerciseStatus = "attempted"
    message: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> "ExerciseResult":
        return cls(**{"id": "?", **_known(cls, data)})


@dataclass
class ModelResult:
    """A model the notebook trained or evaluated, as the grader measured it."""

    part: int = 0
    number: int = 0
    cls: str = "?"
    cell: int | None = None
    cell_label: str | None = None
    architecture: str = ""
    trained: bool = False
    fmnist: bool = False
    accuracy: float | None = None
    evidence: str = "none"
    reason: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    fits: list[dict[str, Any]] = field(default_factory=list)
    activations: list[str] = field(default_factory=list)
    printed: list[float] = field(default_factory=list)
    stored_printed: list[float] = field(default_factory=list)
    section: str | None = None
    disagrees: bool = False

    @property
    def rebuilt(self) -> bool:
        """Measured here from its parameters (the only evidence model goals score)."""
        return self.evidence == "rebuilt"

    @classmethod
    def from_dict(cls, data: Any) -> "ModelResult":
        return cls(**_known(cls, data))


@dataclass
class HomeworkResult:
    """Everything a homework's report shows, for a submission of one or several notebooks."""

    homework: str
    section: str = ""
    notebooks: list[str] = field(default_factory=list)
    sections: list[SectionResult] = field(default_factory=list)
    exercises: list[ExerciseResult] = field(default_factory=list)
    models: list[ModelResult] = field(default_factory=list)
    stored_outputs_elsewhere: list[dict[str, Any]] = field(default_factory=list)
    rubric: dict[str, Any] = field(default_factory=dict)
    figures: list[dict[str, Any]] = field(default_factory=list)  # drawn by exercise answers (line data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (what ``UnitResult.extra`` stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "HomeworkResult":
        """Read ``to_dict()`` back, tolerating rows of older versions."""
        known = _known(cls, data)
        known["sections"] = [SectionResult.from_dict(s) for s in _items(known.get("sections"))]
        known["exercises"] = [ExerciseResult.from_dict(e) for e in _items(known.get("exercises"))]
        known["models"] = [ModelResult.from_dict(m) for m in _items(known.get("models"))]
        return cls(**{"homework": "?", **known})
