"""Recognise the book exercises a free-form homework answers, from what its code does,
and measure each answer.

Words in markdown are never evidence (a notebook may paste every prompt and answer two);
each recogniser looks at the code: its syntax tree, the literals it uses, what it
trains. An :class:`Attempt` is the cells that answer an exercise and the names to read
right after the last of them; :meth:`Recogniser.measure` turns what was read (and the
cells' outcomes, figures and trained models) into a :class:`Measured`: correct, wrong
or attempted (recognised, but nothing measurable was right or wrong), with a message
that says what was measured. Expected values are computed here, never in the kernel.

A recogniser may also name the errors its exercise is *about* (the broadcasting
``RuntimeError``, the ``AttributeError`` after removing ``save_hyperparameters``): a cell
of an attempt raising one of them is not a failure of the book code.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .checks import as_array
from .results import CellRecord
from .static import CellCode, rule_matches, uses_in
from .trained import MeasuredModel
from .values import ArrayValue, FigureValue, FrameValue

__all__ = ["Attempt", "Measured", "Evidence", "Recogniser", "CompareOperators", "Broadcast3D", "AbaloneFractions",
           "SinDerivative", "RemoveSaveHyperparameters", "InitRuns", "OhmFit", "PlanckFit",
           "ActivationComparison", "Sweep", "static_shape", "constant_value"]

MAX_READS = 24
COS_RULES = ("torch.cos", "numpy.cos", "math.cos", "cmath.cos", ".cos", "torch.special", "sympy")
CLOSED_FORMS = ("numpy.polyfit", "numpy.linalg.lstsq", "torch.linalg.lstsq", "numpy.linalg.pinv", "torch.linalg.pinv",
                "scipy.optimize.curve_fit", "scipy.stats.linregress", "numpy.linalg.inv", "torch.linalg.inv")


@dataclass
class Attempt:
    """Cells of one notebook that answer an exercise, and what to read after the last one."""

    exercise: str
    part: int
    cells: list[int]
    reads: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measured:
    """What the grader measured of an attempt."""

    status: str  # correct | wrong | attempted
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evidence:
    """Everything measured about an attempt: values read, cell outcomes, figures, models."""

    values: dict[str, Any]
    records: dict[int, CellRecord]
    figures: list[FigureValue]
    models: list[MeasuredModel]
    codes: list[CellCode]


class Recogniser:
    """Base class: an exercise id, the section it belongs to, and a title in our words."""

    expected_errors: tuple[tuple[str, str], ...] = ()
    combine = "best"  # several attempts: the best counts ("all": each is a part of one answer, the worst counts)

    def __init__(self, id: str, *, section: str, title: str) -> None:
        self.id, self.section, self.title = id, section, title

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        """Attempts at this exercise in one notebook (static: no kernel)."""
        raise NotImplementedError

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        """Judge one attempt from what the grader's run produced."""
        raise NotImplementedError

    def expects(self, ename: str, evalue: str) -> bool:
        """Whether an error raised in an attempt's cell is the one this exercise is about."""
        return any(ename == kind and re.search(pattern, evalue) for kind, pattern in self.expected_errors)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "section": self.section, "title": self.title}


# -- static helpers -----------------------------------------------------------------

