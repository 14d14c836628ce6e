"""What every recogniser shares: the attempt / measurement / evidence records, the base
class, and small static helpers over cell code (constant numbers, literal tensor shapes,
names a cell binds, calls it makes)."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from grader.checking.checks import as_array
from grader.results import CellRecord
from grader.notebook.static import CellCode, rule_matches, uses_in
from grader.homework.trace import CellTrace
from grader.homework.trained import MeasuredModel
from grader.values import FigureValue

MAX_READS = 24


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

    status: str  # correct | wrong | attempted | none (on measurement, the cells turned out not to answer it)
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
    traces: dict[int, CellTrace] = field(default_factory=dict)
    printed: dict[int, str] = field(default_factory=dict)   # cell -> what it printed in the grader's run
    prose: list[str] = field(default_factory=list)           # the student's markdown after the attempt, in scope

    def trace(self, cell: int) -> CellTrace | None:
        """The kernel's trace of ``cell``, if the trace ran."""
        return self.traces.get(cell)


class Recogniser:
    """Base class: an exercise id, the section it belongs to, and a title in our words."""

    expected_errors: tuple[tuple[str, str], ...] = ()
    combine = "best"  # several attempts: the best counts ("all": each is a part of one answer, the worst counts)

    def __init__(self, id: str, *, section: str, title: str) -> None:
        self.id, self.section, self.title = id, section, title

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        """Attempts at this exercise in one notebook (static: no kernel)."""
        raise NotImplementedError

    def find_run(self, codes: Sequence[CellCode], traces: dict[int, CellTrace], part: int = 0) -> list[Attempt]:
        """Attempts seen only in what the cells did (the kernel's trace): ``print(a + b)``,
        a helper function. ``codes`` are the cells in the exercise's scope. The grader
        adds those whose cells no static attempt covers."""
        return []

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


def assigned_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def target_names(target: ast.AST) -> list[str]:
    """Names an assignment target binds, through nested tuples and lists (``(T,), _ = ...``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in target_names(e)]
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def value_names(codes: Sequence[CellCode], cells: Sequence[int]) -> tuple[str, ...]:
    """Top-level names bound by assignment in ``cells`` (not imports, functions, classes)."""
    names: list[str] = []
    for code in codes:
        if code.cell.index in cells and code.tree is not None:
            for stmt in code.tree.body:
                for node in ast.walk(stmt) if isinstance(stmt, (ast.For, ast.With, ast.If, ast.Try)) else [stmt]:
                    if isinstance(node, ast.stmt):
                        for name in assigned_names(node):
                            if name not in names:
                                names.append(name)
                        if isinstance(node, ast.Assign):
                            for t in node.targets:
                                if isinstance(t, (ast.Tuple, ast.List)):
                                    names += [n for n in target_names(t) if n not in names and n != "_"]
    return tuple(names[:MAX_READS])


# -- helpers a cell calls, cells that call a cell's helpers -------------------------------

def _top_level(codes: Sequence[CellCode], kind: type, upto: int | None) -> dict[str, Any]:
    """The notebook's top-level definitions of ``kind`` by name (the last one up to cell ``upto``)."""
    found: dict[str, Any] = {}
    for code in codes:
        if upto is not None and code.cell.index > upto:
            break
        for node in code.tree.body if code.tree is not None else []:
            if isinstance(node, kind):
                found[node.name] = node
    return found


def function_defs(codes: Sequence[CellCode], upto: int | None = None) -> dict[str, ast.FunctionDef]:
    """The notebook's top-level functions by name (the last definition up to cell ``upto``)."""
    return _top_level(codes, ast.FunctionDef, upto)


def notebook_classes(codes: Sequence[CellCode], upto: int | None = None) -> dict[str, ast.ClassDef]:
    """The notebook's top-level classes by name (the last definition up to cell ``upto``)."""
    return _top_level(codes, ast.ClassDef, upto)


def called_helpers(code: CellCode, codes: Sequence[CellCode]) -> list[ast.FunctionDef]:
    """The notebook functions ``code`` calls, directly or through each other (defined up to it)."""
    defs = function_defs(codes, code.cell.index)
    seen: list[str] = []
    todo: list[ast.AST] = [code.tree] if code.tree is not None else []
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defs \
                    and node.func.id not in seen:
                seen.append(node.func.id)
                todo.append(defs[node.func.id])
    return [defs[n] for n in seen]


