"""Book-code checkpoints: values the book's code produces when it runs right, measured
during the grader's own execution of the submission.

A checkpoint names the statement after which it reads (its *anchor*, a code snippet
compared like section fingerprints), what it reads (globals or dotted attributes such as
``data.w``), or a notebook function it calls on the grader's inputs, or the figures drawn
in the anchor cell; and an expectation computed here, in the grader's process. The
probe runs right after the anchor cell, so a later cell that reuses a name cannot spoil
the reading. When the book's value needs more statements of the book's cell after the
anchor (``y.backward()`` after ``y = x.sum()``, the plot after ``y = torch.relu(x)``),
the checkpoint lists them as ``then``: they are found in order after the anchor, in
the same cell or in later ones, so a notebook that splits the book's cell into one cell
per statement (or prints a value in between) is read where the value is complete. When the anchor cell itself changes a read name after the anchor (a whole
section merged into one cell), the value at the end of the cell is not the one the book
shows, and the checkpoint is reported as not measurable rather than failed.

Expectations are small functions returning a :class:`~grader.checking.checks.Check`; the helpers
below (``close``, ``equal``, ``shape_is``, ``grad_close``, ``raises``, ``line_like``)
cover the usual cases.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from grader.checking.checks import Check, as_array, check_array_close, check_array_equal, check_raises, check_shape, describe, failed, passed
from grader.checking.probe import Steps, array, build_request, const
from grader.homework.sections import normalise_code
from grader.notebook.static import CellCode
from grader.values import ArrayValue, FigureValue, FrameValue, Missing, Raised

__all__ = ["Call", "Checkpoint", "CheckpointResult", "find_anchor", "read_node", "request_for", "judge",
           "close", "equal", "shape_is", "grad_close", "raises", "line_like", "where", "each", "satisfies",
           "frame_is", "figure_shows", "images_shown", "Planned", "changed_after", "judge_status"]

Expect = Callable[..., Check]


@dataclass(frozen=True)
class Call:
    """A notebook function (``softmax`` or ``Classifier.accuracy``) and the grader's arguments."""

    function: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """One value the book's code yields, where to read it, and what it must be."""

    section: str
    title: str
    anchor: str
    expect: Expect
    reads: tuple[str, ...] = ()
    call: Call | None = None
    figures: bool = False
    then: tuple[str, ...] = ()   # statements after the anchor that complete the value (see the module)

    @property
    def kind(self) -> str:
        return "call" if self.call else ("figure" if self.figures else "read")


@dataclass
class CheckpointResult:
    """A checkpoint as measured: passed, failed, not measurable, or its cell not found."""

    section: str
    title: str
    status: str  # passed | failed | unmeasurable | not_found
    message: str
    cell: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "title": self.title, "status": self.status, "message": self.message,
                "cell": self.cell}


# -- where a checkpoint reads -------------------------------------------------------

def _statements(code: CellCode) -> list[ast.stmt]:
    return list(code.tree.body) if code.tree is not None else []


