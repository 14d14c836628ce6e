"""d2l 2.5, exercises 5-6: f(x) = log(x^2) sin(x) + 1/x, its derivative by hand and by autograd.

The student writes ``f(x)``, ``df_by_hand(x)`` (the chain and product rules worked out on
paper, no autograd inside) and ``df_autograd(x)`` (autograd only, without calling the
hand-made derivative). All three are graded on hidden inputs (shapes, float32/float64,
x away from 0) against the formula computed here; the dependency graph of f is a written
answer collected for the teaching staff.
"""

from __future__ import annotations

import ast
from functools import partial

import numpy as np

from grader.checking.checks import (Check, all_of, check_array_close, check_dtype, check_example_calls,
                                    check_hidden_calls, check_returns, failed)
from grader.checking.code import check_uses_autograd
from grader.checking.probe import CallResults, Calls
from grader.units.context import UnitContext
from grader.units.spec import Exercise, Forbidden

AUTOGRAD = (".backward", "torch.autograd", "torch.func", "functorch", ".grad", ".requires_grad_", "jax", "sympy")
RTOL = {"float64": 1e-9, "float32": 2e-5}

EXERCISE = Exercise(
    "chain_rule", section="2.5", title="The chain rule by hand and by autograd",
    names=("f", "df_by_hand", "df_autograd"),
    summary="f, f' by hand (no autograd) and f' by autograd on hidden inputs vs the formula",
    forbidden=[Forbidden(AUTOGRAD, functions=("df_by_hand",), tests=("by_hand_example", "by_hand_hidden"))],
)

EXAMPLE_X = np.array([0.5, 1.0, 2.0, 3.0])


def f_value(x: np.ndarray) -> np.ndarray:
    """log(x^2) sin(x) + 1/x in float64."""
    x = np.asarray(x, np.float64)
    return np.log(x**2) * np.sin(x) + 1 / x


def f_prime(x: np.ndarray) -> np.ndarray:
    """2 sin(x)/x + log(x^2) cos(x) - 1/x^2 in float64."""
    x = np.asarray(x, np.float64)
    return 2 * np.sin(x) / x + np.log(x**2) * np.cos(x) - 1 / x**2


def magnitude(x: np.ndarray) -> float:
    """The size of the terms of f and f' (their sum may cancel to nearly 0, their rounding does not)."""
    x = np.asarray(x, np.float64)
    return float(np.max(np.abs(np.log(x**2)) + 2 / np.abs(x) + 1 / x**2))


def hidden_inputs(rng: np.random.Generator) -> list[tuple[np.ndarray]]:
    """|x| in [0.2, 20], both signs; a vector, a matrix (float64) and a float32 vector."""
    def draw(shape: tuple[int, ...]) -> np.ndarray:
        return rng.choice([-1.0, 1.0], size=shape) * np.exp(rng.uniform(np.log(0.2), np.log(20), shape))
    return [(draw((int(rng.integers(20, 100)),)),), (draw((int(rng.integers(2, 6)), int(rng.integers(2, 6)))),),
            (draw((30,)).astype(np.float32),)]


@EXERCISE.probe
def example_calls() -> Calls:
    return Calls("df_by_hand", [(EXAMPLE_X,)])


@EXERCISE.probe(hidden=True)
def hidden_f(rng: np.random.Generator) -> Calls:
    return Calls("f", hidden_inputs(rng))


@EXERCISE.probe(hidden=True)
def hidden_by_hand(rng: np.random.Generator) -> Calls:
    return Calls("df_by_hand", hidden_inputs(rng))


@EXERCISE.probe(hidden=True)
def hidden_autograd(rng: np.random.Generator) -> Calls:
    return Calls("df_autograd", hidden_inputs(rng))


def check_values(function: str, reference: object, x: np.ndarray, outcome: object) -> Check:
    """One call: a tensor of x's shape and dtype equal to reference(x)."""
    name = f"{function}(x of shape {x.shape}, {x.dtype})"
    returned = check_returns(function, outcome, kind="tensor", call=name)
    if not returned.passed:
        return returned
    dtype = str(x.dtype)
    rtol = RTOL[dtype]
    return all_of(check_dtype(name, f"torch.{dtype}", outcome),
                  check_array_close(name, reference(x), outcome, rtol=rtol, atol=rtol * magnitude(x)))  # type: ignore[operator]


@EXERCISE.test(points=1, hidden=True)
def f_hidden(hidden_f: CallResults) -> Check:
    """f on hidden inputs"""
    return check_hidden_calls(hidden_f, partial(check_values, "f", f_value), "hidden inputs")


@EXERCISE.test(points=1)
def by_hand_example(example_calls: CallResults) -> Check:
    """df_by_hand at x = 0.5, 1, 2, 3"""
    return check_example_calls(example_calls, partial(check_values, "df_by_hand", f_prime))


@EXERCISE.test(points=3, hidden=True)
def by_hand_hidden(hidden_by_hand: CallResults) -> Check:
    """df_by_hand on hidden inputs (both signs, vector, matrix, float32)"""
    return check_hidden_calls(hidden_by_hand, partial(check_values, "df_by_hand", f_prime), "hidden inputs")


@EXERCISE.test(points=2, hidden=True)
def autograd_hidden(hidden_autograd: CallResults) -> Check:
    """df_autograd on hidden inputs"""
    return check_hidden_calls(hidden_autograd, partial(check_values, "df_autograd", f_prime), "hidden inputs")


def _names_in(context: UnitContext, function: str) -> set[str] | None:
    for code in context.codes:
        node = code.functions.get(function)
        if node is not None:
            return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return None


@EXERCISE.test(points=1)
def autograd_is_autograd(context: UnitContext) -> Check:
    """df_autograd uses autograd and not the hand-made derivative"""
    names = _names_in(context, "df_autograd")
    if names is None:
        return failed("`df_autograd` is not defined")
    if "df_by_hand" in names:
        return failed("df_autograd calls df_by_hand: it must get the derivative from autograd alone")
    return check_uses_autograd("df_autograd", context.codes)
