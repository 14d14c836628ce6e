"""d2l 2.5, exercise 3: the gradient through Python control flow when ``a`` is a vector or a matrix.

The book's ``f(a)`` doubles ``b = 2a`` while its norm is below 1000, then keeps it or
multiplies it by 100 depending on the sign of its sum. With a non-scalar ``a`` the output
is a tensor, so the student writes ``grad_f(a)``, the gradient of ``f(a).sum()`` by
autograd. Graded on hidden vectors and matrices of many scales and both signs (so the
number of doublings and the branch change), against the factor computed here: f is
linear in a, so the gradient is f(a) / a, the same number everywhere.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, check_array_close, check_returns,
                                    check_shape, failed)
from grader.checking.probe import Calls
from grader.units.spec import Exercise

AUTOGRAD = (".backward", "torch.autograd.grad", "torch.autograd.backward", "torch.func.grad")

EXERCISE = Exercise(
    "control_flow_grad", section="2.5", title="Gradients through control flow, vector input",
    names=("f", "grad_f"),
    summary="grad_f by autograd on hidden vectors/matrices (scales, both branches) vs the factor of f",
)

EXAMPLE_A = np.array([0.3, -1.2, 0.5], dtype=np.float32)


def expected_factor(a: np.ndarray) -> float:
    """The constant k with f(a) = k a, replaying the book's loop in float32."""
    b = np.asarray(a, np.float32) * np.float32(2)
    k = 2.0
    while float(np.linalg.norm(b)) < 1000:
        b = b * np.float32(2)
        k *= 2
    return k if float(b.sum()) > 0 else 100 * k


def hidden_inputs(rng: np.random.Generator) -> list[tuple[np.ndarray]]:
    """Vectors and matrices with scales from 1e-3 to 1e2 and a clear sign of the sum."""
    calls = []
    for i in range(6):
        shape = (int(rng.integers(3, 40)),) if i % 2 == 0 else tuple(int(n) for n in rng.integers(2, 7, size=2))
        a = rng.normal(0, 1, shape) + (1.0 if i % 3 else -1.0)  # mean shift: sum well away from 0
        calls.append(((a * 10 ** rng.uniform(-3, 2)).astype(np.float32),))
    return calls


@EXERCISE.probe
def example_call() -> Calls:
    return Calls("grad_f", [(EXAMPLE_A,)])


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    return Calls("grad_f", hidden_inputs(rng))


def check_grad(a: np.ndarray, outcome: object) -> Check:
    """One call: a tensor of a's shape, every entry the factor of f."""
    name = f"grad_f(a of shape {a.shape})"
    returned = check_returns("grad_f", outcome, kind="tensor", call=name)
    if not returned.passed:
        return returned
    factor = expected_factor(a)
    shape = check_shape(name, a.shape, outcome)
    if not shape.passed:
        return failed(f"{shape.message}: the gradient has one entry per entry of a")
    return check_array_close(name, np.full(a.shape, factor), outcome, rtol=1e-6, atol=0)


EXERCISE.call_tests(check_grad, example="example_call", hidden="hidden_calls", points=(1, 3),
                    titles=("grad_f on the example vector",
                            "grad_f on hidden vectors and matrices (scales 1e-3 to 1e2, both branches)"))


EXERCISE.autograd_test("grad_f", title="grad_f takes the gradient from autograd")
