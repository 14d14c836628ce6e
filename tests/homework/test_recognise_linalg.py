"""Without a kernel: 2.3's transpose identities, len, sums along axes and norms of a 3-D
tensor, recognised in our own answer cells and judged from a fake trace; the book's own
2.3 code (``A == A.T``, ``len(x)`` of a vector, sums of a matrix, the norm of a vector)
answers none of them."""

from __future__ import annotations

from pathlib import Path

from book import BOOK, section_cells
from nbfactory import code, md, notebook, write

from grader.homework.plan import analyse
from grader.homework.recognise import (
    AxisSums,
    Evidence,
    LenFirstAxis,
    NormManyAxes,
    TransposeIdentity,
)
from grader.homework.trace import CellTrace, Op, TraceError
from grader.homeworks.d2l_ch2_5 import HOMEWORK
from grader.notebook.load import Cell, read_notebook
from grader.notebook.static import analyse as static_analyse
from grader.notebook.static import parse_cell
from grader.results import CellRecord

TWICE = TransposeIdentity("2.3-1", section="2.3", title="", kind="twice")
SUM = TransposeIdentity("2.3-2", section="2.3", title="", kind="sum")
SYM = TransposeIdentity("2.3-3", section="2.3", title="", kind="symmetric")
LEN = LenFirstAxis("2.3-4", section="2.3", title="", min_axes=3)
ANY_LEN = LenFirstAxis("2.3-5", section="2.3", title="", min_axes=2, shapes=2)
SUMS = AxisSums("2.3-8", section="2.3", title="")
NORM = NormManyAxes("2.3-9", section="2.3", title="")
NEW = {"2.3-1", "2.3-2", "2.3-3", "2.3-4", "2.3-5", "2.3-8", "2.3-9"}


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def ev(traces: dict | None = None, records: dict | None = None) -> Evidence:
    return Evidence({}, records or {}, [], [], [], traces=traces or {})


def judged(rec, cells: list, traces: dict, records: dict | None = None) -> list[tuple[str, str]]:
    attempts = rec.find(cells) or rec.find_run(cells, traces)
    return [(m.status, m.message) for m in (rec.measure(a, ev(traces, records)) for a in attempts)]


def eq(shape: tuple, trues: int) -> Op:
    return Op("eq", (shape, shape), shape, 1, trues)


# -- the book's 2.3 code alone answers nothing ----------------------------------------------

BOOK_TRACE = {  # what the book's 2.3 cells run, as the kernel's trace reports it
    "len(x)": CellTrace(ops=[Op("len", ((3,),), None, 1, 3)]),
    "A == A.T": CellTrace(ops=[eq((3, 3), 9)]),
    "A.sum(axis=0)": CellTrace(ops=[Op("sum", ((2, 3),), (3,), 1, [0, False])]),
    "A.sum(axis=1)": CellTrace(ops=[Op("sum", ((2, 3),), (2,), 1, [1, False])]),
    "torch.norm(u)": CellTrace(ops=[Op("norm", ((2,),), None, 1, [5.0])]),
    "torch.ones((4, 9))": CellTrace(ops=[Op("norm", ((4, 9),), None, 1, [6.0])]),
}


def test_the_books_2_3_code_answers_no_2_3_exercise(tmp_path: Path) -> None:
    cells = codes(*BOOK["2.3"])
    traces = {c.cell.index: t for c in cells for key, t in BOOK_TRACE.items() if key in c.cell.source}
    assert len(traces) == 7  # A.sum(axis=0) runs in two cells
    for rec in (TWICE, SUM, SYM, LEN, ANY_LEN, SUMS, NORM):
        assert rec.find(cells) == [] and rec.find_run(cells, traces) == [], rec.id
    nb = read_notebook(write(notebook(section_cells("2.3")), tmp_path / "hw.ipynb"))
    plan = analyse(HOMEWORK, nb, static_analyse(nb.cells))
    assert [a.exercise for _, a in plan.attempts if a.exercise in NEW] == []


