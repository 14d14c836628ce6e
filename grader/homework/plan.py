"""A homework notebook's static plan: sections, checkpoint anchors, exercise answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from grader.checking.probe import Steps
from grader.homework.checkpoints import Checkpoint, Planned, changed_after, find_anchor, read_node, request_for
from grader.homework.recognise import Attempt
from grader.homework.sections import place_cells
from grader.notebook.load import Notebook
from grader.notebook.static import CellCode

if TYPE_CHECKING:
    from grader.homework.unit import Homework

__all__ = ["PartPlan", "analyse", "read_request"]


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
    for i, checkpoint in enumerate(hw.checkpoints):
        plan.checkpoints.append(_place_checkpoint(f"{hw.id}/cp/{i}", checkpoint, codes, placements))
    for recogniser in hw.exercises:
        for j, attempt in enumerate(recogniser.find(codes, part)):
            plan.attempts.append((f"{hw.id}/ex/{recogniser.id}/{j}", attempt))
    return plan


def _place_checkpoint(key: str, checkpoint: Checkpoint, codes: Sequence[CellCode],
                      placements: dict[int, str | None]) -> Planned:
    planned = Planned(checkpoint, key)
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


def read_request(attempt: Attempt) -> tuple[Steps, dict[str, Any]]:
    """The probe reading the globals an exercise answer left behind, and its request."""
    steps = {name: read_node(name) for name in attempt.reads}
    descriptor = Steps(steps, tuple(steps), max_bytes=64 * 1024 * 1024)
    return descriptor, {"seed": None, "steps": [[k, v] for k, v in steps.items()], "return": list(steps),
                        "max_bytes": descriptor.max_bytes}
