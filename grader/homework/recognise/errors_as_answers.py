"""Recognisers of chapter 2 exercises whose answer is (or may be) an error: dividing a
matrix by its row sums (2.3, exercise 6), a random vector or matrix through 2.5's
control-flow function (exercise 3), and running backward twice (exercise 2).

Each is recognised from the code (static) and, when the grader's trace ran, from what
the cells did; the answer is judged from the trace (the operation and the shapes that
raised), the cell's error and the values read after it.
"""

from __future__ import annotations

import ast
import re
from typing import Sequence

import numpy as np

from grader.homework.recognise.base import Attempt, Evidence, Measured, Recogniser, fmt
from grader.homework.trace import CellTrace
from grader.notebook.static import CellCode
from grader.values import ArrayValue

SHAPE_ERROR = r"must match the size of tensor"
NOT_SCALAR = r"grad can be implicitly created only for scalar outputs"
TWICE = r"backward through the graph a second time"
NUMPY_SHAPES = r"could not be broadcast together"  # numpy's error for the same division
CHAINED = ("requires_grad_", "float", "double", "to", "clone", "detach")

__all__ = ["RowNormalise", "ControlFlowGrad", "BackwardTwice"]


def _sum_over_rows(node: ast.AST) -> str | None:
    """``A.sum(axis=1)`` / ``A.sum(1)`` / ``torch.sum(A, dim=1)`` without keepdims: the name A."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr != "sum":
        return None
    keep = any(k.arg in ("keepdim", "keepdims") and not (isinstance(k.value, ast.Constant) and not k.value.value)
               for k in node.keywords)
    dims = [k.value for k in node.keywords if k.arg in ("axis", "dim")]
    receiver = node.func.value
    args = list(node.args)
    if isinstance(receiver, ast.Name) and receiver.id == "torch" and args:
        receiver, args = args[0], args[1:]
    dims += args[:1]
    one = any(isinstance(d, ast.Constant) and d.value in (1, -1) for d in dims)
    return receiver.id if one and not keep and isinstance(receiver, ast.Name) else None


def _scalar_size(call: ast.Call) -> bool:
    """A random draw of a scalar (``torch.randn(size=())``, the book's own code) or of no stated size."""
    sizes = [k.value for k in call.keywords if k.arg == "size"] or list(call.args[:1])
    if not sizes:
        return True
    size = sizes[0]
    return isinstance(size, (ast.Tuple, ast.List)) and not size.elts


class RowNormalise(Recogniser):
    """``A / A.sum(axis=1)``: for a non-square A the shapes do not broadcast (the
    RuntimeError is the answer); for a square A each column j is divided by row sum j."""

    expected_errors = (("RuntimeError", SHAPE_ERROR), ("ValueError", NUMPY_SHAPES))

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        sums: dict[str, str] = {}  # names bound to row sums (row_sums = A.sum(axis=1)) -> the matrix
        for code in codes:
            if code.tree is None:
                continue
            for stmt in code.tree.body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    summed = _sum_over_rows(stmt.value)
                    (sums.__setitem__(stmt.targets[0].id, summed) if summed else sums.pop(stmt.targets[0].id, None))
            names = [node.left.id for node in ast.walk(code.tree)
                     if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.left, ast.Name)
                     and node.left.id in (_sum_over_rows(node.right),
                                          sums.get(node.right.id) if isinstance(node.right, ast.Name) else None)]
            if names:
                attempts.append(Attempt(self.id, part, [code.cell.index], (), {"names": sorted(set(names))}))
        return attempts

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        return [Attempt(self.id, part, [c.cell.index], (), {"names": []}) for c in codes
                if traces.get(c.cell.index) is not None and self._divisions(traces[c.cell.index])]

    @staticmethod
    def _divisions(trace: CellTrace) -> list[tuple[tuple[int, ...], str]]:
        """(A's shape, '' or the error) of each division of a matrix by its row sums the cell ran."""
        sums = {o.shapes[0] for o in trace.ops if o.name == "sum" and o.shapes and o.shapes[0] is not None
                and len(o.shapes[0]) == 2 and isinstance(o.extra, list) and o.extra[:1] in ([1], [-1])
                and o.extra[1:] == [False]}
        out = [(o.shapes[0], "") for o in trace.ops if o.name == "div" and len(o.shapes) == 2
               and o.shapes[0] in sums and o.shapes[1] == o.shapes[0][:1]]  # type: ignore[index]
        out += [(e.shapes[0], e.message) for e in trace.errors if e.op == "div" and len(e.shapes) == 2
                and e.shapes[0] in sums and e.shapes[1] == e.shapes[0][:1]]  # type: ignore[index]
        return out  # type: ignore[return-value]

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trace = ev.trace(attempt.cells[0])
        record = ev.records.get(attempt.cells[0])
        divisions = self._divisions(trace) if trace is not None else []
        if not divisions:
            if record is not None and record.status == "error" and self.expects(record.ename, record.evalue):
                return Measured("correct", f"the division raised, as it must for a non-square matrix: "
                                f"{record.ename}: {record.evalue[:100]}")
            if record is not None and record.status == "ok":
                return Measured("attempted", "the division ran; the shapes it divided were not recorded")
            return Measured("attempted", "the division did not run")
        lines = []
        for shape, error in divisions:
            rows, cols = shape
            if rows != cols and not error:
                return Measured("wrong", f"a {rows}x{cols} matrix divided by its {rows} row sums ran without error")
            if rows == cols and error:
                return Measured("wrong", f"a square {rows}x{cols} matrix divided by its row sums raised: {error[:80]}")
            lines.append(f"{fmt(shape)} / {fmt(shape[:1])}: " + (
                "RuntimeError, as the shapes do not broadcast" if error else
                "runs, dividing column j by the sum of row j (broadcasting), not each row by its own sum"))
        return Measured("correct", "; ".join(lines))


