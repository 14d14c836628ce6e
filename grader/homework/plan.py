"""A homework notebook's static plan: sections, checkpoint anchors, exercise answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from grader.checking.probe import Steps, build_request
from grader.homework.checkpoints import Checkpoint, Planned, changed_after, find_anchor, read_node, request_for
from grader.homework.recognise import Attempt
from grader.homework.sections import fingerprint_hits, normalise_code, place_cells
from grader.notebook.load import Notebook
from grader.notebook.static import CellCode

if TYPE_CHECKING:
    from grader.homework.unit import Homework

__all__ = ["PartPlan", "analyse", "read_request", "section_scope", "scope_codes"]


@dataclass
class PartPlan:
    """The static analysis of one notebook, the same at planning and at evaluation."""

    placements: dict[int, str | None]
    checkpoints: list[Planned]
    attempts: list[tuple[str, Attempt]] = field(default_factory=list)


def analyse(hw: "Homework", nb: Notebook, codes: Sequence[CellCode], part: int = 0) -> PartPlan:
    """Where every cell belongs, where each checkpoint is measured and which exercise
    answers the notebook holds: the same at planning and at evaluation."""
    placements = {p.ref.cell: p.section for p in place_cells(nb, codes, hw.sections, part)}
    plan = PartPlan(placements, [])
    for recogniser in hw.exercises:
        scoped = scope_codes(codes, placements, recogniser.section)
        for j, attempt in enumerate(recogniser.find(scoped, part)):
            plan.attempts.append((f"{hw.id}/ex/{recogniser.id}/{j}", attempt))
    # A statement of the book in a student's exercise answer (their own `a + b`) is no checkpoint;
    # a cell holding the section's book code (a merged cell) stays one even when it looks like an answer.
    answers = {c for _, a in plan.attempts if not a.facts.get("tentative") for c in a.cells}
    book = {c.cell.index for c in codes if fingerprint_hits(normalise_code(c.cell.source), hw.sections)}
    book_codes = [c for c in codes if c.cell.index not in answers - book]
    for i, checkpoint in enumerate(hw.checkpoints):
        plan.checkpoints.append(_place_checkpoint(f"{hw.id}/cp/{i}", checkpoint, book_codes, placements))
    return plan


def section_scope(placements: dict[int, str | None], section: str) -> set[int]:
    """The cells an exercise of ``section`` may be answered in: the section's own cells
    (its book code and the student's exercise area under it), plus cells placed in no
    section that follow them (under a heading of another book's number, say) until the
    next section begins. A cell of another section never counts: a typo in 2.5's book
    code is not a 2.1 exercise."""
    scope: set[int] = set()
    inside = False
    for cell in sorted(placements):
        placed = placements[cell]
        if placed == section:
            inside = True
            scope.add(cell)
        elif placed is None and inside:
            scope.add(cell)
        elif placed is not None:
            inside = False
    return scope


def scope_codes(codes: Sequence[CellCode], placements: dict[int, str | None], section: str) -> list[CellCode]:
    """The code cells of :func:`section_scope`, in notebook order."""
    scope = section_scope(placements, section)
    return [c for c in codes if c.cell.index in scope]


def _place_checkpoint(key: str, checkpoint: Checkpoint, codes: Sequence[CellCode],
                      placements: dict[int, str | None]) -> Planned:
    planned = Planned(checkpoint, key)
    in_section = [c for c, s in placements.items() if s == checkpoint.section]
    found = find_anchor(checkpoint.anchor, [c for c in codes if c.cell.index in in_section], then=checkpoint.then)
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


def read_request(attempt: Attempt) -> tuple[Steps, dict[str, Any]]:
    """The probe reading the globals an exercise answer left behind, and its request."""
    steps = {name: read_node(name) for name in attempt.reads}
    descriptor = Steps(steps, tuple(steps), max_bytes=64 * 1024 * 1024)
    return descriptor, build_request(descriptor)
