"""Recognisers of chapter 2: comparison operators and broadcasting (2.1), the Abalone
missing values and column types (2.2), the derivative of sin by autograd (2.5)."""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Sequence

import numpy as np

from grader.homework.checkpoints import line_like
from grader.checking.checks import as_array
from grader.notebook.static import CellCode
from grader.values import ArrayValue, FrameValue
from grader.homework.recognise.base import (Attempt, Evidence, Measured, Recogniser, assigned_names, fmt, record_error,
                                            scalar_of, static_shape, target_names, upstream_source, uses, value_names)
from grader.homework.trace import CellTrace

ELEMENTWISE = ("add", "sub", "mul", "div")
SHAPE_ERROR = r"must match the size of tensor"

COS_RULES = ("torch.cos", "numpy.cos", "math.cos", "cmath.cos", ".cos", "torch.special", "sympy")


# -- 2.1: comparison operators ---------------------------------------------------------

class CompareOperators(Recogniser):
    """``X < Y`` / ``X > Y`` on the section's tensors: a boolean tensor of their shape."""

    BOOK_X = np.arange(12, dtype=float).reshape(3, 4)
    BOOK_Y = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            pairs = []
            for stmt in code.tree.body if code.tree is not None else []:
                if not isinstance(stmt, ast.Expr):
                    continue
                items = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
                for item in items:
                    if isinstance(item, ast.Compare) and len(item.ops) == 1 \
                            and isinstance(item.ops[0], (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) \
                            and isinstance(item.left, ast.Name) and isinstance(item.comparators[0], ast.Name):
                        op = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">="}[type(item.ops[0])]
                        pairs.append([item.left.id, op, item.comparators[0].id])
            if pairs:
                reads = tuple(dict.fromkeys(n for a, _, b in pairs for n in (a, b)))
                attempts.append(Attempt(self.id, part, [code.cell.index], reads, {"pairs": pairs}))
        return attempts

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        """Comparisons the cells ran (inside ``print(...)`` or a helper too)."""
        attempts = []
        for code in codes:
            trace = traces.get(code.cell.index)
            ops = [o for o in trace.ops if o.name in ("lt", "gt", "le", "ge") and all(o.shapes)] if trace else []
            if ops:
                facts = {"ran": [[o.name, [list(s) for s in o.shapes if s is not None], o.extra] for o in ops]}
                attempts.append(Attempt(self.id, part, [code.cell.index], (), facts))
        return attempts

    def _measure_run(self, attempt: Attempt) -> Measured:
        symbols = {"lt": "<", "gt": ">", "le": "<=", "ge": ">="}
        lines = []
        for op, shapes, trues in attempt.facts["ran"]:
            if any(tuple(s) != (3, 4) for s in shapes):
                return Measured("wrong", f"`{symbols[op]}` compared tensors of shapes "
                                f"{' and '.join(fmt(s) for s in shapes)}, not the section's 3x4 X and Y")
            lines.append(f"`{symbols[op]}`: a 3x4 boolean tensor with {trues} True")
        return Measured("correct", "; ".join(lines) + " (seen in what the cell ran)")

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        if "ran" in attempt.facts:
            return self._measure_run(attempt)
        results = []
        for left, op, right in attempt.facts["pairs"]:
            a, b = as_array(ev.values.get(left)), as_array(ev.values.get(right))
            if a is None or b is None:
                return Measured("attempted", f"could not read `{left}` and `{right}`")
            if a.shape != (3, 4) or b.shape != (3, 4):
                return Measured("wrong", f"`{left} {op} {right}` compares tensors of shapes {fmt(a.shape)} and "
                                f"{fmt(b.shape)}, not the section's 3x4 X and Y")
            book = np.array_equal(a, self.BOOK_X) and np.array_equal(b, self.BOOK_Y)
            result = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op](a, b)
            results.append(f"`{left} {op} {right}`: a 3x4 boolean tensor with {int(result.sum())} True"
                           + ("" if book else " (X and Y as later book cells changed them)"))
        return Measured("correct", "; ".join(results))