def _assigned_roots(stmt: ast.stmt) -> set[str]:
    """Names a statement rebinds or changes in place (``X =``, ``X +=``, ``X[...] =``, ``x.grad.zero_()``)."""
    roots: set[str] = set()

    def root(node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    for node in ast.walk(stmt):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_") \
                and not node.func.attr.startswith("_"):
            targets = [node.func.value]
        for target in targets:
            for elt in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                name = root(elt)
                if name:
                    roots.add(name)
    return roots


def _statement_texts(codes: Sequence[CellCode]) -> list[tuple[CellCode, int, str]]:
    """Every top-level statement of ``codes`` in order: (cell, index, normalised code)."""
    out = []
    for code in codes:
        for i, stmt in enumerate(_statements(code)):
            try:
                out.append((code, i, normalise_code(ast.unparse(stmt))))
            except (ValueError, TypeError, RecursionError):
                continue
    return out


def find_anchor(anchor: str, codes: Sequence[CellCode], prefer: Sequence[int] = (),
                then: Sequence[str] = ()) -> tuple[CellCode, int] | None:
    """The first cell (among ``prefer``, else any) whose code contains ``anchor``, and the
    index of the top-level statement that does.

    With ``then``, each of those statements is looked for in order after the anchor's (in
    its cell, then in the cells after it in ``codes``) and the last one is returned: the
    value is complete only there, whether the notebook keeps the book's cell whole or
    splits it. An anchor whose ``then`` is not all found after it gives way to a later
    occurrence; if none has it, the first anchor is returned (a variant of the book's code)."""
    wanted = normalise_code(anchor)
    ordered = [c for c in codes if c.cell.index in set(prefer)] + [c for c in codes if c.cell.index not in set(prefer)]
    statements = _statement_texts(ordered)
    first: tuple[CellCode, int] | None = None
    for position, (code, i, text) in enumerate(statements):
        if wanted not in text:
            continue
        first = first or (code, i)
        found: tuple[CellCode, int] | None = (code, i)
        rest = statements[position + 1:]
        for step in then:
            step_text = normalise_code(step)
            at = next((k for k, (_, _, t) in enumerate(rest) if step_text in t), None)
            if at is None:
                found = None
                break
            found = rest[at][:2]
            rest = rest[at + 1:]
        if found is not None:
            return found
    return first


def changed_after(code: CellCode, statement: int, names: Sequence[str]) -> list[str]:
    """Of ``names`` (roots of reads), those the cell changes after statement ``statement``."""
    roots = {n.split(".")[0] for n in names}
    changed: set[str] = set()
    for stmt in _statements(code)[statement + 1:]:
        changed |= _assigned_roots(stmt) & roots
    return sorted(changed)


def read_node(name: str) -> dict[str, Any]:
    """A probe node reading a global or a dotted attribute path (``data.w``)."""
    parts = name.split(".")
    node: dict[str, Any] = {"kind": "global", "name": parts[0]}
    for attr in parts[1:]:
        node = {"kind": "attribute", "of": node, "name": attr}
    return node


def _arg_node(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "kind" in value:
        return value
    if isinstance(value, np.ndarray):
        return array(value)
    return const(value)


def request_for(checkpoint: Checkpoint) -> tuple[Steps, dict[str, Any]]:
    """The probe descriptor and the kernel request of a checkpoint (no reseeding: reading
    must not change the notebook's random stream)."""
    if checkpoint.call is not None:
        node = {"kind": "call", "fn": read_node(checkpoint.call.function),
                "args": [_arg_node(a) for a in checkpoint.call.args], "kwargs": {}}
        steps = {"out": node}
    else:
        steps = {f"r{i}": read_node(name) for i, name in enumerate(checkpoint.reads)}
    descriptor = Steps(steps, tuple(steps), max_bytes=32 * 1024 * 1024)
    return descriptor, build_request(descriptor)


def judge(checkpoint: Checkpoint, values: Any, figures: Sequence[FigureValue]) -> Check:
    """Apply the checkpoint's expectation; a crash in it is the grader's fault, reported as such."""
    try:
        if checkpoint.figures:
            return checkpoint.expect(list(figures))
        if not isinstance(values, dict):
            return failed(describe(values))
        ordered = [values.get(k) for k in sorted(values, key=lambda k: int(k[1:]) if k[1:].isdigit() else 0)]
        if checkpoint.call is not None:
            return checkpoint.expect(values.get("out"))
        for name, value in zip(checkpoint.reads, ordered):
            if isinstance(value, Missing) or (isinstance(value, Raised) and value.type == "NameError"):
                return failed(f"`{name}` is not defined after this cell")
        return checkpoint.expect(*ordered)
    except Exception as exc:  # an expectation must never crash the grading
        return failed(f"internal grading error in this checkpoint ({type(exc).__name__}: {exc})")


def judge_status(checkpoint: Checkpoint, values: Any, figures: Sequence[FigureValue]) -> tuple[str, str]:
    """(passed | failed | unmeasurable, message). An expectation that cannot read what it
    checks on this notebook's variant of the code (a student's ``W`` for the book's ``w``:
    a KeyError inside it) makes the checkpoint not measurable, never a failure."""
    try:
        if checkpoint.figures:
            check = checkpoint.expect(list(figures))
        elif not isinstance(values, dict):
            check = failed(describe(values))
        elif checkpoint.call is not None:
            check = checkpoint.expect(values.get("out"))
        else:
            ordered = [values.get(k) for k in sorted(values, key=lambda k: int(k[1:]) if k[1:].isdigit() else 0)]
            for name, value in zip(checkpoint.reads, ordered):
                if isinstance(value, Missing) or (isinstance(value, Raised) and value.type == "NameError"):
                    return "failed", f"`{name}` is not defined after this cell"
            check = checkpoint.expect(*ordered)
    except (KeyError, AttributeError, IndexError, TypeError, ValueError) as exc:
        return "unmeasurable", (f"not measurable on this notebook's variant of the code: what it checks is not "
                                f"there ({type(exc).__name__}: {str(exc)[:80]})")
    except Exception as exc:  # an expectation must never crash the grading
        return "unmeasurable", f"not measurable: the check could not be applied ({type(exc).__name__}: {str(exc)[:80]})"
    return ("passed" if check.passed else "failed"), check.message


# -- expectations -------------------------------------------------------------------

def _arr(value: Any) -> np.ndarray | None:
    return as_array(value)


def where(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Label a computation on the read values, for messages (``where('X.sum()', np.sum)``)."""
    fn.__dict__["label"] = name
    return fn


def _apply(via: Callable[..., Any] | None, values: Sequence[Any]) -> tuple[str, Any]:
    if via is None:
        return "value", values[0]
    arrays = []
    for v in values:
        arr = _arr(v)
        if arr is None:
            raise ValueError(f"expected a tensor, got {describe(v)}")
        arrays.append(arr)
    return getattr(via, "label", "value"), ArrayValue(np.asarray(via(*arrays)))


def close(expected: Any, via: Callable[..., Any] | None = None, *, rtol: float = 1e-4, atol: float = 1e-6) -> Expect:
    """The read value (or ``via`` of the read values, computed here) is close to ``expected``."""
    def expect(*values: Any) -> Check:
        try:
            name, got = _apply(via, values)
        except ValueError as exc:
            return failed(str(exc))
        return check_array_close(name, expected, got, rtol=rtol, atol=atol)
    return expect


def equal(expected: Any, via: Callable[..., Any] | None = None) -> Expect:
    """The read value (or ``via`` of the read values) equals ``expected`` exactly."""
    def expect(*values: Any) -> Check:
        try:
            name, got = _apply(via, values)
        except ValueError as exc:
            return failed(str(exc))
        return check_array_equal(name, np.asarray(expected), got)
    return expect


def shape_is(expected: Sequence[int], dtype: str | None = None) -> Expect:
    """Each read value is a tensor of shape ``expected`` (and dtype, when given)."""
    def expect(*values: Any) -> Check:
        check = check_shape("value", expected, values[0])
        if check.passed and dtype and isinstance(values[0], ArrayValue) and \
                values[0].dtype.replace("torch.", "") != dtype.replace("torch.", ""):
            return failed(f"dtype {values[0].dtype}, expected {dtype}")
        return check
    return expect


def grad_close(expected: Any, *, atol: float = 1e-5) -> Expect:
    """The read tensor's ``.grad`` is close to ``expected``."""
    def expect(value: Any) -> Check:
        if not isinstance(value, ArrayValue):
            return failed(f"expected a tensor, got {describe(value)}")
        if value.grad is None:
            return failed("its .grad is None: backward() did not reach it")
        return check_array_close("grad", expected, value.grad, rtol=0, atol=atol)
    return expect


def raises(kind: str, match: str | None = None) -> Expect:
    """Reading the value raised ``kind`` (an attribute that must not exist)."""
    def expect(value: Any) -> Check:
        return check_raises("reading it", kind, value, match=match)
    return expect


def each(*expects: Expect) -> Expect:
    """One expectation per read value, in order; all must hold."""
    def expect(*values: Any) -> Check:
        for fn, value in zip(expects, values):
            check = fn(value)
            if not check.passed:
                return check
        return passed("as the book shows")
    return expect


def satisfies(test: Callable[..., bool], message: str) -> Expect:
    """A relation between the read values (as arrays, computed here), e.g. ``a.grad == d / a``."""
    def expect(*values: Any) -> Check:
        try:
            ok = bool(test(*values))
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            return failed(f"could not check {message} ({type(exc).__name__})")
        return passed(message) if ok else failed(f"not so: {message}")
    return expect


def frame_is(columns: Sequence[str], rows: int, values: dict[str, Sequence[float]] | None = None) -> Expect:
    """A pandas frame with these columns and rows (and these numeric column values)."""
    def expect(value: Any) -> Check:
        if not isinstance(value, FrameValue):
            return failed(f"expected a data frame, got {describe(value)}")
        if list(value.names) != list(columns) or value.nrows != rows:
            return failed(f"a frame of {value.nrows} rows with columns {value.names}, expected {rows} rows "
                          f"with {list(columns)}")
        frame = value.to_pandas()
        for name, expected in (values or {}).items():
            got = np.asarray(frame[name], dtype=float)
            if got.shape != (len(expected),) or not np.allclose(got, expected, equal_nan=True):
                return failed(f"column {name} is {got.tolist()}, expected {list(expected)}")
        return passed(f"a {rows}-row frame with columns {list(columns)}")
    return expect


def figure_shows(*lines: tuple[str, Callable[[np.ndarray], np.ndarray]], atol: float = 1e-3,
                 share: float = 0.98) -> Expect:
    """Every one of ``lines`` (label, reference function) is plotted in the anchor cell."""
    def expect(figures: Sequence[FigureValue]) -> Check:
        for label, reference in lines:
            check = line_like(label, reference, atol=atol, share=share)(figures)
            if not check.passed:
                return check
        return passed("the figure shows " + ", ".join(label for label, _ in lines))
    return expect


def images_shown(count: int) -> Expect:
    """At least ``count`` axes of the anchor cell's figures show an image."""
    def expect(figures: Sequence[FigureValue]) -> Check:
        shown = sum(1 for f in figures for ax in f.axes if ax.get("images"))
        if shown >= count:
            return passed(f"{shown} images shown")
        return failed(f"{shown} images shown, expected {count}")
    return expect


def line_like(label: str, reference: Callable[[np.ndarray], np.ndarray], *, atol: float = 1e-3,
              share: float = 0.98, count: int = 1) -> Expect:
    """Among the figures, ``count`` plotted lines follow ``reference`` on ``share`` of their points."""
    def expect(figures: Sequence[FigureValue]) -> Check:
        from grader.checking.figures import figure_lines

        lines = figure_lines(figures)
        if not lines:
            return failed(f"no plotted line found (expected {label})")
        good = 0
        best = np.inf
        for line in lines:
            ok = np.isfinite(line["x"]) & np.isfinite(line["y"])
            if ok.sum() < 10:
                continue
            err = np.abs(line["y"][ok] - reference(line["x"][ok]))
            best = min(best, float(np.quantile(err, share)))
            if np.mean(err <= atol) >= share:
                good += 1
        if good >= count:
            return passed(f"the figure shows {label}")
        return failed(f"no plotted line shows {label}" + (f" (closest is off by {best:.3g})" if np.isfinite(best) else ""))
    return expect


@dataclass
class Planned:
    """A checkpoint placed in a notebook: its anchor cell, or why it cannot be measured."""

    checkpoint: Checkpoint
    key: str
    cell: int | None = None
    status: str = "planned"   # planned | not_found | unmeasurable
    message: str = ""
    descriptor: Steps | None = None
    request: dict[str, Any] = field(default_factory=dict)
