"""Recognisers of 2.3's exercises (linear algebra) that have a measurable answer:
transpose identities (exercises 1-3), ``len`` of a tensor (4, 5), sums along each axis
of a 3-D tensor (8) and the norm of a tensor with three or more axes (9).

The transpose identities are recognised from the code (the book's own ``A == A.T`` is
no answer: only a double transpose, a sum of transposes or ``A + A.T`` is) and judged
from the comparisons the cell ran; the others only from what the cells ran (the
kernel's trace: ``len``, ``sum`` along a dimension, norms), since ``print(len(X))``
or a loop over shapes says nothing a statement scan could read.
"""

from __future__ import annotations

import ast
import math
import re
from typing import ClassVar, Sequence

from grader.homework.recognise.base import (
    Attempt,
    Evidence,
    Measured,
    Recogniser,
    callers,
    expand_names,
    fmt,
    record_error,
    target_names,
)
from grader.homework.trace import CellTrace, Op
from grader.notebook.static import CellCode

__all__ = ["AxisSums", "LenFirstAxis", "NormManyAxes", "TransposeIdentity"]

SHAPE_ERROR = r"must match the size of tensor"
EQUALITY = ("equal", "allclose", "array_equal")


def _transposed(node: ast.AST) -> ast.AST | None:
    """The operand of a transpose (``X.T``, ``X.mT``, ``X.t()``, ``X.transpose(0, 1)``,
    ``torch.t(X)``, ``X.permute(...)``), else None."""
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        attr, receiver = node.func.attr, node.func.value
        if attr in ("t", "transpose", "permute") and not (isinstance(receiver, ast.Name) and receiver.id in ("torch", "np")):
            return receiver
        if attr in ("t", "transpose") and node.args:
            return node.args[0]
    return None


def _same(a: ast.AST | None, b: ast.AST | None) -> bool:
    return a is not None and b is not None and ast.dump(a) == ast.dump(b)


def _sum_of_transposes(node: ast.AST) -> tuple[ast.AST, ast.AST] | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _transposed(node.left), _transposed(node.right)
        if left is not None and right is not None:
            return left, right
    return None


def _plus_own_transpose(node: ast.AST) -> bool:
    """``X + X.T`` (either order)."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (
        _same(node.left, _transposed(node.right)) or _same(node.right, _transposed(node.left)))


def _pairs(tree: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """The two sides of every ``==`` and of every ``torch.equal``/``allclose``/``array_equal`` call."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            out.append((node.left, node.comparators[0]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EQUALITY \
                and len(node.args) >= 2:
            out.append((node.args[0], node.args[1]))
    return out