# -- 2.1: broadcasting with 3-D tensors ------------------------------------------------

class Broadcast3D(Recogniser):
    """Element-wise operations on tensors of different shapes, one of them 3-D or more."""

    expected_errors = (("RuntimeError", r"must match the size of tensor"),)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        env: dict[str, tuple[int, ...]] = {}
        for code in codes:
            pairs: list[dict[str, Any]] = []
            for stmt in code.tree.body if code.tree is not None else []:
                value = getattr(stmt, "value", None)
                items = value.elts if isinstance(value, ast.Tuple) else [value]
                for item in items:
                    if isinstance(item, ast.BinOp) and isinstance(item.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                        sa, sb = static_shape(item.left, env), static_shape(item.right, env)
                        if sa is not None and sb is not None and max(len(sa), len(sb)) >= 3 and sa != sb:
                            pairs.append({"a": list(sa), "b": list(sb), "names": [
                                getattr(item.left, "id", None), getattr(item.right, "id", None)]})
                for name in assigned_names(stmt):
                    shape = static_shape(stmt.value, env)  # type: ignore[attr-defined]
                    if shape is None:
                        env.pop(name, None)
                    else:
                        env[name] = shape
            if pairs:
                reads = tuple(dict.fromkeys(n for p in pairs for n in p["names"] if n))
                attempts.append(Attempt(self.id, part, [code.cell.index], reads, {"pairs": pairs}))
        return attempts

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        """Element-wise operations the cells ran on two tensors of different shapes, one
        of them 3-D or more, and those that raised a shape error."""
        attempts = []
        for code in codes:
            trace = traces.get(code.cell.index)
            if trace is None:
                continue
            ran = [[list(o.shapes[0]), list(o.shapes[1]), list(o.result) if o.result is not None else None]
                   for o in trace.ops if self._broadcast(o.name, o.shapes)]
            raised = [[list(e.shapes[0]), list(e.shapes[1]), e.message] for e in trace.errors
                      if self._broadcast(e.op, e.shapes) and re.search(SHAPE_ERROR, e.message)]
            if ran or raised:
                attempts.append(Attempt(self.id, part, [code.cell.index], (), {"ran": ran, "raised": raised}))
        return attempts

    @staticmethod
    def _broadcast(name: str, shapes: Sequence[Any]) -> bool:
        return name in ELEMENTWISE and len(shapes) == 2 and all(s is not None for s in shapes) \
            and shapes[0] != shapes[1] and max(len(shapes[0]), len(shapes[1])) >= 3

    def _measure_run(self, attempt: Attempt) -> Measured:
        lines, details = [], []
        for a, b, result in attempt.facts["ran"]:
            shape, error = self.predict(a, b)
            details.append({"a": a, "b": b, "result": result, "error": error})
            if shape is None or result is None or list(shape) != result:
                return Measured("wrong", f"{fmt(a)} with {fmt(b)} gave {result}, but broadcasting gives "
                                f"{fmt(shape) if shape else 'an error'}", {"pairs": details})
            lines.append(f"{fmt(a)} with {fmt(b)} gives {fmt(shape)}")
        for a, b, message in attempt.facts["raised"]:
            shape, error = self.predict(a, b)
            details.append({"a": a, "b": b, "result": None, "error": message})
            if shape is not None:
                return Measured("wrong", f"{fmt(a)} with {fmt(b)} broadcasts to {fmt(shape)}, but raised: {message[:80]}",
                                {"pairs": details})
            lines.append(f"{fmt(a)} with {fmt(b)}: RuntimeError, as broadcasting predicts")
        return Measured("correct", "; ".join(lines) + " (seen in what the cell ran)", {"pairs": details})

    @staticmethod
    def predict(a: Sequence[int], b: Sequence[int]) -> tuple[tuple[int, ...] | None, str]:
        """What broadcasting gives for these shapes here: the result shape, or torch's error."""
        import torch

        try:
            return tuple((torch.empty(tuple(a)) + torch.empty(tuple(b))).shape), ""
        except RuntimeError as exc:
            return None, str(exc)

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        if "ran" in attempt.facts:
            return self._measure_run(attempt)
        record = ev.records.get(attempt.cells[0])
        lines, details = [], []
        for pair in attempt.facts["pairs"]:
            shapes = []
            for key, name in zip(("a", "b"), pair["names"]):
                read = ev.values.get(name) if name else None
                shapes.append(list(read.shape) if isinstance(read, ArrayValue) else pair[key])
            shape, error = self.predict(*shapes)
            details.append({"a": shapes[0], "b": shapes[1], "result": list(shape) if shape else None, "error": error})
            if shape is None:
                raised = record is not None and record.status == "error" and record.evalue == error
                if not raised:
                    what = f"{record.ename}: {record.evalue}" if record and record.status != "ok" else "nothing"
                    return Measured("wrong", f"{fmt(shapes[0])} and {fmt(shapes[1])} cannot broadcast ({error}), "
                                    f"but the cell raised {what}", {"pairs": details})
                lines.append(f"{fmt(shapes[0])} with {fmt(shapes[1])}: RuntimeError, as broadcasting predicts")
                break
            lines.append(f"{fmt(shapes[0])} with {fmt(shapes[1])} gives {fmt(shape)}")
        if record is not None and record.status != "ok" and not self.expects(record.ename, record.evalue):
            return Measured("wrong", f"the cell failed: {record.ename}: {record.evalue[:100]}", {"pairs": details})
        return Measured("correct", "; ".join(lines), {"pairs": details})


# -- 2.2: Abalone ------------------------------------------------------------------------

class AbaloneFractions(Recogniser):
    """Load Abalone, then compute the share of missing values and of each variable type."""

    ROWS = 4177
    SHARES = {"missing values": 0.0, "categorical, of 9 columns": 1 / 9, "numerical, of 9 columns": 8 / 9,
              "continuous, of 9 columns": 7 / 9, "categorical, of 8 features": 1 / 8,
              "numerical, of 8 features": 7 / 8}
    FRACTION_NAME = re.compile(r"frac|ratio|percent|pct|share|proportion|비율", re.IGNORECASE)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        for i, code in enumerate(codes):
            if re.search(r"fetch_ucirepo|abalone", code.cell.source, re.IGNORECASE) and code.tree is not None:
                cells, names = [code.cell.index], set(code.defines)
                # the cells that use what it loaded, directly or through each other (one statement per cell
                # spreads the load, the frame, the counts and each share over a dozen cells)
                for later in codes[i + 1:i + 13]:
                    if later.tree is None:
                        continue
                    loads = {n.id for n in ast.walk(later.tree) if isinstance(n, ast.Name)}
                    if loads & names:
                        cells.append(later.cell.index)
                        names |= later.defines
                missing = bool(re.search(r"isnull|isna|missing", " ".join(c.cell.source for c in codes
                                                                           if c.cell.index in cells)))
                return [Attempt(self.id, part, cells, value_names(codes, cells), {"missing_code": missing})]
        return []

    def _fractions(self, values: dict[str, Any]) -> tuple[list[str], list[str]]:
        good, bad = [], []
        for name, value in values.items():
            items = value.items() if isinstance(value, dict) else [(name, value)]
            for key, item in items:
                number = scalar_of(item)
                if number is None or isinstance(item, bool):
                    continue
                match = self.share_of(number)
                if match:
                    good.append(f"{key} = {number:.4g} ({match})")
                elif self.FRACTION_NAME.search(str(key)) and not (number == 0.0):
                    bad.append(f"{key} = {number:.4g}")
        return good, bad

    def share_of(self, number: float, percent: bool | None = None) -> str | None:
        """Which share of Abalone ``number`` is, as a fraction or a percentage (a computed
        share counts whatever its scale); ``percent=True`` for a number written with '%'."""
        scales = [100.0] if percent else ([1.0, 100.0] if percent is None else [1.0])
        for scale in scales:
            for label, share in self.SHARES.items():
                if share > 0 and abs(number / scale - share) < 1e-3:
                    return label + (", as a percentage" if scale == 100.0 else "")
        return None

    NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?|0?\.\d+)\s*(%|퍼센트|percent)?")

    SHARE_WORDS = re.compile(r"%|frac|ratio|percent|share|proportion|categor|numer|continu|missing|nominal|"
                             r"비율|범주|수치|결측", re.IGNORECASE)

    def _printed_lines(self, text: str) -> list[str]:
        """Lines of printed output that may state a share: a line naming one (``numerical share:
        0.889``) or a result alone (``0.1111``); not the rows of a printed frame (``0  M  0.455
        0.365 ...``), whose measurements can be any number."""
        return [line for line in text.splitlines() if self.SHARE_WORDS.search(line)
                or len(self.NUMBER.findall(line)) <= 3]

    def _stated(self, texts: Sequence[str], printed: Sequence[str] = ()) -> list[str]:
        """Shares stated in printed output or prose, matched against the grader's own values."""
        found = []
        for text in [*texts, *(line for out in printed for line in self._printed_lines(out))]:
            for m in self.NUMBER.finditer(text):
                number = float(m.group(1))
                label = self.share_of(number, percent=True if m.group(2) else (None if number > 1 else False))
                if label and f"{m.group(0).strip()} ({label})" not in found:
                    found.append(f"{m.group(0).strip()} ({label})")
        return found[:6]

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        frames = {n: v for n, v in ev.values.items() if isinstance(v, FrameValue) and v.nrows >= 0}
        loaded = [f"`{n}` ({v.nrows} x {len(v.columns)})" for n, v in frames.items() if v.nrows == self.ROWS]
        traced = [f for c in attempt.cells if (t := ev.trace(c)) is not None for f in t.frames]
        if not frames and traced:  # read inside a helper, say: the trace saw the frame even though no name holds it
            frames = {source: FrameValue([], rows) for source, rows, _ in traced}
            loaded = [f"{source} ({rows} x {cols}, seen in what the cell ran)" for source, rows, cols in traced
                      if rows == self.ROWS]
        if not frames:
            error = record_error(ev, attempt.cells)
            why = f" ({error.ename}: {error.evalue[:80]})" if error else ""
            return Measured("attempted", "no data frame could be read after the cells" + why)
        if not loaded:
            sizes = ", ".join(f"`{n}` has {v.nrows} rows" for n, v in frames.items())
            return Measured("wrong", f"Abalone has {self.ROWS} rows, but {sizes}")
        good, bad = self._fractions(ev.values)
        if attempt.facts.get("missing_code"):
            for name, value in ev.values.items():
                number = scalar_of(value)
                if number == 0.0 and self.FRACTION_NAME.search(name):
                    good.append(f"{name} = 0 (missing values)")
        text = "frame loaded: " + ", ".join(loaded)
        stated = self._stated(list(ev.prose), [ev.printed.get(c, "") for c in attempt.cells])
        if bad:
            return Measured("wrong", f"{text}; these fractions match no share of Abalone's variables: {', '.join(bad)}")
        if good:
            return Measured("correct", f"{text}; fractions computed: {', '.join(good)}")
        if stated:
            return Measured("correct", f"{text}; shares stated after computing them, as the grader computes them: "
                            f"{', '.join(stated)}")
        return Measured("attempted", f"{text}; no fraction computed (the exercise asks for the shares)")


