"""What the grading side and the kernel side exchange, as plain data.

The units plan :class:`KernelCall` s; the engine runs them and hands back an
:class:`ExecutionRun` holding one :class:`RawAnswer` per call. Kept apart from the
engine so that declarations and checks use these records without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from grader.results import AnswerStatus, ExecutionSummary

__all__ = ["KernelCall", "RawAnswer", "ExecutionRun"]


@dataclass(frozen=True)
class KernelCall:
    """A probe request to send after prepared cell ``after`` (-1: before the first cell;
    ``None``: after the last one)."""

    key: str
    request: dict[str, Any]
    timeout: float
    after: int | None = None


@dataclass
class RawAnswer:
    """What came back for one probe request: the runtime's payload or why there is none."""

    status: AnswerStatus
    payload: dict[str, Any] | None = None
    message: str = ""
    seconds: float = 0.0


@dataclass
class ExecutionRun:
    """One notebook's execution: summary, probe answers, and the runtime's events per cell."""

    summary: ExecutionSummary
    answers: dict[str, RawAnswer] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    nb: Any = None  # the executed nbformat notebook

    def figures(self, cells: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Figures captured in the given submitted cells (all cells if None), in order."""
        out = []
        for cell in sorted(self.events):
            if cells is None or cell in cells:
                for event in self.events[cell]:
                    out += [dict(fig, cell=cell) for fig in event.get("figures", [])]
        return out
