"""What a unit (an exercise or a homework) is given, and what the pipeline asks of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from grader.checking.probe import ProbeDescriptor
from grader.notebook.load import Notebook
from grader.notebook.static import CellCode
from grader.protocol import ExecutionRun, KernelCall
from grader.results import UnitResult

__all__ = ["UnitContext", "Unit", "UnitBase"]


@dataclass
class UnitContext:
    """What a unit may know about the notebook it grades (static facts, no kernel)."""

    notebook: Notebook
    codes: list[CellCode]
    secret: str
    origin_to_position: Callable[[int], int]
    cell_records: list[Any] = field(default_factory=list)
    descriptors: dict[str, ProbeDescriptor] = field(default_factory=dict)
    show_hidden_details: bool = True
    data_root: Path | None = None  # the data store, for units that measure models on its test sets
    seeds: dict[str, int] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # facts derived from ``codes`` once (static.name_facts)

    def labels(self) -> dict[int, str]:
        return {c.index: c.label for c in self.notebook.cells}


class Unit(Protocol):
    """What the pipeline needs from an exercise or a homework."""

    id: str
    title: str
    version: str

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def limits(self) -> dict[str, Any]: ...

    def plan(self, ctx: UnitContext) -> list[KernelCall]: ...

    def evaluate(self, parts: list[tuple[UnitContext, ExecutionRun]]) -> UnitResult: ...


class UnitBase:
    """What every unit keeps the same way: the parameters injected into the notebook
    (``budget``) and the options it needs raised (``limits``)."""

    def __init__(self, budget: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> None:
        self.budget = dict(budget or {})
        self._limits = dict(limits or {})

    @property
    def parameters(self) -> dict[str, Any]:
        """Values injected as the notebook's parameters cell."""
        return dict(self.budget)

    @property
    def limits(self) -> dict[str, Any]:
        """Options (timeouts, memory) this unit needs raised."""
        return dict(self._limits)