def constant_value(node: ast.AST | None) -> float | None:
    """A number written as a constant expression (``1000``, ``1000 ** 0.5``, ``math.sqrt(1000)``,
    ``np.sqrt(1000)``, ``torch.sqrt(torch.tensor(1000.))``), else None."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = constant_value(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        a, b = constant_value(node.left), constant_value(node.right)
        if a is None or b is None:
            return None
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.Div: lambda: a / b if b else None, ast.Pow: lambda: a ** b if abs(b) < 64 else None}
        fn = ops.get(type(node.op))
        try:
            return fn() if fn else None
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 1:
        if node.func.attr == "sqrt":
            inner = constant_value(node.args[0])
            return math.sqrt(inner) if inner is not None and inner >= 0 else None
        if node.func.attr == "tensor":
            return constant_value(node.args[0])
    return None


def _ints(nodes: Sequence[ast.AST]) -> tuple[int, ...] | None:
    values = [constant_value(n) for n in nodes]
    if not values or any(v is None or v != int(v) or v < 0 for v in values):
        return None
    return tuple(int(v) for v in values)  # type: ignore[arg-type]


def _literal_shape(node: ast.AST) -> tuple[int, ...] | None:
    if isinstance(node, (ast.List, ast.Tuple)):
        inner = [_literal_shape(e) for e in node.elts]
        if not inner:
            return (0,)
        if all(i == () for i in inner):
            return (len(inner),)
        if all(i is not None and i == inner[0] for i in inner):
            return (len(inner), *inner[0])  # type: ignore[misc]
        return None
    return () if constant_value(node) is not None else None


def static_shape(node: ast.AST, env: dict[str, tuple[int, ...]]) -> tuple[int, ...] | None:
    """The shape of a tensor written with constants (``torch.arange(6).reshape((2, 3, 1))``,
    ``torch.ones(2, 3, 4)``, a nested list), or of a name bound to one; else None."""
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    attr, args = node.func.attr, node.args
    if attr in ("reshape", "view"):
        if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            return _ints(args[0].elts)
        return _ints(args)
    if attr in ("zeros", "ones", "rand", "randn", "empty", "full"):
        size = args[:1] if attr == "full" else args
        size = size or [k.value for k in node.keywords if k.arg == "size"]
        if len(size) == 1 and isinstance(size[0], (ast.Tuple, ast.List)):
            return _ints(size[0].elts)
        return _ints(size)
    if attr == "arange" and len(args) == 1:
        return _ints(args)
    if attr in ("tensor", "array") and args:
        return _literal_shape(args[0])
    return None


def _assigned_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def _value_names(codes: Sequence[CellCode], cells: Sequence[int]) -> tuple[str, ...]:
    """Top-level names bound by assignment in ``cells`` (not imports, functions, classes)."""
    names: list[str] = []
    for code in codes:
        if code.cell.index in cells and code.tree is not None:
            for stmt in code.tree.body:
                for node in ast.walk(stmt) if isinstance(stmt, (ast.For, ast.With, ast.If)) else [stmt]:
                    if isinstance(node, ast.stmt):
                        for name in _assigned_names(node):
                            if name not in names:
                                names.append(name)
                        if isinstance(node, ast.Assign):
                            for t in node.targets:
                                if isinstance(t, ast.Tuple):
                                    names += [e.id for e in t.elts if isinstance(e, ast.Name) and e.id not in names]
    return tuple(names[:MAX_READS])


def _trains(source: str) -> bool:
    return bool(re.search(r"\.(backward|fit|step)\s*\(", source))


def _uses(codes: Sequence[CellCode], cells: Sequence[int], rules: Sequence[str]) -> list[str]:
    found = []
    for use in uses_in(list(codes), cells=cells):
        if any(rule_matches(r, use.name) for r in rules):
            found.append(use.name.lstrip("."))
    return sorted(set(found))


def _number(value: Any) -> float | None:
    arr = as_array(value)
    if arr is None or arr.size != 1 or arr.dtype.kind not in "iuf":
        return None
    return float(arr.reshape(-1)[0])


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _record_error(ev: Evidence, cells: Sequence[int]) -> CellRecord | None:
    for cell in cells:
        record = ev.records.get(cell)
        if record is not None and record.status != "ok":
            return record
    return None


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

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        results = []
        for left, op, right in attempt.facts["pairs"]:
            a, b = as_array(ev.values.get(left)), as_array(ev.values.get(right))
            if a is None or b is None:
                return Measured("attempted", f"could not read `{left}` and `{right}`")
            if a.shape != (3, 4) or b.shape != (3, 4):
                return Measured("wrong", f"`{left} {op} {right}` compares tensors of shapes {_fmt(a.shape)} and "
                                f"{_fmt(b.shape)}, not the section's 3x4 X and Y")
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
                for name in _assigned_names(stmt):
                    shape = static_shape(stmt.value, env)  # type: ignore[attr-defined]
                    if shape is None:
                        env.pop(name, None)
                    else:
                        env[name] = shape
            if pairs:
                reads = tuple(dict.fromkeys(n for p in pairs for n in p["names"] if n))
                attempts.append(Attempt(self.id, part, [code.cell.index], reads, {"pairs": pairs}))
        return attempts

    @staticmethod
    def predict(a: Sequence[int], b: Sequence[int]) -> tuple[tuple[int, ...] | None, str]:
        """What broadcasting gives for these shapes here: the result shape, or torch's error."""
        import torch

        try:
            return tuple((torch.empty(tuple(a)) + torch.empty(tuple(b))).shape), ""
        except RuntimeError as exc:
            return None, str(exc)

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
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
                    return Measured("wrong", f"{_fmt(shapes[0])} and {_fmt(shapes[1])} cannot broadcast ({error}), "
                                    f"but the cell raised {what}", {"pairs": details})
                lines.append(f"{_fmt(shapes[0])} with {_fmt(shapes[1])}: RuntimeError, as broadcasting predicts")
                break
            lines.append(f"{_fmt(shapes[0])} with {_fmt(shapes[1])} gives {_fmt(shape)}")
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
                for later in codes[i + 1:i + 6]:
                    if later.tree is None:
                        continue
                    loads = {n.id for n in ast.walk(later.tree) if isinstance(n, ast.Name)}
                    if loads & names:
                        cells.append(later.cell.index)
                        names |= later.defines
                missing = bool(re.search(r"isnull|isna|missing", " ".join(c.cell.source for c in codes
                                                                           if c.cell.index in cells)))
                return [Attempt(self.id, part, cells, _value_names(codes, cells), {"missing_code": missing})]
        return []

    def _fractions(self, values: dict[str, Any]) -> tuple[list[str], list[str]]:
        good, bad = [], []
        for name, value in values.items():
            items = value.items() if isinstance(value, dict) else [(name, value)]
            for key, item in items:
                number = _number(item)
                if number is None or isinstance(item, bool):
                    continue
                match = [label for label, share in self.SHARES.items() if abs(number - share) < 1e-3 and share > 0]
                if match:
                    good.append(f"{key} = {number:.4g} ({match[0]})")
                elif self.FRACTION_NAME.search(str(key)) and not (number == 0.0):
                    bad.append(f"{key} = {number:.4g}")
        return good, bad

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        frames = {n: v for n, v in ev.values.items() if isinstance(v, FrameValue) and v.nrows >= 0}
        loaded = [f"`{n}` ({v.nrows} x {len(v.columns)})" for n, v in frames.items() if v.nrows == self.ROWS]
        if not frames:
            error = _record_error(ev, attempt.cells)
            why = f" ({error.ename}: {error.evalue[:80]})" if error else ""
            return Measured("attempted", "no data frame could be read after the cells" + why)
        if not loaded:
            sizes = ", ".join(f"`{n}` has {v.nrows} rows" for n, v in frames.items())
            return Measured("wrong", f"Abalone has {self.ROWS} rows, but {sizes}")
        good, bad = self._fractions(ev.values)
        if attempt.facts.get("missing_code"):
            for name, value in ev.values.items():
                number = _number(value)
                if number == 0.0 and self.FRACTION_NAME.search(name):
                    good.append(f"{name} = 0 (missing values)")
        text = "frame loaded: " + ", ".join(loaded)
        if bad:
            return Measured("wrong", f"{text}; these fractions match no share of Abalone's variables: {', '.join(bad)}")
        if good:
            return Measured("correct", f"{text}; fractions computed: {', '.join(good)}")
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
            reads: list[str] = []
            for node in ast.walk(code.tree):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and any(
                        k.arg == "requires_grad" for k in node.value.keywords):
                    reads += [t.id for t in node.targets if isinstance(t, ast.Name)]
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr == "requires_grad_" and isinstance(node.func.value, ast.Name):
                    reads.append(node.func.value.id)
                if isinstance(node, ast.Assign) and "autograd.grad" in ast.unparse(node.value):
                    reads += [f"grad:{t.id}" for t in node.targets if isinstance(t, ast.Name)]
            if reads:
                attempts.append(Attempt(self.id, part, [code.cell.index],
                                        tuple(dict.fromkeys(r.replace("grad:", "") for r in reads)),
                                        {"grads": [r[5:] for r in reads if r.startswith("grad:")]}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        from .checkpoints import line_like

        cos = _uses(ev.codes, attempt.cells, COS_RULES)
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


# -- 3.2: removing save_hyperparameters ------------------------------------------------

class RemoveSaveHyperparameters(Recogniser):
    """A HyperParameters subclass without save_hyperparameters reading its arguments."""

    expected_errors = (("AttributeError", r"has no attribute"),)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            for node in code.tree.body if code.tree is not None else []:
                if not isinstance(node, ast.ClassDef) or not any(
                        ast.unparse(b).endswith("HyperParameters") for b in node.bases):
                    continue
                init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                if init is None or "save_hyperparameters" in ast.unparse(init):
                    continue
                args = {a.arg for a in init.args.args[1:]}
                reads = {n.attr for n in ast.walk(init) if isinstance(n, ast.Attribute)
                         and isinstance(n.value, ast.Name) and n.value.id == "self"}
                if args & reads and re.search(rf"\b{node.name}\s*\(", code.cell.source.split(f"class {node.name}", 1)[-1]):
                    attempts.append(Attempt(self.id, part, [code.cell.index], (), {"class": node.name}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        record = ev.records.get(attempt.cells[0])
        if record is not None and record.status == "error" and self.expects(record.ename, record.evalue):
            return Measured("correct", f"without save_hyperparameters `{attempt.facts['class']}` has no such "
                            f"attributes: {record.ename}: {record.evalue[:80]}")
        if record is not None and record.status == "ok":
            return Measured("attempted", f"`{attempt.facts['class']}` ran without error: its arguments became "
                            "attributes some other way")
        what = f"{record.ename}: {record.evalue[:80]}" if record else "it did not run"
        return Measured("wrong", f"the cell failed otherwise: {what}")


# -- 3.4: zero and large initialisation ------------------------------------------------

def _init_kind(node: ast.AST) -> tuple[str, float | None] | None:
    """('zero', 0) for torch.zeros(...), ('normal', std) for torch.normal(0, std, ...) or randn(...) * std."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("zeros", "zeros_like", "zeros_"):
            return "zero", 0.0
        if node.func.attr == "normal" and len(node.args) >= 2:
            return "normal", constant_value(node.args[1])
        if node.func.attr == "normal":
            std = next((k.value for k in node.keywords if k.arg == "std"), None)
            return ("normal", constant_value(std)) if std is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr == "randn":
                return "normal", constant_value(b)
    return None


class InitRuns(Recogniser):
    """Linear regression trained from zero weights, or from weights of variance 1000."""

    VARIANCE = 1000.0
    combine = "all"

    def _variants(self, code: CellCode) -> list[dict[str, Any]]:
        found = []
        for node in ast.walk(code.tree) if code.tree is not None else []:
            if isinstance(node, ast.Assign) and any(ast.unparse(t) == "self.w" for t in node.targets):
                kind = _init_kind(node.value)
                if kind and (kind[0] == "zero" or (kind[1] or 0) >= 1):
                    found.append({"kind": kind[0], "std": kind[1]})
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("LinearRegressionScratch"):
                std = next((constant_value(k.value) for k in node.keywords if k.arg == "sigma"), None)
                if std is None and len(node.args) >= 3:
                    std = constant_value(node.args[2])
                if std is not None and (std == 0 or std >= 1):
                    found.append({"kind": "zero" if std == 0 else "normal", "std": std})
        return found

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for i, code in enumerate(codes):
            variants = self._variants(code)
            if not variants:
                continue
            cells = [code.cell.index]
            classes = [n.name for n in (code.tree.body if code.tree else []) if isinstance(n, ast.ClassDef)]
            if not _trains(code.cell.source):
                for later in codes[i + 1:i + 4]:
                    if any(re.search(rf"\b{c}\s*\(", later.cell.source) for c in classes) and _trains(later.cell.source):
                        cells.append(later.cell.index)
                        break
            attempts.append(Attempt(self.id, part, cells, (), {"variants": variants}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        runs = [m for m in ev.models if m.fits and any("w" in f and "start" in f for f in m.fits)]
        if not runs:
            return Measured("attempted", "no linear-regression training run was seen in these cells")
        lines, status = [], "correct"
        for variant in attempt.facts["variants"]:
            if variant["kind"] == "normal" and variant["std"] is not None:
                std = variant["std"]
                if abs(std * std - self.VARIANCE) > 0.05 * self.VARIANCE:
                    status = "wrong"
                    lines.append(f"the weights are drawn with standard deviation {std:g}, i.e. variance {std * std:g}, "
                                 f"not {self.VARIANCE:g} (standard deviation {math.sqrt(self.VARIANCE):.3g})")
        for model in runs:
            fit = next(f for f in model.fits if "w" in f and "start" in f)
            start = np.asarray(fit["start"].get("w", []), dtype=float).ravel()
            end = np.asarray(fit.get("end", {}).get("w", []), dtype=float).ravel()
            true_w = np.asarray(fit["w"], dtype=float).ravel()
            if end.size != true_w.size:
                continue
            err = np.abs(end - true_w)
            how = "zero weights" if start.size and not start.any() else f"weights with |w| up to {np.abs(start).max():.3g}"
            lines.append(f"{model.cls} from {how}: after {fit.get('epochs')} epochs the error in w is "
                         f"{np.array2string(err, precision=3)}")
        return Measured(status, "; ".join(lines) or "training runs seen, but their weights could not be read")


# -- 3.4: Ohm's law ----------------------------------------------------------------------

class OhmFit(Recogniser):
    """A resistance learnt with autograd from current and voltage data."""

    VOCAB = re.compile(r"resist|ohm|volt|current", re.IGNORECASE)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            src = code.cell.source
            if code.tree is None or "requires_grad" not in src or not _trains(src):
                continue
            names = {n.id for n in ast.walk(code.tree) if isinstance(n, ast.Name)}
            vocab = any(self.VOCAB.search(n) for n in names) or ({"R", "I"} <= names or {"R", "V"} <= names)
            if vocab and not re.search(r"6\.62\d*e-34", src):
                attempts.append(Attempt(self.id, part, [code.cell.index], _value_names(codes, [code.cell.index])))
        return attempts

    @staticmethod
    def _slope(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.dot(x, y) / np.dot(x, x))

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        closed = _uses(ev.codes, attempt.cells, CLOSED_FORMS)
        params = {n: v for n, v in ev.values.items() if isinstance(v, ArrayValue) and v.requires_grad and v.array.size <= 2}
        data = {n: v.array.astype(float).ravel() for n, v in ev.values.items()
                if isinstance(v, ArrayValue) and not v.requires_grad and v.array.ndim == 1 and v.array.size >= 3}
        if not params or len(data) < 2:
            return Measured("attempted", "could not find both the learnt resistance and the current/voltage data")
        name, param = sorted(params.items(), key=lambda kv: not re.search(r"^r|resist", kv[0], re.IGNORECASE))[0]
        estimate = float(param.array.ravel()[0])
        xs = [n for n in data if re.search(r"^i|curr", n, re.IGNORECASE)] or list(data)
        ys = [n for n in data if re.search(r"^v|volt", n, re.IGNORECASE)] or list(data)
        best = None
        for xn in xs:
            for yn in ys:
                if xn != yn and data[xn].size == data[yn].size and np.dot(data[xn], data[xn]) > 0:
                    r = self._slope(data[xn], data[yn])
                    if best is None or abs(estimate - r) < abs(estimate - best[0]):
                        best = (r, xn, yn)
        if best is None:
            return Measured("attempted", "no pair of current and voltage arrays of equal length")
        r, xn, yn = best
        message = f"`{name}` = {estimate:.4g}; least squares on `{xn}` and `{yn}` here gives R = {r:.4g}"
        if closed:
            return Measured("wrong", f"{message}; but it uses {', '.join(closed)}, not autograd")
        if abs(estimate - r) <= 0.01 * abs(r):
            return Measured("correct", message + " (within 1 %)")
        return Measured("wrong", message + f": off by {abs(estimate - r) / abs(r):.1%}")


# -- 3.4: Planck's law ----------------------------------------------------------------------

H, C, K = 6.62607015e-34, 2.99792458e8, 1.380649e-23


def planck(wavelength: np.ndarray, temperature: float) -> np.ndarray:
    """Spectral radiance B(lambda, T) in SI units."""
    with np.errstate(over="ignore"):
        return 2 * H * C ** 2 / wavelength ** 5 / np.expm1(H * C / (wavelength * K * temperature))


class PlanckFit(Recogniser):
    """A temperature fitted to a spectrum with Planck's law."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            if code.tree is None:
                continue
            consts = [n.value for n in ast.walk(code.tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
            has_h = any(abs(v / H - 1) < 0.01 for v in consts if v > 0)
            has_k = any(abs(v / K - 1) < 0.01 for v in consts if v > 0)
            if has_h and has_k:
                attempts.append(Attempt(self.id, part, [code.cell.index], _value_names(codes, [code.cell.index])))
        return attempts

    @staticmethod
    def reference_temperature(wavelength: np.ndarray, radiance: np.ndarray, start: float = 5000.0) -> float | None:
        """The least-squares temperature of the spectrum, fitted here (with a free scale
        when the notebook normalised its radiance)."""
        from scipy.optimize import curve_fit

        best: tuple[float, float] | None = None
        for scaled in (False, True):
            def model(lam: np.ndarray, t: float, a: float = 1.0) -> np.ndarray:
                return a * planck(lam, t) / (1.0 if not scaled else planck(lam, t).max())
            try:
                p0 = [start] + ([float(radiance.max())] if scaled else [])
                popt, _ = curve_fit(model, wavelength, radiance, p0=p0, maxfev=5000)
            except (RuntimeError, ValueError, TypeError):
                continue
            residual = float(np.linalg.norm(model(wavelength, *popt) - radiance) / np.linalg.norm(radiance))
            if np.isfinite(residual) and (best is None or residual < best[1]):
                best = (float(popt[0]), residual)
        return best[0] if best else None

    def _spectrum(self, values: dict[str, Any]) -> tuple[str, np.ndarray, str, np.ndarray] | None:
        arrays = {n: as_array(v) for n, v in values.items()}
        arrays = {n: a.astype(float).ravel() for n, a in arrays.items()
                  if a is not None and a.ndim == 1 and a.size >= 5 and np.all(np.isfinite(a))}
        for ln, lam in arrays.items():
            if lam.min() <= 0:
                continue
            scale = 1.0 if lam.max() < 1e-3 else (1e-9 if 10 <= lam.max() <= 1e5 else 0.0)
            if not scale:
                continue
            for bn, b in arrays.items():
                if bn != ln and b.size == lam.size and b.max() > 0 and not re.search(r"fit|pred|est|hat|true", bn, re.I):
                    return ln, lam * scale, bn, b
        return None

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        method = "scipy.optimize" if _uses(ev.codes, attempt.cells, ("scipy.optimize",)) else (
            "autograd" if any(re.search(r"\.backward\(|requires_grad", c.cell.source)
                              for c in ev.codes if c.cell.index in attempt.cells) else "another method")
        spectrum = self._spectrum(ev.values)
        if spectrum is None:
            return Measured("attempted", f"fit by {method}; no wavelength and radiance arrays could be read",
                            {"method": method})
        ln, lam, bn, radiance = spectrum
        reference = self.reference_temperature(lam, radiance)
        if reference is None:
            return Measured("attempted", f"fit by {method}; the spectrum in `{bn}` could not be fitted here",
                            {"method": method})
        candidates = []
        for name, value in ev.values.items():
            if re.search(r"true|real|actual", name, re.IGNORECASE):
                continue
            arr = as_array(value)
            if arr is not None and 1 <= arr.size <= 3 and arr.dtype.kind in "iuf":
                t = float(arr.ravel()[0])
                if 100 <= t <= 1e5:
                    candidates.append((name, t))
        message = f"least squares on `{ln}` and `{bn}` here gives T = {reference:.1f} K; fit by {method}"
        details = {"method": method, "reference": reference}
        good = [(n, t) for n, t in candidates if abs(t - reference) <= 0.01 * reference]
        if good:
            return Measured("correct", f"`{good[0][0]}` = {good[0][1]:.1f} K; {message}", details)
        if candidates:
            shown = ", ".join(f"`{n}` = {t:.1f}" for n, t in candidates[:3])
            return Measured("wrong", f"{shown}; {message}: more than 1 % off", details)
        return Measured("attempted", f"{message}; no fitted temperature found among the cell's values", details)


# -- 5.1 / 5.2: comparisons of trained models -----------------------------------------

ACTIVATION_WORDS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU", "leaky_relu": "LeakyReLU",
                    "leakyrelu": "LeakyReLU", "elu": "ELU", "silu": "SiLU", "swish": "SiLU", "prelu": "PReLU"}


def _accuracy_text(model: MeasuredModel) -> str:
    if model.accuracy is None:
        return model.reason or "not measured"
    weak = " (kernel predictions)" if model.evidence == "kernel predictions" else ""
    return f"test accuracy {model.accuracy:.3f}{weak}"


class ActivationComparison(Recogniser):
    """Models trained with different activation functions, compared."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            words = {ACTIVATION_WORDS[w.lower()] for w in re.findall(r"\b(relu|sigmoid|tanh|gelu|leaky_?relu|elu|silu|swish|prelu)\b",
                                                                     code.cell.source, re.IGNORECASE)}
            if len(words) >= 2 and _trains(code.cell.source):
                attempts.append(Attempt(self.id, part, [code.cell.index], (), {"activations": sorted(words)}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trained = [m for m in ev.models if m.trained]
        if len(trained) < 2:
            return Measured("wrong" if ev.models else "attempted",
                            f"{len(trained)} trained model(s) seen in these cells; a comparison needs two or more")
        lines = [f"{'/'.join(m.activations) or m.cls}: {_accuracy_text(m)}" for m in trained]
        kinds = {tuple(m.activations) for m in trained}
        if len(kinds) < 2 and all(m.activations for m in trained):
            return Measured("wrong", "the models trained here all use the same activation: " + "; ".join(lines))
        return Measured("correct", f"{len(trained)} models trained: " + "; ".join(lines))


class Sweep(Recogniser):
    """One model trained per value of a hyperparameter (``num_hiddens`` or ``lr``)."""

    def __init__(self, id: str, *, section: str, title: str, parameter: str) -> None:
        super().__init__(id, section=section, title=title)
        self.parameter = parameter

    def _loop_values(self, loop: ast.For, env: dict[str, ast.AST]) -> list[float] | None:
        source = loop.iter if not isinstance(loop.iter, ast.Name) else env.get(loop.iter.id)
        if isinstance(source, (ast.List, ast.Tuple)):
            values = [constant_value(e) for e in source.elts]
            if values and all(v is not None for v in values):
                return values  # type: ignore[return-value]
        return None

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        env: dict[str, ast.AST] = {}
        for code in codes:
            for stmt in code.tree.body if code.tree is not None else []:
                for name in _assigned_names(stmt):
                    env[name] = stmt.value  # type: ignore[attr-defined]
            for loop in (n for n in ast.walk(code.tree) if isinstance(n, ast.For)) if code.tree is not None else []:
                var = loop.target.id if isinstance(loop.target, ast.Name) else None
                uses_var = any(isinstance(n, ast.keyword) and n.arg == self.parameter
                               and any(isinstance(x, ast.Name) and x.id == var for x in ast.walk(n.value))
                               for n in ast.walk(loop))
                if var and uses_var and _trains(ast.unparse(loop)):
                    attempts.append(Attempt(self.id, part, [code.cell.index], (),
                                            {"values": self._loop_values(loop, env)}))
                    break
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trained = [m for m in ev.models if m.trained and m.fmnist]
        values = attempt.facts.get("values")
        if not trained:
            return Measured("attempted", "no model trained on Fashion-MNIST was seen in the sweep's cell")
        rows = [f"{self.parameter}={m.hparams.get(self.parameter, '?')}: {_accuracy_text(m)}" for m in trained]
        measured = [m for m in trained if m.accuracy is not None]
        best = max(measured, key=lambda m: m.accuracy or 0.0) if measured else None
        text = f"{len(trained)} models measured: " + "; ".join(rows)
        if best is not None:
            text += f"; best {self.parameter}={best.hparams.get(self.parameter, '?')}"
        if values and len(trained) < len(values):
            return Measured("wrong", f"{len(values)} values swept but only {len(trained)} models trained: {text}")
        if len(measured) < 2:
            return Measured("attempted", text)
        return Measured("correct", text, {"models": [m.number for m in trained]})
