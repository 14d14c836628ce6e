"""d2l 2.5, exercise: plot sin and its derivative without using that it is cos.

The student writes ``sin_derivative(x)`` with autograd and plots sin(x) and the
derivative in one figure. Graded on an example grid and on hidden inputs (values,
shapes and dtypes the grader picks), compared with cos in the grader's process; on the
figure's line data; and on a rule: no cos in any spelling anywhere in the exercise's
code, and autograd (``.backward`` or ``torch.autograd.grad``) must be used.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import Check, all_of, check_array_close, check_dtype, check_returns
from grader.checking.figures import check_line_matches
from grader.checking.probe import Calls
from grader.units.spec import Exercise, Forbidden
from grader.values import FigureValue

COS_RULES = ("torch.cos", "numpy.cos", "math.cos", "cmath.cos", ".cos", "torch.special", "scipy", "sympy")

EXERCISE = Exercise(
    "sin_derivative", section="2.5", title="Plot sin and its derivative by autograd",
    names=("sin_derivative",),
    summary="sin_derivative by autograd on hidden inputs vs cos; the figure's lines; no cos",
    forbidden=[Forbidden(COS_RULES, functions=("sin_derivative",), cells=True)],
)

EXAMPLE_X = np.linspace(-2 * np.pi, 2 * np.pi, 50, dtype=np.float32)


@EXERCISE.probe
def example_call() -> Calls:
    return Calls("sin_derivative", [(EXAMPLE_X,)])


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    return Calls("sin_derivative", [
        (rng.uniform(-10, 10, size=int(rng.integers(100, 300))).astype(np.float32),),
        (rng.uniform(-4, 4, size=(3, 5)).astype(np.float32),),
        (rng.uniform(-100, 100, size=64),),
        (np.array([0.0, np.pi / 2, np.pi], dtype=np.float32),),
    ])


def check_derivative(x: np.ndarray, outcome: object) -> Check:
    """One call: a tensor of the input's shape and dtype whose values are cos(x)."""
    name = f"sin_derivative(x of shape {x.shape})"
    returned = check_returns("sin_derivative", outcome, kind="tensor", call=name)
    if not returned.passed:
        return returned
    tol = 1e-5 if x.dtype == np.float32 else 1e-10
    return all_of(check_dtype(name, f"torch.{x.dtype}", outcome),
                  check_array_close(name, np.cos(x.astype(np.float64)), outcome, rtol=0, atol=tol))


EXERCISE.call_tests(check_derivative, example="example_call", hidden="hidden_calls", points=(2, 3),
                    names=("example_values", "hidden_values"),
                    titles=("sin_derivative on 50 points of [-2 pi, 2 pi] equals cos",
                            "sin_derivative on hidden inputs (shapes, dtypes) equals cos"))


EXERCISE.autograd_test("sin_derivative", title="sin_derivative computes the gradient with autograd")


@EXERCISE.test(points=2)
def figure(figures: list[FigureValue]) -> Check:
    """the figure shows sin(x) and its derivative"""
    return all_of(check_line_matches("sin(x)", figures, np.sin, atol=1e-4),
                  check_line_matches("the derivative of sin", figures, np.cos, atol=1e-4))
