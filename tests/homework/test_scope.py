"""Without a kernel: exercises are judged in their own section, from what the cells did
(a fake trace), answers in any scale or in prose, sweeps without a loop, headings checked
against the code, checkpoints that cannot be measured on a student's variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from book import BOOK, section_cells
from nbfactory import code, md, notebook, write
from grader.homework.checkpoints import Checkpoint, judge_status, satisfies
from grader.homework.outputs import stored_findings
from grader.homework.plan import analyse, section_scope
from grader.homework.recognise import (AbaloneFractions, ActivationComparison, BackwardTwice, Broadcast3D,
                                       CompareOperators, ControlFlowGrad, Evidence, RowNormalise, Sweep)
from grader.homework.sections import place_cells
from grader.homework.trace import AutogradCall, CellTrace, Op, TraceError
from grader.homework.trained import MeasuredModel, net_forward_classes, verified_book_classes
from grader.homeworks.d2l_ch2_5 import BOOK_FORWARDS, HOMEWORK, SECTIONS
from grader.notebook.load import Cell, Notebook, read_notebook
from grader.notebook.static import analyse as static_analyse, parse_cell
from grader.results import CellRecord
from grader.values import ArrayValue, FrameValue

SHAPE = "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 2"


def _read(tmp_path: Path, cells: list) -> tuple[Notebook, list]:
    nb = read_notebook(write(notebook(cells), tmp_path / "hw.ipynb"))
    return nb, static_analyse(nb.cells)


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def ev(**kw: object) -> Evidence:
    base: dict = {"values": {}, "records": {}, "figures": [], "models": [], "codes": []}
    base.update(kw)
    return Evidence(**base)  # type: ignore[arg-type]


# -- 1. each recogniser sees its own section ---------------------------------------------

def test_a_typo_in_2_5_is_not_the_2_1_broadcasting_exercise(tmp_path: Path) -> None:
    typo = "x = torch.arange(24.0).reshape(2, 3, 4)\ny = x * torch.arange(12.0).reshape(4, 3)"
    cells = section_cells("2.1") + section_cells("2.5", extra=[code(typo)])
    nb, parsed = _read(tmp_path, cells)
    plan = analyse(HOMEWORK, nb, parsed)
    assert [a.exercise for _, a in plan.attempts] == []
    # the same code as the student's 2.1 answer is the exercise
    cells = section_cells("2.1", extra=[md("#### Exercise 2"), code(typo)]) + section_cells("2.5")
    nb, parsed = _read(tmp_path, cells)
    plan = analyse(HOMEWORK, nb, parsed)
    assert [(a.exercise, a.cells) for _, a in plan.attempts] == [("2.1-2", [len(BOOK["2.1"]) + 2])]


def test_scope_is_the_section_and_unplaced_cells_after_it() -> None:
    placements = {0: "2.1", 1: "2.1", 2: None, 3: "2.2", 4: None, 5: "2.1"}
    assert section_scope(placements, "2.1") == {0, 1, 2, 5}
    assert section_scope(placements, "2.2") == {3, 4}


def test_a_merged_5_1_book_cell_is_no_activation_comparison() -> None:
    rec = ActivationComparison("5.1-act", section="5.1", title="")
    merged = "\n".join(BOOK["5.1"]) + "\ny.backward(torch.ones_like(x), retain_graph=True)"
    [attempt] = rec.find(codes(merged))   # relu, sigmoid, tanh and a backward call: looks like one
    measured = rec.measure(attempt, ev())
    assert (measured.status, measured.message) == ("none", "no model was trained or evaluated in these cells")


# -- 2. recognition from what the cells did --------------------------------------------

def test_broadcasting_inside_print_and_a_helper_from_the_trace() -> None:
    rec = Broadcast3D("2.1-2", section="2.1", title="")
    cells = codes("def add(p, q):\n    return p + q\n\nprint(add(torch.ones(2, 3, 1), torch.ones(2, 1, 3)))",
                  "print('sum:', torch.ones(2, 3, 2) + torch.ones(3, 2, 3))")
    assert rec.find(cells) == []   # nothing a statement scan can see
    traces = {0: CellTrace(ops=[Op("add", ((2, 3, 1), (2, 1, 3)), (2, 3, 3))]),
              1: CellTrace(errors=[TraceError("add", ((2, 3, 2), (3, 2, 3)), "RuntimeError", SHAPE)])}
    attempts = rec.find_run(cells, traces)
    assert [a.cells for a in attempts] == [[0], [1]]
    assert [(m.status, m.message) for m in (rec.measure(a, ev(traces=traces)) for a in attempts)] == [
        ("correct", "(2, 3, 1) with (2, 1, 3) gives (2, 3, 3) (seen in what the cell ran)"),
        ("correct", "(2, 3, 2) with (3, 2, 3): RuntimeError, as broadcasting predicts (seen in what the cell ran)")]
    # a forged result shape is checked against broadcasting computed here
    forged = {0: CellTrace(ops=[Op("add", ((2, 3, 1), (2, 1, 3)), (2, 3, 1))])}
    [attempt] = rec.find_run(cells[:1], forged)
    assert rec.measure(attempt, ev()).message == "(2, 3, 1) with (2, 1, 3) gave [2, 3, 1], but broadcasting gives (2, 3, 3)"


def test_comparisons_seen_in_the_trace() -> None:
    rec = CompareOperators("2.1-1", section="2.1", title="")
    cells = codes("print(X < Y)\nprint(X > Y)")
    traces = {0: CellTrace(ops=[Op("lt", ((3, 4), (3, 4)), (3, 4), 1, 2), Op("gt", ((3, 4), (3, 4)), (3, 4), 1, 10)])}
    [attempt] = rec.find_run(cells, traces)
    assert (rec.measure(attempt, ev()).status, rec.measure(attempt, ev()).message) == (
        "correct", "`<`: a 3x4 boolean tensor with 2 True; `>`: a 3x4 boolean tensor with 10 True "
                   "(seen in what the cell ran)")
    traces = {0: CellTrace(ops=[Op("lt", ((4,), (4,)), (4,), 1, 1)])}
    [attempt] = rec.find_run(cells, traces)
    assert rec.measure(attempt, ev()).message == "`<` compared tensors of shapes (4,) and (4,), not the section's 3x4 X and Y"


# -- 3. every measurable exercise ---------------------------------------------------------

def test_row_normalisation_error_is_the_answer() -> None:
    rec = RowNormalise("2.3-6", section="2.3", title="")
    cells = codes("A = torch.arange(6, dtype=torch.float32).reshape(2, 3)\nA / A.sum(axis=1)",
                  "S = torch.ones(3, 3)\nprint(S / S.sum(1))", "A / sum_A")
    assert [a.cells for a in rec.find(cells)] == [[0], [1]]   # the book's A / sum_A is not the exercise
    error = "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    traces = {0: CellTrace(ops=[Op("sum", ((2, 3),), (2,), 1, [1, False])],
                           errors=[TraceError("div", ((2, 3), (2,)), "RuntimeError", error)]),
              1: CellTrace(ops=[Op("sum", ((3, 3),), (3,), 1, [1, False]), Op("div", ((3, 3), (3,)), (3, 3))])}
    records = {0: CellRecord(0, "error", ename="RuntimeError", evalue=error), 1: CellRecord(1, "ok")}
    measured = [rec.measure(a, ev(traces=traces, records=records)) for a in rec.find(cells)]
    assert [(m.status, m.message) for m in measured] == [
        ("correct", "(2, 3) / (2,): RuntimeError, as the shapes do not broadcast"),
        ("correct", "(3, 3) / (3,): runs, dividing column j by the sum of row j (broadcasting), not each row by its "
                    "own sum")]
    assert rec.expects("RuntimeError", error)
    # without a trace, the cell's own error still answers
    m = rec.measure(rec.find(cells)[0], ev(records=records))
    assert (m.status, m.message) == ("correct", f"the division raised, as it must for a non-square matrix: RuntimeError: "
                                                f"{error}")


def test_control_flow_with_a_random_vector() -> None:
    rec = ControlFlowGrad("2.5-3", section="2.5", title="")
    book = "a = torch.randn(size=(), requires_grad=True)\nd = f(a)\nd.backward()"
    answer = "v = torch.randn(size=(3,), requires_grad=True)\nout = f(v)\nout.backward()"
    cells = codes(book, answer, "out.sum().backward()\nv.grad == out / v")
    [attempt] = rec.find(cells)
    assert (attempt.cells, attempt.reads) == ([1, 2], ("v", "out"))   # the book's scalar a is not the exercise
    a = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    d = a * 1024
    values = {"v": ArrayValue(a, "torch", "torch.float32", True, grad=ArrayValue(np.full(3, 1024.0, np.float32))),
              "out": ArrayValue(d)}
    trace = {1: CellTrace(autograd=[AutogradCall("backward", (3,), False, "RuntimeError: grad can be implicitly "
                                                 "created only for scalar outputs")])}
    m = rec.measure(attempt, ev(values=values, traces=trace))
    assert (m.status, m.message) == ("correct", "with a random `v` of shape (3,), its gradient equals d / a (computed "
                                                "here); the plain backward raised, since d is no longer a scalar")
    m = rec.measure(attempt, ev(traces=trace))
    assert m.status == "correct" and m.message.startswith("d.backward() raised RuntimeError")


def test_backward_twice_only_from_the_trace() -> None:
    rec = BackwardTwice("2.5-2", section="2.5", title="")
    cells = codes("y = 2 * torch.dot(x, x)\ny.backward()\ny.backward()")
    assert rec.find(cells) == []
    twice = "RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors)"
    traces = {0: CellTrace(autograd=[AutogradCall("backward", (), False, ""), AutogradCall("backward", (), False, twice)])}
    [attempt] = rec.find_run(cells, traces)
    assert rec.measure(attempt, ev(traces=traces)).message == (
        "2 backward calls; the second through the same graph raised RuntimeError (the graph is freed unless "
        "retain_graph=True)")


def test_abalone_shares_as_percentages_and_in_prose() -> None:
    rec = AbaloneFractions("2.2-1", section="2.2", title="")
    frame = FrameValue([{"name": f"c{i}"} for i in range(9)], 4177)
    percent = {"df": frame, "categorical_pct": 11.11, "numeric_pct": 88.89}
    m = rec.measure(rec.find(codes("df = pd.read_csv(abalone_url)"))[0], ev(values=percent))
    assert (m.status, m.message) == ("correct", "frame loaded: `df` (4177 x 9); fractions computed: categorical_pct = "
                                                "11.11 (categorical, of 9 columns, as a percentage), numeric_pct = "
                                                "88.89 (numerical, of 9 columns, as a percentage)")
    [attempt] = rec.find(codes("df = pd.read_csv(abalone_url)\nprint(df.dtypes.value_counts())"))
    prose = ["Only Sex is categorical: 1 of 9 columns, about 11.1%; the other 88.9% are numbers. Nothing is missing."]
    m = rec.measure(attempt, ev(values={"df": frame}, printed={0: "float64    7\nint64      1\nobject     1"},
                                prose=prose))
    assert (m.status, m.message) == ("correct", "frame loaded: `df` (4177 x 9); shares stated after computing them, as "
                                                "the grader computes them: 11.1% (categorical, of 9 columns, as a "
                                                "percentage), 88.9% (numerical, of 9 columns, as a percentage)")


def _mlp(number: int, cls: str, **hparams: object) -> MeasuredModel:
    return MeasuredModel(0, number, cls, number, "", True, True, accuracy=0.8 + number / 100, evidence="rebuilt",
                         hparams=dict(hparams))


def test_a_sweep_in_separate_cells_and_the_book_models_are_not_one() -> None:
    rec = Sweep("5.2-1", section="5.2", title="", parameter="num_hiddens")
    cells = codes("m1 = MLP(num_outputs=10, num_hiddens=64, lr=0.1)\ntrainer.fit(m1, data)",
                  "m2 = MLP(num_outputs=10, num_hiddens=512, lr=0.1)\ntrainer.fit(m2, data)")
    [attempt] = rec.find(cells)
    assert (attempt.cells, attempt.facts["tentative"]) == ([0, 1], True)
    sweep = [_mlp(0, "MLP", num_hiddens=64, lr=0.1), _mlp(1, "MLP", num_hiddens=512, lr=0.1)]
    m = rec.measure(attempt, ev(models=sweep))
    assert (m.status, m.message) == ("correct", "2 models measured: num_hiddens=64: test accuracy 0.800; "
                                                "num_hiddens=512: test accuracy 0.810; best num_hiddens=512")
    book = [_mlp(0, "MLPScratch", num_inputs=784, num_hiddens=256, lr=0.1), _mlp(1, "MLP", num_hiddens=256, lr=0.1)]
    assert rec.measure(attempt, ev(models=book)).status == "none"
    changed_two = [_mlp(0, "MLP", num_hiddens=64, lr=0.1), _mlp(1, "MLP", num_hiddens=512, lr=0.5)]
    assert rec.measure(attempt, ev(models=changed_two)).status == "none"   # two things changed: no sweep of one


# -- 5. models ------------------------------------------------------------------------------

def test_book_classes_as_they_were_when_the_model_ran() -> None:
    book = [BOOK["4.4"][i] for i in (2, 4, 5)]   # softmax, the class, its forward
    later = "def softmax(X):\n    return X.softmax(dim=1)  # my own, for another experiment"
    parsed = codes(*book, "model = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)", later)
    assert verified_book_classes(parsed, BOOK_FORWARDS, 3) == {"SoftmaxRegressionScratch"}
    assert verified_book_classes(parsed, BOOK_FORWARDS) == frozenset()   # after the redefinition


def test_self_net_forwards_through_notebook_bases() -> None:
    parsed = codes("class Module(nn.Module, d2l.HyperParameters):\n    def forward(self, X):\n"
                   "        assert hasattr(self, 'net'), 'Neural network is defined'\n        return self.net(X)",
                   "class Classifier(Module):\n    pass", "class MyMLP(Classifier):\n    def __init__(self):\n"
                   "        super().__init__()\n        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(10))",
                   "class Odd(Classifier):\n    def forward(self, X):\n        return self.net(X) * 2")
    assert net_forward_classes(parsed) == {"Module", "Classifier", "MyMLP"}


# -- 6. sections, checkpoints, stored outputs ----------------------------------------------

def test_minor_headings_do_not_move_cells_against_the_code(tmp_path: Path) -> None:
    cells = ([md("## 4.1 Softmax Regression"), md("### Classification"), md("Softmax turns scores into probabilities "
                                                                              "that sum to one, so we can classify.")]
             + section_cells("3.1", extra=[md("####2.1.1.3 (my note) broadcasting again"), md("A note on vectors.")])
             + [md("### Classification"), code(BOOK["4.3"][0])] + [code(s) for s in BOOK["4.3"][1:]])
    nb, parsed = _read(tmp_path, cells)
    placed = [p.section for p in place_cells(nb, parsed, SECTIONS)]
    assert placed == ["4.1", "4.1", "4.1"] + ["3.1"] * (len(BOOK["3.1"]) + 3) + ["4.3"] * (1 + len(BOOK["4.3"]))


def test_a_renamed_variable_makes_a_checkpoint_not_measurable() -> None:
    checkpoint = Checkpoint("3.4", "w is close", "trainer.fit(model, data)",
                            satisfies(lambda model: model.tensors["w"] is not None, "w is there"), reads=("model",))

    class Model:
        tensors = {"W": 1}
    status, message = judge_status(checkpoint, {"v0": Model()}, [])
    assert (status, message) == ("unmeasurable", "not measurable on this notebook's variant of the code: what it checks "
                                                 "is not there (KeyError: 'w')")


def test_a_colab_export_is_not_called_stale() -> None:
    cells = [Cell(0, "code", "x = 1\nx", stored_text="1", stored_count=None),
             Cell(1, "code", "x + 1", stored_text="3", stored_count=None)]
    nb = Notebook(Path("colab.ipynb"), cells, {}, "", 5)
    findings = stored_findings(nb, [parse_cell(c) for c in cells], {0: "1", 1: "2"}, {0: "ok", 1: "ok"})
    assert [(f.cell, f.kind) for f in findings] == [(1, "differs")]


def test_abalone_read_inside_a_helper_is_seen_in_the_trace() -> None:
    rec = AbaloneFractions("2.2-1", section="2.2", title="")
    source = ("def load():\n    return pd.read_csv('https://archive.ics.uci.edu/ml/machine-learning-databases/abalone/"
              "abalone.data', header=None)\n\nprint(f'{100 * (load().dtypes != object).mean():.1f}% numerical')")
    [attempt] = rec.find(codes(source))
    traces = {0: CellTrace(frames=[("https://archive.ics.uci.edu/ml/abalone.data", 4177, 9)])}
    m = rec.measure(attempt, ev(traces=traces, printed={0: "88.9% numerical"}))
    assert (m.status, m.message) == ("correct", "frame loaded: https://archive.ics.uci.edu/ml/abalone.data (4177 x 9, "
                                                "seen in what the cell ran); shares stated after computing them, as the "
                                                "grader computes them: 88.9% (numerical, of 9 columns, as a percentage)")
