"""Exercise recognisers without a kernel: what the code does is recognised (not the words
around it), and measurements judge synthetic evidence as the grader's run would give it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from answers import RIGHT, WRONG
from grader.notebook.load import Cell
from grader.homework.recognise import (AbaloneFractions, Broadcast3D, CompareOperators, Evidence, InitRuns, OhmFit, PlanckFit,
                              RemoveSaveHyperparameters, SinDerivative, Sweep, constant_value, static_shape)
from grader.homework.recognise.chapter3 import planck
from grader.results import CellRecord
from grader.notebook.static import parse_cell
from grader.values import ArrayValue, FrameValue

import ast


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def evidence(values: dict | None = None, records: dict | None = None, figures: list | None = None,
             models: list | None = None, cells: list | None = None) -> Evidence:
    return Evidence(values or {}, records or {}, figures or [], models or [], cells or [])


def tensor(values, grad=None, requires_grad: bool = False) -> ArrayValue:
    return ArrayValue(np.asarray(values, dtype=np.float32), "torch", "torch.float32", requires_grad,
                      grad=None if grad is None else ArrayValue(np.asarray(grad, dtype=np.float32)))


@pytest.mark.parametrize("source, value", [("1000", 1000.0), ("1000 ** 0.5", math.sqrt(1000)),
                                           ("math.sqrt(1000)", math.sqrt(1000)), ("np.sqrt(10) * 10", 10 * math.sqrt(10)),
                                           ("torch.sqrt(torch.tensor(1000.))", math.sqrt(1000)), ("sigma", None)])
def test_constant_value(source: str, value: float | None) -> None:
    got = constant_value(ast.parse(source, mode="eval").body)
    assert got == pytest.approx(value) if value is not None else got is None


@pytest.mark.parametrize("source, shape", [("torch.arange(6).reshape((2, 3, 1))", (2, 3, 1)),
                                           ("torch.arange(24).reshape(2, 3, 4)", (2, 3, 4)),
                                           ("torch.ones(2, 1, 3)", (2, 1, 3)), ("torch.zeros((4,))", (4,)),
                                           ("torch.tensor([[1, 2], [3, 4]])", (2, 2)), ("x.reshape(-1, 2)", None)])
def test_static_shape(source: str, shape: tuple | None) -> None:
    assert static_shape(ast.parse(source, mode="eval").body, {}) == shape


def test_words_in_markdown_are_not_an_attempt() -> None:
    prompt = "1. Change X == Y to X < Y. 2. Use 3-D tensors. 3. Plot sin and its derivative."
    cells = [parse_cell(Cell(index=0, kind="code", source="X == Y"))]
    assert Cell(index=1, kind="markdown", source=prompt)
    for recogniser in (CompareOperators("a", section="2.1", title=""), Broadcast3D("b", section="2.1", title=""),
                       SinDerivative("c", section="2.5", title="")):
        assert recogniser.find(cells) == []


def test_compare_operators_on_the_wrong_tensors() -> None:
    rec = CompareOperators("2.1-1", section="2.1", title="")
    [attempt] = rec.find(codes(*WRONG["2.1-1"]))
    assert attempt.reads == ("x", "y")
    m = rec.measure(attempt, evidence({"x": tensor([1, 2, 4, 8]), "y": tensor([2, 2, 2, 2])}))
    assert (m.status, m.message) == ("wrong", "`x < y` compares tensors of shapes (4,) and (4,), not the section's 3x4 X and Y")
    [attempt] = rec.find(codes(*RIGHT["2.1-1"]))
    m = rec.measure(attempt, evidence({"X": tensor(rec.BOOK_X), "Y": tensor(rec.BOOK_Y)}))
    assert m.status == "correct" and m.message.startswith("`X < Y`: a 3x4 boolean tensor with 2 True")


def test_broadcast_prediction_and_the_raised_error() -> None:
    rec = Broadcast3D("2.1-2", section="2.1", title="")
    attempts = rec.find(codes(*RIGHT["2.1-2"]))
    assert [a.facts["pairs"][0]["a"] for a in attempts] == [[2, 3, 1], [2, 3, 2]]
    ok = rec.measure(attempts[0], evidence({"p": tensor(np.zeros((2, 3, 1))), "q": tensor(np.zeros((2, 1, 3)))},
                                           {0: CellRecord(0, "ok")}))
    assert (ok.status, ok.message) == ("correct", "(2, 3, 1) with (2, 1, 3) gives (2, 3, 3)")
    message = "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 2"
    raised = rec.measure(attempts[1], evidence(records={1: CellRecord(1, "error", ename="RuntimeError", evalue=message)}))
    assert raised.status == "correct" and "RuntimeError, as broadcasting predicts" in raised.message
    assert rec.expects("RuntimeError", message)
    silent = rec.measure(attempts[1], evidence(records={1: CellRecord(1, "ok")}))
    assert silent.status == "wrong"
    assert rec.find(codes("X + Y", "torch.ones(3, 4) + torch.ones(3, 4)")) == []  # 2-D, same shapes: no exercise


def test_abalone_fractions() -> None:
    rec = AbaloneFractions("2.2-1", section="2.2", title="")
    [attempt] = rec.find(codes("import pandas as pd", *RIGHT["2.2-1"]))
    assert attempt.cells == [1, 2] and attempt.facts["missing_code"]
    frame = FrameValue([{"name": f"c{i}", "dtype": "float64", "values": ArrayValue(np.zeros(4177))} for i in range(9)], 4177)
    m = rec.measure(attempt, evidence({"frame": frame, "categorical_fraction": 1 / 9, "numerical_fraction": 8 / 9,
                                       "missing_fraction": 0.0}))
    assert m.status == "correct" and "categorical_fraction = 0.1111 (categorical, of 9 columns)" in m.message
    m = rec.measure(attempt, evidence({"frame": frame}))
    assert m.status == "attempted" and "no fraction computed" in m.message
    m = rec.measure(attempt, evidence({"frame": frame, "numeric_ratio": 0.5}))
    assert m.status == "wrong"


def test_sin_derivative_rules_out_cos() -> None:
    rec = SinDerivative("2.5-4", section="2.5", title="")
    xs = np.linspace(-3, 3, 100)
    lines = {"axes": [{"lines": [{"label": "sin", "x": xs.tolist(), "y": np.sin(xs).tolist()},
                                 {"label": "d", "x": xs.tolist(), "y": np.cos(xs).tolist()}]}]}
    from grader.values import FigureValue

    [right] = rec.find(codes(*RIGHT["2.5-4"]))
    assert right.reads == ("xs",)
    cells = codes(*RIGHT["2.5-4"])
    m = rec.measure(right, evidence({"xs": tensor(xs, grad=np.cos(xs), requires_grad=True)}, figures=[FigureValue(lines)],
                                    cells=cells))
    assert m.status == "correct"
    cells = codes("import torch", *WRONG["2.5-4"])
    [wrong] = rec.find(cells)
    only = {"axes": [{"lines": [lines["axes"][0]["lines"][1]]}]}
    m = rec.measure(wrong, evidence({"xs": tensor(xs, grad=np.cos(xs), requires_grad=True)}, figures=[FigureValue(only)],
                                    cells=cells))
    assert m.status == "wrong"
    assert m.message == ("the cell uses torch.cos, which the exercise rules out; "
                         "the figure does not show both sin and its derivative")


def test_save_hyperparameters_removed() -> None:
    rec = RemoveSaveHyperparameters("3.2-2", section="3.2", title="")
    [attempt] = rec.find(codes(*RIGHT["3.2-2"]))
    error = CellRecord(0, "error", ename="AttributeError", evalue="'B2' object has no attribute 'a'")
    assert rec.measure(attempt, evidence(records={0: error})).status == "correct"
    book = "class B(d2l.HyperParameters):\n    def __init__(self, a, b, c):\n        self.save_hyperparameters(ignore=['c'])\n" \
           "        print(self.a)\nb = B(a=1, b=2, c=3)"
    assert rec.find(codes(book)) == []


def test_init_variance_read_either_way_says_which() -> None:
    rec = InitRuns("3.4-1", section="3.4", title="")
    right = rec.find(codes(*RIGHT["3.4-1"]))
    assert [a.facts["variants"] for a in right] == [[{"kind": "zero", "std": 0.0}],
                                                   [{"kind": "normal", "std": pytest.approx(math.sqrt(1000))}]]
    from grader.homework.trained import MeasuredModel

    run = MeasuredModel(0, 1, "LinearRegressionScratch", 0, "", True, False,
                        fits=[{"w": [2.0, -3.4], "start": {"w": [[40.0], [-20.0]]}, "end": {"w": [[1.0], [-2.0]]}, "epochs": 3}])
    trained = "LinearRegressionScratch from weights with |w| up to 40: after 3 epochs the error in w is [1.  1.4]"
    literal = rec.measure(right[1], evidence(models=[run]))
    assert (literal.status, literal.message) == (
        "correct", f"weights drawn with standard deviation 31.6: variance 1000 read literally; {trained}")
    # the book's convention: its sigma=0.01 is called a variance but drawn as a standard deviation
    [book] = rec.find(codes("big = LinearRegressionScratch(2, lr=0.03)\n"
                            "big.w = torch.normal(0, 1000, (2, 1), requires_grad=True)\n"
                            "d2l.Trainer(max_epochs=3).fit(big, data)"))
    convention = rec.measure(book, evidence(models=[run]))
    assert (convention.status, convention.message) == (
        "correct", "weights drawn with standard deviation 1000: variance 1000 read with the book's convention (its "
        "sigma is called a variance but drawn as a standard deviation; literally it would be 31.6); " + trained)
    [wrong] = rec.find(codes(*WRONG["3.4-1"]))
    m = rec.measure(wrong, evidence(models=[run]))
    assert (m.status, m.message) == ("wrong", "the weights are drawn with standard deviation 10, i.e. variance 100: "
                                     "neither variance 1000 (standard deviation 31.6) nor the book's convention "
                                     "(standard deviation 1000); " + trained)


def test_ohm_resistance_against_least_squares() -> None:
    rec = OhmFit("3.4-2", section="3.4", title="")
    [attempt] = rec.find(codes(*RIGHT["3.4-2"]))
    current = np.array([0.5, 1, 1.5, 2, 2.5, 3.0])
    values = {"current": tensor(current), "voltage": tensor(4.7 * current), "R": tensor(4.7, requires_grad=True)}
    assert rec.measure(attempt, evidence(values)).status == "correct"
    values["R"] = tensor(2.9, requires_grad=True)
    m = rec.measure(attempt, evidence(values))
    assert (m.status, m.message) == ("wrong", "`R` = 2.9; least squares on `current` and `voltage` here gives R = 4.7: off by 38.3%")
    assert rec.find(codes(*RIGHT["3.4-3"])) == []  # Planck is not Ohm


def test_planck_temperature_fitted_here() -> None:
    rec = PlanckFit("3.4-3", section="3.4", title="")
    [attempt] = rec.find(codes(*RIGHT["3.4-3"]))
    lam = np.linspace(2e-7, 3e-6, 100)
    measured = planck(lam, 5000.0)
    assert rec.reference_temperature(lam, measured) == pytest.approx(5000.0, rel=1e-4)
    values = {"lam": ArrayValue(lam), "measured": ArrayValue(measured), "popt": ArrayValue(np.array([5003.0])),
              "T_true": 5000.0}
    m = rec.measure(attempt, evidence(values, cells=codes(*RIGHT["3.4-3"])))
    assert m.status == "correct" and m.details["method"] == "scipy.optimize"
    values["popt"] = ArrayValue(np.array([4500.0]))
    assert rec.measure(attempt, evidence(values, cells=codes(*RIGHT["3.4-3"]))).status == "wrong"


def test_sweep_counts_every_model() -> None:
    rec = Sweep("5.2-1", section="5.2", title="", parameter="num_hiddens")
    [attempt] = rec.find(codes(*RIGHT["5.2-1"]))
    assert attempt.facts["values"] == [16, 32, 64, 128]
    from grader.homework.trained import MeasuredModel

    models = [MeasuredModel(0, i, "MLP", 0, "", True, True, accuracy=0.7 + i / 100, evidence="rebuilt",
                            hparams={"num_hiddens": h}) for i, h in enumerate([16, 32, 64, 128])]
    m = rec.measure(attempt, evidence(models=models))
    assert m.status == "correct" and m.message.endswith("best num_hiddens=128")
    assert rec.measure(attempt, evidence(models=models[-1:])).status == "wrong"  # only the last one kept
    lr = Sweep("5.2-4", section="5.2", title="", parameter="lr")
    assert lr.find(codes(*RIGHT["5.2-1"])) == []


def test_abalone_shares_stated_not_read_off_a_printed_frame() -> None:
    rec = AbaloneFractions("2.2-1", section="2.2", title="")
    rows = "   0      1      2      3\n0  M  0.455  0.365  0.095  0.5140  0.2245  0.1010  0.125  15"
    assert rec._stated([], [rows]) == []          # measurements in a frame's rows are no shares
    assert rec._stated([], ["categorical share: 0.125"]) == ["0.125 (categorical, of 8 features)"]
    assert rec._stated([], ["0.1111111111111111"]) == ["0.1111111111111111 (categorical, of 9 columns)"]
    assert rec._stated(["8 of 9 columns are numerical (88.9 %)"]) == ["88.9 % (numerical, of 9 columns, as a percentage)"]
