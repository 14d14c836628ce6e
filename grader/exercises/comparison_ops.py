"""d2l 2.1, exercise 1: the comparison operators < and > on tensors.

The student computes ``lt = X < Y`` and ``gt = X > Y`` for the book's tensors and writes
``compare(X, Y)`` returning both, elementwise with broadcasting. Graded on the book's
tensors and on hidden pairs (integers from a small range so that ties occur, floats,
broadcasting shapes) against numpy's comparisons; results must be bool tensors.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, all_of, check_array_equal, check_dtype, check_hidden_calls, check_pair,
                                    failed)
from grader.checking.probe import CallResults, Calls, Value
from grader.units.spec import Exercise

EXERCISE = Exercise(
    "comparison_ops", section="2.1", title="Comparison operators on tensors",
    names=("lt", "gt", "compare"),
    summary="X < Y and X > Y on the book's tensors and on hidden pairs (ties, floats, broadcasting)",
)

BOOK_X = np.arange(12, dtype=np.float32).reshape(3, 4)
BOOK_Y = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]], dtype=np.float32)


def hidden_pairs(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Same-shape integer pairs with ties, float pairs, and broadcasting pairs."""
    m, n = (int(k) for k in rng.integers(2, 7, size=2))
    return [
        (rng.integers(0, 4, (m, n)), rng.integers(0, 4, (m, n))),
        (rng.normal(size=(n,)).astype(np.float32), rng.normal(size=(n,)).astype(np.float32)),
        (rng.integers(0, 5, (m, 1)).astype(np.float32), rng.integers(0, 5, (1, n)).astype(np.float32)),
        (rng.integers(-3, 3, (2, m, n)), rng.integers(-3, 3, (n,))),
    ]


@EXERCISE.probe
def lt() -> Value:
    return Value("lt")


@EXERCISE.probe
def gt() -> Value:
    return Value("gt")


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    return Calls("compare", hidden_pairs(rng))


def check_bool(name: str, expected: np.ndarray, value: object, ties: np.ndarray | None = None) -> Check:
    """A bool tensor equal to ``expected``; wrong only where X == Y means <= was used for <."""
    dtype = check_dtype(name, "torch.bool", value)
    if not dtype.passed:
        return dtype
    check = check_array_equal(name, expected, value)
    if check.passed or ties is None or not ties.any():
        return check
    got = np.asarray(value.array, dtype=bool)  # type: ignore[attr-defined]
    wrong = got != expected
    if wrong.shape == ties.shape and np.all(ties[wrong]):
        return failed(f"`{name}` is wrong exactly where X == Y: < and > are strict (use <= and >= for ties)",
                      check.detail)
    return check


def check_compare(x: np.ndarray, y: np.ndarray, outcome: object) -> Check:
    """One call of compare: a pair (X < Y, X > Y)."""
    name = f"compare(X {x.shape}, Y {y.shape})"
    pair = check_pair("compare", outcome, "(X < Y, X > Y)", call=name)
    if not pair.passed:
        return pair
    ties = np.equal(x, y)
    return all_of(check_bool(f"{name}[0]", np.less(x, y), outcome[0], ties),
                  check_bool(f"{name}[1]", np.greater(x, y), outcome[1], ties))


@EXERCISE.test(points=1)
def book_tensors(lt: object, gt: object) -> Check:
    """lt = X < Y and gt = X > Y for the book's X and Y"""
    ties = np.equal(BOOK_X, BOOK_Y)
    return all_of(check_bool("lt", np.less(BOOK_X, BOOK_Y), lt, ties),
                  check_bool("gt", np.greater(BOOK_X, BOOK_Y), gt, ties))


@EXERCISE.test(points=2, hidden=True)
def hidden(hidden_calls: CallResults) -> Check:
    """compare on hidden pairs (ties, floats, broadcasting)"""
    return check_hidden_calls(hidden_calls, check_compare, "hidden pairs")
