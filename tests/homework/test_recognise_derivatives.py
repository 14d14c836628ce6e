"""Without a kernel: derivatives as answers, judged on the gradient read after the cell
against formulas written here by hand: the chain rule for log(x^2) sin x + 1/x (2.5-6),
pReLU (5.1-2) and Swish (5.1-3). The book's 2.5 and 5.1 cells answer none of them, and
the sin exercise (2.5-4) does not take the chain-rule cell."""

from __future__ import annotations

import numpy as np
from book import BOOK

from grader.homework.recognise import (
    ChainRuleDerivative,
    Evidence,
    GradientShape,
    PReLUDerivative,
    SinDerivative,
    SwishDerivative,
)
from grader.notebook.load import Cell
from grader.notebook.static import parse_cell
from grader.values import ArrayValue

CHAIN = ChainRuleDerivative("2.5-6", section="2.5", title="")
PRELU = PReLUDerivative("5.1-2", section="5.1", title="")
SWISH = SwishDerivative("5.1-3", section="5.1", title="")
SHAPE = GradientShape("5.3-1", section="5.3", title="")

F_CELL = ("x = torch.linspace(0.5, 3, 6, requires_grad=True)\n"
          "f = torch.log(x ** 2) * torch.sin(x) + 1 / x\nf.sum().backward()\n"
          "mine = 2 * torch.sin(x) / x + torch.log(x ** 2) * torch.cos(x) - 1 / x ** 2")
X = np.linspace(0.5, 3, 6)
# d/dx [log(x^2) sin x + x^-1] by hand, term by term
DF = (2 / X) * np.sin(X) + np.log(X * X) * np.cos(X) - X ** -2.0


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def tensor(values, grad=None, requires_grad: bool = False) -> ArrayValue:
    return ArrayValue(np.asarray(values, dtype=np.float32), "torch", "torch.float32", requires_grad,
                      grad=None if grad is None else ArrayValue(np.asarray(grad, dtype=np.float32)))


def ev(values: dict, prose: list | None = None) -> Evidence:
    return Evidence(values, {}, [], [], [], prose=prose or [])


def test_the_books_cells_answer_no_derivative_exercise() -> None:
    for rec, section in ((CHAIN, "2.5"), (PRELU, "5.1"), (SWISH, "5.1")):
        assert rec.find(codes(*BOOK[section])) == [], rec.id
        assert rec.find(codes("\n\n".join(BOOK[section]))) == [], rec.id   # one merged cell neither


def test_chain_rule_by_hand_and_by_autograd() -> None:
    cells = codes(F_CELL)
    [attempt] = CHAIN.find(cells)
    assert attempt.reads[:1] == ("x",) and "mine" in attempt.reads
    assert SinDerivative("2.5-4", section="2.5", title="").find(cells) == []
    x = tensor(X, grad=DF, requires_grad=True)
    m = CHAIN.measure(attempt, ev({"x": x, "mine": tensor(DF)}))
    assert (m.status, m.message) == ("correct", "`mine` (the chain-rule derivative written as code) equals 2 sin(x)/x "
                                                "+ log(x^2) cos(x) - 1/x^2, and so does autograd's `x.grad`, at 6 points "
                                                "(computed here)")
    # autograd alone: right, but the chain rule is not shown, unless the text derives it
    m = CHAIN.measure(attempt, ev({"x": x}))
    assert m.status == "attempted" and m.message.startswith("autograd's `x.grad` is right, but the exercise asks")
    assert CHAIN.measure(attempt, ev({"x": x}, ["f'(x) = 2 sin(x)/x + log(x^2) cos(x) - 1/x^2"])).status == "correct"
    # a gradient accumulated over two backward passes is twice the derivative
    m = CHAIN.measure(attempt, ev({"x": tensor(X, grad=2 * DF, requires_grad=True)}))
    assert m.status == "wrong" and m.message.endswith("zero it first (x.grad.zero_())")
    assert CHAIN.measure(attempt, ev({})).status == "attempted"


def test_prelu_slopes() -> None:
    cells = codes("x = torch.arange(-4.0, 4.0, 0.5, requires_grad=True)\n"
                  "y = torch.prelu(x, torch.tensor([0.1]))\ny.backward(torch.ones_like(x))")
    [attempt] = PRELU.find(cells)
    xs = np.arange(-4.0, 4.0, 0.5)
    slopes = np.where(xs > 0, 1.0, 0.1)   # x = 0 takes the negative side's slope in torch
    m = PRELU.measure(attempt, ev({"x": tensor(xs, grad=slopes, requires_grad=True)}))
    assert (m.status, m.message) == ("correct", "pReLU'(x) = 1 for x > 0 and alpha = 0.1 for x < 0 (16 points, seen "
                                                "on `x.grad`)")
    m = PRELU.measure(attempt, ev({"x": tensor(xs, grad=2 * slopes, requires_grad=True)}))
    assert m.status == "wrong"
    m = PRELU.measure(attempt, ev({"x": tensor(np.arange(1.0, 5.0), grad=np.ones(4), requires_grad=True)}))
    assert (m.status, m.message) == ("attempted", "`x` needs negative and positive values to show pReLU's two slopes")


def test_swish_with_beta_fitted() -> None:
    cells = codes("x = torch.linspace(-5, 5, 41, requires_grad=True)\nbeta = 2.0\n"
                  "y = x * torch.sigmoid(beta * x)\ny.sum().backward()")
    [attempt] = SWISH.find(cells)
    xs = np.linspace(-5, 5, 41)
    s = 1 / (1 + np.exp(-2 * xs))
    m = SWISH.measure(attempt, ev({"x": tensor(xs, grad=s + 2 * xs * s * (1 - s), requires_grad=True)}))
    assert m.status == "correct" and m.message.startswith("swish'(x) = s + beta x s (1 - s) with s = sigmoid(beta x), "
                                                          "beta = 2 (fitted here)")
    # the gradient of sigmoid alone is no Swish derivative
    m = SWISH.measure(attempt, ev({"x": tensor(xs, grad=s * (1 - s), requires_grad=True)}))
    assert m.status == "wrong"


def test_gradient_of_a_scalar_with_respect_to_a_matrix() -> None:
    [attempt] = SHAPE.find(codes("X = torch.randn(3, 5, requires_grad=True)\n(X ** 2).sum().backward()\nX.grad.shape"))
    m = SHAPE.measure(attempt, ev({"X": tensor(np.ones((3, 5)), grad=2 * np.ones((3, 5)), requires_grad=True)}))
    assert (m.status, m.message) == ("correct", "`X` is 3 x 5 and so is `X.grad`: the gradient of a scalar with "
                                                "respect to a matrix has the matrix's shape")
    m = SHAPE.measure(attempt, ev({"X": tensor(np.ones(4), grad=np.ones(4), requires_grad=True)}))
    assert (m.status, m.message) == ("attempted", "`X` is a vector (4); the exercise asks about an n x m matrix input")
    assert SHAPE.find(codes("X = torch.randn(3, 5)\nX.sum()")) == []   # no gradient taken