class TransposeIdentity(Recogniser):
    """A transpose identity checked by comparison: ``kind`` is ``twice`` ((A^T)^T == A),
    ``sum`` (A^T + B^T == (A + B)^T) or ``symmetric`` (A + A^T equals its transpose)."""

    expected_errors: tuple[tuple[str, str], ...] = ()
    CLAIMS: ClassVar[dict[str, str]] = {"twice": "(A^T)^T = A", "sum": "A^T + B^T = (A + B)^T", "symmetric": "A + A^T is symmetric"}

    def __init__(self, id: str, *, section: str, title: str, kind: str) -> None:
        super().__init__(id, section=section, title=title)
        if kind not in self.CLAIMS:
            raise ValueError(f"unknown transpose identity {kind!r}")
        self.kind = kind
        if kind == "symmetric":  # A + A.T of a non-square A: the shapes do not broadcast
            self.expected_errors = (("RuntimeError", SHAPE_ERROR),)

    def _matches(self, left: ast.AST, right: ast.AST, sums: set[str]) -> bool:
        for a, b in ((left, right), (right, left)):
            if self.kind == "twice" and _same(_transposed(_transposed(a) or ast.Pass()), b):
                return True
            if self.kind == "sum":
                parts = _sum_of_transposes(a)
                inner = _transposed(b)
                if parts and isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Add) \
                        and _same(inner.left, parts[0]) and _same(inner.right, parts[1]):
                    return True
            if self.kind == "symmetric":
                inner = _transposed(b)
                if _same(inner, a) and (_plus_own_transpose(a) or (isinstance(a, ast.Name) and a.id in sums)):
                    return True
        return False

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts, sums = [], set()  # sums: names bound to X + X.T (earlier cells of the scope too)
        env: dict[str, ast.AST] = {}  # names bound to expressions (lhs = A.T + B.T), in statement order
        for code in codes:
            if code.tree is None:
                continue
            count, in_helper = 0, False
            for stmt in code.tree.body:  # statement order: a name rebound to something else is no sum any more
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):  # parameters are no globals
                    found = sum(self._matches(a, b, sums) for a, b in _pairs(stmt))
                    count, in_helper = count + found, in_helper or bool(found)
                    continue
                count += sum(self._matches(a, b, sums) or self._matches(expand_names(a, env), expand_names(b, env), set())
                             for a, b in _pairs(stmt))
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    (sums.add if _plus_own_transpose(stmt.value) else sums.discard)(stmt.targets[0].id)
                    env[stmt.targets[0].id] = expand_names(stmt.value, env)
                else:
                    for name in (n for t in getattr(stmt, "targets", []) for n in target_names(t)):
                        env.pop(name, None)
            if count or (self.kind == "symmetric" and any(_plus_own_transpose(n) for n in ast.walk(code.tree))):
                # a helper defined here checks the identity when a later cell calls it
                cells = [code.cell.index] + (callers(code, codes) if in_helper else [])
                attempts.append(Attempt(self.id, part, cells, (), {"comparisons": count}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        claim = self.CLAIMS[self.kind]
        record = record_error(ev, attempt.cells)
        traces = [t for c in attempt.cells if (t := ev.trace(c)) is not None]
        for trace in traces:
            for error in trace.errors:
                if error.op == "add" and re.search(SHAPE_ERROR, error.message) and len(error.shapes) == 2:
                    a, b = error.shapes
                    return Measured("attempted", f"adding shapes {fmt(a or ())} and {fmt(b or ())} raised: a matrix and "
                                    f"its transpose only add when the matrix is square, and the exercise is about "
                                    f"square matrices; try it on one")
        if record is not None and record.status == "error":
            return Measured("attempted", f"the cell failed before the comparison could be seen: {record.ename}: "
                            f"{record.evalue[:80]}")
        checked = [c for trace in traces for c in self._comparisons(trace)]
        if not checked:
            if not attempt.facts.get("comparisons"):
                return Measured("attempted", f"A + A^T was computed but never compared with its own transpose; "
                                f"compare them (==) to show that {claim}")
            return Measured("attempted", f"the comparison for {claim} ran, but its result was not recorded")
        false = [(shape, trues, total) for shape, trues, total in checked if trues < total]
        if false:
            shape, trues, total = false[0]
            return Measured("wrong", f"the comparison for {claim} gave {total - trues} of {total} entries False "
                            f"(shape {fmt(shape)}): the two sides must agree entry by entry; check the expression")
        shapes = ", ".join(fmt(s) for s, _, _ in checked[:4])
        return Measured("correct", f"{claim}: every comparison the cell ran is all True (shapes {shapes})")

    @staticmethod
    def _comparisons(trace: CellTrace) -> list[tuple[tuple[int, ...], int, int]]:
        """(shape, True count, entries) of each element-wise ``==`` and whole-tensor equality the cell ran."""
        out = []
        for op in trace.ops:
            if op.name == "eq" and op.result is not None and isinstance(op.extra, int) and len(op.shapes) == 2 \
                    and op.shapes[0] == op.shapes[1]:
                out.append((op.result, op.extra, math.prod(op.result)))
            elif op.name == "equal" and isinstance(op.extra, int) and op.shapes and op.shapes[0] is not None:
                out.append((op.shapes[0], op.extra, 1))
        return out


def _valued(trace: CellTrace | None, name: str) -> list[Op]:
    return [o for o in (trace.ops if trace else []) if o.name == name and o.shapes and o.shapes[0] is not None]


class LenFirstAxis(Recogniser):
    """``len(X)`` of a tensor with ``min_axes`` axes or more, as the cells ran it;
    ``shapes`` is how many different shapes the exercise wants (exercise 5: any shape)."""

    def __init__(self, id: str, *, section: str, title: str, min_axes: int = 3, shapes: int = 1) -> None:
        super().__init__(id, section=section, title=title)
        self.min_axes, self.shapes = min_axes, shapes

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        return []  # what len() was given is only known from the run

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        cells = [c.cell.index for c in codes if any(len(o.shapes[0]) >= self.min_axes  # type: ignore[arg-type]
                                                    for o in _valued(traces.get(c.cell.index), "len"))]
        return [Attempt(self.id, part, cells, (), {})] if cells else []

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        seen: dict[tuple[int, ...], object] = {}
        for cell in attempt.cells:
            for op in _valued(ev.trace(cell), "len"):
                if len(op.shapes[0]) >= self.min_axes:  # type: ignore[arg-type]
                    seen.setdefault(op.shapes[0], op.extra)  # type: ignore[index]
        lines = []
        for shape, got in seen.items():
            if got != shape[0]:
                return Measured("wrong", f"len of a tensor of shape {fmt(shape)} reported {got}, not {shape[0]}")
            lines.append(f"len of {fmt(shape)} is {shape[0]}")
        text = "; ".join(lines) + ": the length of the first axis (axis 0), seen in what the cells ran"
        if len(seen) < self.shapes:
            return Measured("attempted", text + f"; try len on {self.shapes} or more tensors of different shapes "
                            "to see which axis it always gives")
        return Measured("correct", text)


class AxisSums(Recogniser):
    """``X.sum(axis=k)`` of a tensor with three or more axes, for each of its first three axes."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        return []

    @staticmethod
    def _sums(trace: CellTrace | None) -> list[Op]:
        return [o for o in (trace.ops if trace else []) if o.name == "sum" and o.shapes and o.shapes[0] is not None
                and len(o.shapes[0]) >= 3 and isinstance(o.extra, list) and len(o.extra) == 2
                and isinstance(o.extra[0], int) and o.result is not None]

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        cells = [c.cell.index for c in codes if self._sums(traces.get(c.cell.index))]
        return [Attempt(self.id, part, cells, (), {})] if cells else []

    @staticmethod
    def expected(shape: Sequence[int], axis: int, keep: bool) -> tuple[int, ...]:
        """The shape of a sum along ``axis``: that axis removed (kept as 1 with keepdim)."""
        axis %= len(shape)
        return tuple(1 if i == axis else n for i, n in enumerate(shape) if keep or i != axis)

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        axes: dict[int, str] = {}
        for cell in attempt.cells:
            for op in self._sums(ev.trace(cell)):
                shape, (axis, keep) = op.shapes[0], op.extra  # type: ignore[misc]
                if not -len(shape) <= axis < len(shape):  # type: ignore[arg-type]
                    continue
                want = self.expected(shape, axis, bool(keep))  # type: ignore[arg-type]
                if tuple(op.result) != want:  # type: ignore[arg-type]
                    return Measured("wrong", f"the sum of {fmt(shape)} along axis {axis} reported shape "  # type: ignore[arg-type]
                                    f"{fmt(op.result)}, but summing removes that axis: {fmt(want)}")  # type: ignore[arg-type]
                axes.setdefault(axis % len(shape), f"axis {axis % len(shape)}: {fmt(shape)} -> {fmt(want)}")  # type: ignore[arg-type]
        lines = "; ".join(axes[k] for k in sorted(axes))
        missing = [k for k in (0, 1, 2) if k not in axes]
        if missing:
            return Measured("attempted", f"{lines}; the exercise asks for axes 0, 1 and 2 (missing: "
                            f"{', '.join(map(str, missing))})")
        return Measured("correct", lines + ": each sum removes its axis, seen in what the cells ran")


class NormManyAxes(Recogniser):
    """``torch.linalg.norm`` (or ``torch.norm``) of a tensor with three or more axes."""

    FLOAT_ONLY = r"floating point"
    expected_errors = (("RuntimeError", r"Expected a floating point"),)  # the integer tensor: what 002 ran into

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        return []

    @staticmethod
    def _norms(trace: CellTrace | None) -> list[Op]:
        return [o for o in _valued(trace, "norm") if len(o.shapes[0]) >= 3]  # type: ignore[arg-type]

    @staticmethod
    def _raised(trace: CellTrace | None) -> list[str]:
        return [e.message for e in (trace.errors if trace else []) if "norm" in e.op and e.shapes
                and e.shapes[0] is not None and len(e.shapes[0]) >= 3]

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        cells = [c.cell.index for c in codes if self._norms(traces.get(c.cell.index))
                 or self._raised(traces.get(c.cell.index))]
        return [Attempt(self.id, part, cells, (), {})] if cells else []

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        norms = [o for c in attempt.cells for o in self._norms(ev.trace(c))]
        raised = [m for c in attempt.cells for m in self._raised(ev.trace(c))]
        lines = []
        for op in norms[:3]:
            shape = op.shapes[0]
            value = f" = {op.extra[0]:.6g}" if isinstance(op.extra, list) and op.extra else ""
            lines.append(f"norm of a {fmt(shape)} tensor{value}")  # type: ignore[arg-type]
        meaning = ("the 2-norm of all its entries taken as one long vector (the Frobenius norm, for any number "
                   "of axes)")
        if norms:
            return Measured("correct", "; ".join(lines) + f": {meaning}, seen in what the cells ran")
        if any(re.search(self.FLOAT_ONLY, m) for m in raised):
            return Measured("attempted", "the norm of an integer tensor raised: torch's norms need a floating-point "
                            "tensor (torch.arange(24.) or .float()); run it again to see that it computes " + meaning)
        return Measured("attempted", f"the norm raised: {raised[0][:80] if raised else 'no result recorded'}")