def test_transpose_answers_are_found_in_their_section_only(tmp_path: Path) -> None:
    answers = [md("### Exercises 1-3"), code("A = torch.arange(6.).reshape(2, 3)\nB = torch.ones(2, 3)\n"
                                            "print((A.T).T == A)\nprint(A.T + B.T == (A + B).T)"),
               code("S = torch.randn(3, 3)\nsym = S + S.T\ntorch.equal(sym, sym.T)")]
    first = len(BOOK["2.3"]) + 2  # after the heading cell, the book's cells and the exercises heading
    nb = read_notebook(write(notebook(section_cells("2.3", extra=answers)), tmp_path / "hw.ipynb"))
    plan = analyse(HOMEWORK, nb, static_analyse(nb.cells))
    assert sorted((a.exercise, a.cells) for _, a in plan.attempts if a.exercise in NEW) == [
        ("2.3-1", [first]), ("2.3-2", [first]), ("2.3-3", [first + 1])]
    # the same cells under 2.5 are no 2.3 answer
    nb = read_notebook(write(notebook(section_cells("2.3") + section_cells("2.5", extra=answers)), tmp_path / "b.ipynb"))
    plan = analyse(HOMEWORK, nb, static_analyse(nb.cells))
    assert [a.exercise for _, a in plan.attempts if a.exercise in NEW] == []


# -- exercises 1-3 ---------------------------------------------------------------------------

def test_transpose_twice_and_sum_of_transposes_judged_from_the_comparisons() -> None:
    cells = codes("X = torch.arange(24).reshape(2, 3, 4)\nX.T.T == X", "torch.equal(A.t() + B.t(), (A + B).t())")
    assert judged(TWICE, cells[:1], {0: CellTrace(ops=[eq((2, 3, 4), 24)])}) == [
        ("correct", "(A^T)^T = A: every comparison the cell ran is all True (shapes (2, 3, 4))")]
    assert judged(TWICE, cells[:1], {0: CellTrace(ops=[eq((2, 3, 4), 20)])}) == [
        ("wrong", "the comparison for (A^T)^T = A gave 4 of 24 entries False (shape (2, 3, 4)): the two sides must "
                  "agree entry by entry; check the expression")]
    equal = {1: CellTrace(ops=[Op("equal", ((3, 2), (3, 2)), None, 1, 1)])}
    assert judged(SUM, cells[1:], equal) == [
        ("correct", "A^T + B^T = (A + B)^T: every comparison the cell ran is all True (shapes (3, 2))")]
    assert judged(SUM, cells[:1], {}) == [] and judged(TWICE, cells[1:], {}) == []
    # no trace recorded the comparison: recognised, not judged
    assert judged(TWICE, cells[:1], {}) == [("attempted", "the comparison for (A^T)^T = A ran, but its result "
                                                          "was not recorded")]


def test_symmetric_sum_square_non_square_and_not_compared() -> None:
    cells = codes("C = torch.randn(4, 4)\nD = C + C.T\nD == D.T")
    assert judged(SYM, cells, {0: CellTrace(ops=[Op("add", ((4, 4), (4, 4)), (4, 4)), eq((4, 4), 16)])}) == [
        ("correct", "A + A^T is symmetric: every comparison the cell ran is all True (shapes (4, 4))")]
    cells = codes("M = torch.ones(2, 3)\n(M + M.T) == (M + M.T).T")
    message = "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    raised = {0: CellTrace(errors=[TraceError("add", ((2, 3), (3, 2)), "RuntimeError", message)])}
    record = {0: CellRecord(0, "error", ename="RuntimeError", evalue=message)}
    assert judged(SYM, cells, raised, record) == [
        ("attempted", "adding shapes (2, 3) and (3, 2) raised: a matrix and its transpose only add when the matrix "
                      "is square, and the exercise is about square matrices; try it on one")]
    assert SYM.expects("RuntimeError", message) and not TWICE.expects("RuntimeError", message)
    assert judged(SYM, codes("print(C + C.T)"), {}) == [
        ("attempted", "A + A^T was computed but never compared with its own transpose; compare them (==) to show "
                      "that A + A^T is symmetric")]
    # a name once bound to C + C.T and then rebound: its A == A.T is the book's plain check again
    assert [a.cells for a in SYM.find(codes("A = C + C.T", "A = torch.tensor([[1, 2], [2, 1]])\nA == A.T"))] == [[0]]


