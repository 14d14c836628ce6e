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

from typing import Any, Sequence

from grader.errors import SpecError
from grader.homework.checkpoints import Checkpoint
from grader.homework.evaluate import assemble
from grader.homework.plan import analyse, read_request
from grader.homework.recognise import Recogniser
from grader.homework.rubric import Rubric
from grader.homework.sections import SectionSpec, find_sections
from grader.homework.trace import TRACE_KEY, trace_probe
from grader.homework.trained import models_probe, warm_imports
from grader.notebook.load import Notebook
from grader.notebook.static import CellCode
from grader.protocol import ExecutionRun, KernelCall
from grader.results import UnitResult
from grader.units.context import UnitBase, UnitContext

__all__ = ["Homework"]

MODEL_PROBE_TIMEOUT = 300.0


class Homework(UnitBase):
    """One free-form homework: what its sections are and how its points are earned."""

    kind = "homework"

    def __init__(self, id: str, *, title: str, section: str, sections: Sequence[SectionSpec],
                 rubric: Rubric, checkpoints: Sequence[Checkpoint] = (), exercises: Sequence[Recogniser] = (),
                 book_forwards: dict[str, str] | None = None, budget: dict[str, Any] | None = None,
                 limits: dict[str, Any] | None = None, summary: str = "", version: str = "1",
                 match_sections: int = 2) -> None:
        super().__init__(budget, limits)
        self.id, self.title, self.section, self.version, self.summary = id, title, section, version, summary
        self.sections = tuple(sections)
        self.checkpoints = tuple(checkpoints)
        self.exercises = tuple(exercises)
        self.rubric = rubric
        self.book_forwards = dict(book_forwards or {})
        self.match_sections = match_sections

    # -- the Unit interface ------------------------------------------------------------

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
        plan = analyse(self, ctx.notebook, ctx.codes)
        # before the first cell: start the kernel's per-cell trace of tensor operations (runtime/trace.py)
        calls = [KernelCall(f"{self.id}/{TRACE_KEY}", trace_probe(), 30.0, -1)]
        for planned in plan.checkpoints:
            if planned.status == "planned" and planned.cell is not None:
                calls.append(KernelCall(planned.key, planned.request, 0.0, ctx.origin_to_position(planned.cell)))
        for key, attempt in plan.attempts:
            if attempt.reads:
                _, request = read_request(attempt)
                calls.append(KernelCall(key, request, 0.0, ctx.origin_to_position(attempt.cells[-1])))
        _, request = models_probe()
        calls.append(KernelCall(f"{self.id}/models", request, MODEL_PROBE_TIMEOUT, None))
        warm_imports()  # what measuring the models needs, imported while the kernel runs
        return calls

    def evaluate(self, parts: list[tuple[UnitContext, ExecutionRun]]) -> UnitResult:
        """Grade the submission (all its notebooks together)."""
        return assemble(self, parts)