def effective_source(code: CellCode, codes: Sequence[CellCode]) -> str:
    """A cell's source followed by the source of the notebook functions it calls: what it runs."""
    helpers = [ast.unparse(f) for f in called_helpers(code, codes)]
    return "\n".join([code.cell.source, *helpers])


def callers(code: CellCode, codes: Sequence[CellCode]) -> list[int]:
    """Later cells of ``codes`` that call a top-level function ``code`` defines (a helper
    defined in one cell and run in the next)."""
    names = {n.name for n in (code.tree.body if code.tree is not None else []) if isinstance(n, ast.FunctionDef)}
    out = []
    for later in codes:
        if names and later.cell.index > code.cell.index and later.tree is not None and any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
                for n in ast.walk(later.tree)):
            out.append(later.cell.index)
    return out[:6]


def bound_names(code: CellCode) -> set[str]:
    """Names the cell's top-level statements bind: assignments (through tuples, ``+=``),
    functions and classes; not imports."""
    names: set[str] = set()
    for stmt in code.tree.body if code.tree is not None else []:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names |= {n for t in stmt.targets for n in target_names(t) if n != "_"}
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            names |= set(target_names(stmt.target))
    return names


def _loads(code: CellCode) -> set[str]:
    return {n.id for n in ast.walk(code.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} \
        if code.tree is not None else set()


def downstream(code: CellCode, codes: Sequence[CellCode], limit: int = 12) -> list[int]:
    """Later cells of ``codes`` that read what ``code`` binds, directly or through each other:
    the rest of a computation split over cells (constants here, the function using them in
    the next cell, the data and the fit in the cells after), at most ``limit`` of them."""
    names = bound_names(code)
    out: list[int] = []
    for later in codes:
        if len(out) >= limit or not names:
            break
        if later.cell.index <= code.cell.index:
            continue
        if names & _loads(later):
            out.append(later.cell.index)
            names |= bound_names(later)
    return out


def upstream_source(code: CellCode, codes: Sequence[CellCode]) -> str:
    """The source of the earlier cells of ``codes`` that last bound a name ``code`` reads (``R =
    torch.tensor(1.0, requires_grad=True)`` in the cell before the loop that fits it)."""
    wanted = _loads(code)
    last: dict[str, CellCode] = {}
    for earlier in codes:
        if earlier.cell.index >= code.cell.index:
            break
        for name in bound_names(earlier) & wanted:
            last[name] = earlier
    cells = sorted({c.cell.index: c for c in last.values()}.items())
    return "\n".join(c.cell.source for _, c in cells)


def loaded_globals(code: CellCode, codes: Sequence[CellCode]) -> list[str]:
    """Names ``code`` reads that an earlier cell of ``codes`` binds by assignment (the data of an
    answer computed in the cell before)."""
    if code.tree is None:
        return []
    earlier = value_names(codes, [c.cell.index for c in codes if c.cell.index < code.cell.index])
    loads = [n.id for n in ast.walk(code.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return [n for n in dict.fromkeys(loads) if n in earlier]


def expand_names(node: ast.AST, env: dict[str, ast.AST], depth: int = 3) -> ast.AST:
    """``node`` with every name bound in ``env`` replaced by the expression bound to it (``lhs``
    of ``lhs = A.T + B.T``), ``depth`` levels deep; ``node`` itself is not changed."""
    if depth <= 0 or not env:
        return node

    class _Expand(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.AST:
            if isinstance(name.ctx, ast.Load) and name.id in env:
                return expand_names(env[name.id], {k: v for k, v in env.items() if k != name.id}, depth - 1)
            return name

    import copy

    return _Expand().visit(copy.deepcopy(node))


def trains(source: str) -> bool:
    return bool(re.search(r"\.(backward|fit|step)\s*\(", source))


def uses(codes: Sequence[CellCode], cells: Sequence[int], rules: Sequence[str]) -> list[str]:
    found = []
    for use in uses_in(list(codes), cells=cells):
        if any(rule_matches(r, use.name) for r in rules):
            found.append(use.name.lstrip("."))
    return sorted(set(found))


def scalar_of(value: Any) -> float | None:
    arr = as_array(value)
    if arr is None or arr.size != 1 or arr.dtype.kind not in "iuf":
        return None
    return float(arr.reshape(-1)[0])


def fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def record_error(ev: Evidence, cells: Sequence[int]) -> CellRecord | None:
    for cell in cells:
        record = ev.records.get(cell)
        if record is not None and record.status != "ok":
            return record
    return None
