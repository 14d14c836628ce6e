"""What each cell did, as the kernel's trace reported it (``runtime/trace.py``).

The homework's first probe starts the trace; every later cell's end-of-cell event then
carries ``{"trace": {...}}``: element-wise operations with their operand and result
shapes, reductions along a dimension, operations on tensors that require grad, calls of
``backward``/``autograd.grad`` and the errors raised by torch operations, plus frames
read with pandas. Models called in a cell come with the models' own event
(``models_called``). Everything is parsed defensively here: the kernel is untrusted, so
a malformed entry is dropped, never trusted and never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.checking.probe import Steps, build_request
from grader.protocol import ExecutionRun

__all__ = ["Op", "TraceError", "AutogradCall", "CellTrace", "trace_probe", "read_traces", "models_called",
           "TRACE_KEY"]

TRACE_KEY = "trace/start"
MAX_ITEMS = 64


@dataclass(frozen=True)
class Op:
    """One torch operation: name (``add``, ``div``, ``lt``, ``sum``), operand shapes
    (None for a non-tensor operand), result shape, how often, and a detail (the number
    of True values of a comparison; ``[dim, keepdim]`` of a reduction)."""

    name: str
    shapes: tuple[tuple[int, ...] | None, ...]
    result: tuple[int, ...] | None
    count: int = 1
    extra: Any = None


@dataclass(frozen=True)
class TraceError:
    """A torch operation that raised, with its operand shapes."""

    op: str
    shapes: tuple[tuple[int, ...] | None, ...]
    ename: str
    message: str


@dataclass(frozen=True)
class AutogradCall:
    """``backward`` or ``autograd.grad``: the root's shape, whether a gradient was given, the error ('' if none)."""

    kind: str
    root: tuple[int, ...] | None
    given: bool
    error: str


@dataclass
class CellTrace:
    """The trace of one cell."""

    ops: list[Op] = field(default_factory=list)
    errors: list[TraceError] = field(default_factory=list)
    autograd: list[AutogradCall] = field(default_factory=list)
    grad_ops: list[tuple[str, tuple[int, ...] | None]] = field(default_factory=list)
    frames: list[tuple[str, int, int]] = field(default_factory=list)
    models_called: list[int] = field(default_factory=list)
    truncated: bool = False


def trace_probe() -> dict[str, Any]:
    """The probe request (sent before the first cell) that starts the trace."""
    node = {"kind": "call", "fn": {"kind": "runtime", "name": "start_trace"}, "args": [], "kwargs": {}}
    return build_request(Steps({"trace": node}, ("trace",), max_bytes=1024))


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, list) and len(value) <= 8 and all(isinstance(n, int) and not isinstance(n, bool)
                                                          and 0 <= n < 2 ** 40 for n in value):
        return tuple(value)
    return None


def _shapes(value: Any) -> tuple[tuple[int, ...] | None, ...]:
    return tuple(_shape(v) for v in value[:2]) if isinstance(value, list) else ()


def _text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _parse(raw: dict[str, Any]) -> CellTrace:
    trace = CellTrace(truncated=raw.get("truncated") is True)
    for item in raw.get("ops", [])[:MAX_ITEMS] if isinstance(raw.get("ops"), list) else []:
        if isinstance(item, list) and len(item) == 5 and isinstance(item[0], str):
            extra = item[4] if isinstance(item[4], (int, list)) or item[4] is None else None
            count = item[3] if isinstance(item[3], int) and not isinstance(item[3], bool) else 1
            trace.ops.append(Op(item[0][:20], _shapes(item[1]), _shape(item[2]), count, extra))
    for item in raw.get("errors", [])[:MAX_ITEMS] if isinstance(raw.get("errors"), list) else []:
        if isinstance(item, list) and len(item) == 4:
            trace.errors.append(TraceError(_text(item[0], 20), _shapes(item[1]), _text(item[2], 60), _text(item[3])))
    for item in raw.get("backward", [])[:MAX_ITEMS] if isinstance(raw.get("backward"), list) else []:
        if isinstance(item, list) and len(item) == 4:
            trace.autograd.append(AutogradCall(_text(item[0], 20), _shape(item[1]), item[2] is True, _text(item[3])))
    for item in raw.get("grad_ops", [])[:MAX_ITEMS] if isinstance(raw.get("grad_ops"), list) else []:
        if isinstance(item, list) and len(item) >= 2 and isinstance(item[0], str):
            trace.grad_ops.append((item[0][:40], _shape(item[1])))
    for item in raw.get("frames", [])[:8] if isinstance(raw.get("frames"), list) else []:
        if isinstance(item, list) and len(item) == 3 and all(isinstance(n, int) for n in item[1:]):
            trace.frames.append((_text(item[0], 80), item[1], item[2]))
    return trace


def read_traces(run: ExecutionRun) -> dict[int, CellTrace]:
    """Cell -> its trace, for the cells that reported one (none when the trace did not start)."""
    out: dict[int, CellTrace] = {}
    for cell, events in run.events.items():
        for event in events if isinstance(events, list) else []:
            if not isinstance(event, dict):
                continue
            raw = event.get("trace")
            if isinstance(raw, dict):
                out[cell] = _parse(raw)
            called = event.get("models_called")
            if isinstance(called, list):
                trace = out.setdefault(cell, CellTrace())
                trace.models_called += [n for n in called[:MAX_ITEMS] if isinstance(n, int) and not isinstance(n, bool)]
    return out


def models_called(run: ExecutionRun) -> dict[int, list[int]]:
    """Cell -> the model numbers it called (trained or evaluated)."""
    return {cell: t.models_called for cell, t in read_traces(run).items() if t.models_called}
