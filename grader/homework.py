"""A free-form homework as a grading unit: sections, checkpoints, exercises, models, rubric.

A homework module declares one :class:`Homework` (see ``grader/homeworks/d2l_ch2_5.py``
and ``docs/HOMEWORK.md``). For every notebook of a submission, :meth:`Homework.plan`
places the cells in sections (``sections.py``), attaches each checkpoint's probe to the
cell holding its anchor, each recognised exercise's reads to its last cell, and one
probe after the last cell that brings back every model the notebook trained.
:meth:`Homework.evaluate` puts the notebooks of the submission together: sections
present or missing with their cells, what ran and what raised (and why that is or is
not a failure), checkpoints, discussions, exercises, models, stored outputs that
disagree with the grader's run, and the rubric's points, each explained. Everything the
reports need is in ``UnitResult.extra`` as plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .checkpoints import Checkpoint, Planned, changed_after, find_anchor, read_node, request_for
from .errors import SpecError
from .execute import ExecutionRun, KernelCall
from .load import Notebook
from .probe import Steps
from .recognise import Attempt, Recogniser
from .results import UnitResult
from .rubric import Rubric
from .sections import SectionSpec, find_sections, place_cells
from .spec import UnitContext
from .static import CellCode
from .trained import models_probe

__all__ = ["Homework"]

MODEL_PROBE_TIMEOUT = 300.0


@dataclass
class _PartPlan:
    """The static analysis of one notebook, the same at planning and at evaluation."""

    placements: dict[int, str | None]
    checkpoints: list[Planned]
    attempts: list[tuple[str, Attempt]] = field(default_factory=list)


class Homework:
    """One free-form homework: what its sections are and how its points are earned."""

    kind = "homework"

    def __init__(self, id: str, *, title: str, section: str, sections: Sequence[SectionSpec],
                 rubric: Rubric, checkpoints: Sequence[Checkpoint] = (), exercises: Sequence[Recogniser] = (),
                 book_forwards: dict[str, str] | None = None, budget: dict[str, Any] | None = None,
                 limits: dict[str, Any] | None = None, summary: str = "", version: str = "1",
                 match_sections: int = 2) -> None:
        self.id, self.title, self.section, self.version, self.summary = id, title, section, version, summary
        self.sections = tuple(sections)
        self.checkpoints = tuple(checkpoints)
        self.exercises = tuple(exercises)
        self.rubric = rubric
        self.book_forwards = dict(book_forwards or {})
        self.budget = dict(budget or {})
        self._limits = dict(limits or {})
        self.match_sections = match_sections

    # -- the Unit interface ------------------------------------------------------------

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.budget)

    @property
    def limits(self) -> dict[str, Any]:
        return dict(self._limits)

    @property
    def points(self) -> float:
        with_checkpoints = {c.section for c in self.checkpoints}
        total = sum(self.rubric.section_max(s.has_code, s.id in with_checkpoints) for s in self.sections)
        return total + self.rubric.exercises + sum(g.points for g in self.rubric.models)

    def validate(self) -> None:
        """Check the declaration as a whole (the registry calls this when loading it)."""
        ids = [s.id for s in self.sections]
        if len(set(ids)) != len(ids):
            raise SpecError(self.id, "two sections share an id")
        for what, items in (("checkpoint", self.checkpoints), ("exercise", self.exercises), ("model goal", self.rubric.models)):
            for item in items:
                if item.section not in ids:
                    raise SpecError(self.id, f"{what} {getattr(item, 'title', '')!r} names unknown section {item.section}")
        names = [e.id for e in self.exercises]
        if len(set(names)) != len(names):
            raise SpecError(self.id, "two exercises share an id")

    def matches(self, notebook: Notebook, codes: list[CellCode]) -> bool:
        """Whether a notebook without exercise markers looks like this homework: the book
        code of at least ``match_sections`` of its sections."""
        found = find_sections([(notebook, codes)], self.sections)
        return sum(len(s.fingerprints) >= 2 for s in found) >= self.match_sections

    def plan(self, ctx: UnitContext) -> list[KernelCall]:
        """Probes for one notebook: checkpoints after their anchors, exercise reads after
        their cells, and the models after the last cell."""
        plan = self._analyse(ctx.notebook, ctx.codes)
        calls = []
        for planned in plan.checkpoints:
            if planned.status == "planned" and planned.cell is not None:
                calls.append(KernelCall(planned.key, planned.request, 0.0, ctx.origin_to_position(planned.cell)))
        for key, attempt in plan.attempts:
            if attempt.reads:
                _, request = self._reads(attempt)
                calls.append(KernelCall(key, request, 0.0, ctx.origin_to_position(attempt.cells[-1])))
        _, request = models_probe()
        calls.append(KernelCall(f"{self.id}/models", request, MODEL_PROBE_TIMEOUT, None))
        return calls

    def evaluate(self, parts: list[tuple[UnitContext, ExecutionRun]]) -> UnitResult:
        """Grade the submission (all its notebooks together)."""
        from .homework_report import assemble

        return assemble(self, parts)

    # -- static analysis, shared by plan and evaluate --------------------------------------

    def _analyse(self, nb: Notebook, codes: Sequence[CellCode], part: int = 0) -> _PartPlan:
        placements = {p.ref.cell: p.section for p in place_cells(nb, codes, self.sections, part)}
        plan = _PartPlan(placements, [])
        for i, checkpoint in enumerate(self.checkpoints):
            plan.checkpoints.append(self._place_checkpoint(i, checkpoint, codes, placements))
        for recogniser in self.exercises:
            for j, attempt in enumerate(recogniser.find(codes, part)):
                plan.attempts.append((f"{self.id}/ex/{recogniser.id}/{j}", attempt))
        return plan

    def _place_checkpoint(self, i: int, checkpoint: Checkpoint, codes: Sequence[CellCode],
                          placements: dict[int, str | None]) -> Planned:
        planned = Planned(checkpoint, f"{self.id}/cp/{i}")
        in_section = [c for c, s in placements.items() if s == checkpoint.section]
        found = find_anchor(checkpoint.anchor, [c for c in codes if c.cell.index in in_section])
        if found is None:
            planned.status = "not_found"
            planned.message = f"no cell runs `{checkpoint.anchor}`"
            return planned
        code, statement = found
        planned.cell = code.cell.index
        changed = changed_after(code, statement, checkpoint.reads) if checkpoint.reads else []
        if changed:
            planned.status = "unmeasurable"
            planned.message = f"{', '.join(changed)} changed later in the same cell"
            return planned
        if not checkpoint.figures:
            planned.descriptor, planned.request = request_for(checkpoint)
        return planned

    @staticmethod
    def _reads(attempt: Attempt) -> tuple[Steps, dict[str, Any]]:
        steps = {name: read_node(name) for name in attempt.reads}
        descriptor = Steps(steps, tuple(steps), max_bytes=64 * 1024 * 1024)
        return descriptor, {"seed": None, "steps": [[k, v] for k, v in steps.items()], "return": list(steps),
                            "max_bytes": descriptor.max_bytes}