class ControlFlowGrad(Recogniser):
    """2.5's control-flow function ``f`` on a random vector or matrix ``a``: ``d.backward()``
    raises (d is no longer a scalar), and ``d.sum().backward()`` gives ``a.grad == d / a``."""

    expected_errors = (("RuntimeError", NOT_SCALAR),)
    RANDOM = ("randn", "rand", "normal", "randint")

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts, randoms = [], {}
        for code in codes:
            if code.tree is None:
                continue
            pairs = []
            for node in ast.walk(code.tree):
                if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                    continue
                name, value = node.targets[0].id, node.value
                while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                        and value.func.attr in CHAINED:  # torch.randn(5).requires_grad_()
                    value = value.func.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in self.RANDOM \
                        and not _scalar_size(value):
                    randoms[name] = True
                elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "f" \
                        and len(value.args) == 1 and isinstance(value.args[0], ast.Name) and value.args[0].id in randoms:
                    pairs.append((value.args[0].id, name))
            if pairs:
                a, d = pairs[-1]
                attempts.append(Attempt(self.id, part, [code.cell.index], (a, d), {"a": a, "d": d}))
            elif attempts and re.search(r"\.backward\(", code.cell.source) and len(attempts[-1].cells) < 3:
                attempts[-1].cells.append(code.cell.index)  # the backward in the next cell
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        raised = [r for c in attempt.cells if (r := ev.records.get(c)) is not None and r.status == "error"
                  and self.expects(r.ename, r.evalue)]
        for cell in attempt.cells:
            trace = ev.trace(cell)
            raised += [c for c in (trace.autograd if trace else []) if re.search(NOT_SCALAR, c.error)]
        a, d = ev.values.get(attempt.facts["a"]), ev.values.get(attempt.facts["d"])
        if isinstance(a, ArrayValue) and isinstance(d, ArrayValue) and a.grad is not None and a.array.size > 1:
            expected = d.array.astype(float) / a.array.astype(float)
            if a.grad.array.shape == expected.shape and np.allclose(a.grad.array, expected, rtol=1e-4, atol=1e-6):
                return Measured("correct", f"with a random `{attempt.facts['a']}` of shape {fmt(a.array.shape)}, its "
                                f"gradient equals d / a (computed here)" + ("; the plain backward raised, since d is "
                                                                            "no longer a scalar" if raised else ""))
            return Measured("wrong", f"`{attempt.facts['a']}.grad` is not d / a")
        if raised:
            return Measured("correct", "d.backward() raised RuntimeError: d is a vector now, so backward needs a "
                            "gradient argument (or d.sum())")
        return Measured("attempted", f"`{attempt.facts['a']}` went through f, but no gradient was read after the cells")


class BackwardTwice(Recogniser):
    """``backward`` run twice on one graph: the second raises unless ``retain_graph=True``."""

    expected_errors = (("RuntimeError", TWICE),)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        return []  # only what the cells did can tell a second backward through the same graph

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        return [Attempt(self.id, part, [c.cell.index], (), {}) for c in codes
                if (t := traces.get(c.cell.index)) is not None and any(re.search(TWICE, a.error) for a in t.autograd)]

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trace = ev.trace(attempt.cells[0])
        calls = trace.autograd if trace else []
        return Measured("correct", f"{len(calls)} backward calls; the second through the same graph raised "
                        "RuntimeError (the graph is freed unless retain_graph=True)")