# -- exercises 4, 5, 8, 9: from what the cells ran ---------------------------------------------

def test_len_of_a_3d_tensor_and_of_several_shapes() -> None:
    cells = codes("X = torch.arange(24).reshape(2, 3, 4)\nprint(len(X))", "for s in [(5, 2), (7, 1, 3)]:\n"
                                                                           "    print(len(torch.zeros(s)))")
    traces = {0: CellTrace(ops=[Op("len", ((2, 3, 4),), None, 1, 2)]),
              1: CellTrace(ops=[Op("len", ((5, 2),), None, 1, 5), Op("len", ((7, 1, 3),), None, 1, 7)])}
    assert judged(LEN, cells, traces) == [
        ("correct", "len of (2, 3, 4) is 2; len of (7, 1, 3) is 7: the length of the first axis (axis 0), "
                    "seen in what the cells ran")]
    assert judged(ANY_LEN, cells[:1], traces) == [
        ("attempted", "len of (2, 3, 4) is 2: the length of the first axis (axis 0), seen in what the cells ran; "
                      "try len on 2 or more tensors of different shapes to see which axis it always gives")]
    assert judged(ANY_LEN, cells, traces)[0][0] == "correct"
    forged = {0: CellTrace(ops=[Op("len", ((2, 3, 4),), None, 1, 4)])}
    assert judged(LEN, cells[:1], forged) == [("wrong", "len of a tensor of shape (2, 3, 4) reported 4, not 2")]


def test_sums_along_each_axis_of_a_3d_tensor() -> None:
    cells = codes("for k in range(3):\n    print(X.sum(axis=k).shape)", "print(X.sum(0).shape)")
    every = {0: CellTrace(ops=[Op("sum", ((2, 3, 4),), (3, 4), 1, [0, False]),
                               Op("sum", ((2, 3, 4),), (2, 4), 1, [1, False]),
                               Op("sum", ((2, 3, 4),), (2, 3), 1, [-1, False])])}
    assert judged(SUMS, cells, every) == [
        ("correct", "axis 0: (2, 3, 4) -> (3, 4); axis 1: (2, 3, 4) -> (2, 4); axis 2: (2, 3, 4) -> (2, 3): "
                    "each sum removes its axis, seen in what the cells ran")]
    one = {1: CellTrace(ops=[Op("sum", ((2, 3, 4),), (1, 3, 4), 1, [0, True])])}
    assert judged(SUMS, cells, one) == [
        ("attempted", "axis 0: (2, 3, 4) -> (1, 3, 4); the exercise asks for axes 0, 1 and 2 (missing: 1, 2)")]
    forged = {1: CellTrace(ops=[Op("sum", ((2, 3, 4),), (2, 4), 1, [0, False])])}
    assert judged(SUMS, cells, forged) == [
        ("wrong", "the sum of (2, 3, 4) along axis 0 reported shape (2, 4), but summing removes that axis: (3, 4)")]


def test_norm_of_a_3d_tensor_and_the_integer_error() -> None:
    cells = codes("T = torch.arange(24.).reshape(2, 3, 4)\ntorch.linalg.norm(T)")
    ok = {0: CellTrace(ops=[Op("norm", ((2, 3, 4),), None, 1, [65.757133])])}
    assert judged(NORM, cells, ok) == [
        ("correct", "norm of a (2, 3, 4) tensor = 65.7571: the 2-norm of all its entries taken as one long vector "
                    "(the Frobenius norm, for any number of axes), seen in what the cells ran")]
    message = "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"
    raised = {0: CellTrace(errors=[TraceError("linalg_norm", ((2, 3, 4),), "RuntimeError", message)])}
    status, text = judged(NORM, cells, raised)[0]
    assert status == "attempted" and text.startswith("the norm of an integer tensor raised: torch's norms need a "
                                                     "floating-point tensor")