# -- 2.5: derivative of sin by autograd -------------------------------------------------

class SinDerivative(Recogniser):
    """The gradient of sin by autograd, plotted with sin, without writing cos."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            src = code.cell.source
            if code.tree is None or not re.search(r"\bsin\b", src) or not re.search(r"\.backward\(|autograd\.grad", src):
                continue
            if re.search(r"\blog\b", src):  # log(x^2) sin(x) + 1/x: the chain-rule exercise (2.5-6), not sin alone
                continue
            reads = self._inputs(code.tree)
            if not reads and code.tree is not None:
                # the input made to require grad in a cell before (one statement per cell): read it after this one
                loads = {n.id for n in ast.walk(code.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                before = upstream_source(code, codes)
                try:
                    reads = [r for r in self._inputs(ast.parse(before)) if r in loads] if before else []
                except SyntaxError:
                    reads = []
            if reads:
                cells = [code.cell.index] + self._plotted_after(code, codes, reads)
                attempts.append(Attempt(self.id, part, cells,
                                        tuple(dict.fromkeys(r.replace("grad:", "") for r in reads)),
                                        {"grads": [r[5:] for r in reads if r.startswith("grad:")]}))
        return attempts

    @staticmethod
    def _inputs(tree: ast.AST) -> list[str]:
        """Names the code makes require grad (``xs = torch.linspace(..., requires_grad=True)``,
        ``x.requires_grad_()``) and ``grad:`` names bound to ``torch.autograd.grad``."""
        reads: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and any(
                    k.arg == "requires_grad" for k in node.value.keywords):
                reads += [t.id for t in node.targets if isinstance(t, ast.Name)]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "requires_grad_" and isinstance(node.func.value, ast.Name):
                reads.append(node.func.value.id)
            if isinstance(node, ast.Assign) and "autograd.grad" in ast.unparse(node.value):
                reads += [f"grad:{n}" for t in node.targets for n in target_names(t)]  # (dx,) = ... too
        return reads

    PLOTS = re.compile(r"\bplot\(|\.plot\(|scatter\(")
    PYPLOT_ONLY = re.compile(r"^(\s*(plt|pyplot|ax|axes|fig)\.\w+\(.*\)\s*|\s*)$")

    @classmethod
    def _plotted_after(cls, code: CellCode, codes: Sequence[CellCode], reads: Sequence[str]) -> list[int]:
        """The cells right after this one that plot what it computed (computed in one cell, drawn in
        the next; or, one statement per cell, each line drawn in a cell and the legend and
        ``plt.show()`` in their own), up to four."""
        if re.search(r"\bplot\(|\.plot\(|imshow|scatter", code.cell.source):
            return []
        names = {r.replace("grad:", "") for r in reads}
        out: list[int] = []
        for nxt in [c for c in codes if c.cell.index > code.cell.index][:4]:
            used = {n.id for n in ast.walk(nxt.tree) if isinstance(n, ast.Name)} if nxt.tree is not None else set()
            if used & names and cls.PLOTS.search(nxt.cell.source):
                out.append(nxt.cell.index)
            elif out and all(cls.PYPLOT_ONLY.match(line) for line in nxt.cell.source.splitlines()):
                out.append(nxt.cell.index)   # plt.legend(), plt.show() after the lines
            else:
                break
        return out

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        cos = uses(ev.codes, attempt.cells, COS_RULES)
        grad, x = None, None
        for name, value in ev.values.items():
            if isinstance(value, ArrayValue) and value.requires_grad:
                x = value
                if value.grad is not None:
                    grad = value.grad.array
        for name in attempt.facts.get("grads", []):
            value = ev.values.get(name)
            first = value[0] if isinstance(value, (tuple, list)) and value else value
            if isinstance(first, ArrayValue):
                grad = first.array
        if x is None or grad is None or grad.shape != x.array.shape:
            return Measured("wrong", "no gradient of sin was found on the input tensor after the cell")
        error = float(np.max(np.abs(grad - np.cos(x.array.astype(float))))) if grad.size else math.inf
        problems = []
        if error > 1e-4:
            problems.append(f"the gradient is not cos(x): off by up to {error:.3g}")
        if cos:
            problems.append(f"the cell uses {', '.join(cos)}, which the exercise rules out")
        sin_line = line_like("sin(x)", np.sin, atol=1e-3)(ev.figures)
        cos_line = line_like("its derivative", np.cos, atol=1e-3)(ev.figures)
        if not (sin_line.passed and cos_line.passed):
            problems.append("the figure does not show both sin and its derivative")
        summary = f"gradient at {x.array.size} points equals cos(x) within {error:.1e}, computed here"
        if problems:
            return Measured("wrong", "; ".join(problems), {"max_error": error})
        return Measured("correct", summary + "; the figure shows both; no cos used", {"max_error": error})
