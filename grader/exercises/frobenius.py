"""d2l 2.3: the Frobenius norm from its definition, for tensors of any shape.

The student writes ``frobenius_norm(X)``: the square root of the sum of the squares of all
entries, without the library's norms. Graded on the book's examples and on hidden tensors
of 1 to 4 dimensions, float32, float64 and integer, against values computed here: a 0-d
tensor, in X's dtype (float32 for integer input).
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, all_of, check_dtype, check_hidden_calls, check_returns, check_scalar,
                                    failed)
from grader.checking.probe import CallResults, Calls
from grader.units.spec import Exercise, Forbidden

NORMS = ("torch.norm", "torch.linalg", "torch.nn", ".norm", "numpy.linalg", "scipy", "math.hypot", ".hypot",
         "torch.dist", "torch.cdist", ".dist")
RTOL = {"float64": 1e-9, "float32": 1e-5}

EXERCISE = Exercise(
    "frobenius", section="2.3", title="The Frobenius norm from its definition",
    names=("frobenius_norm",),
    summary="frobenius_norm of hidden tensors (1-4 dims, float32/64, int) without library norms",
    forbidden=[Forbidden(NORMS, functions=("frobenius_norm",))],
)

EXAMPLES = [np.ones((5, 5), dtype=np.float32), np.diag(np.arange(1, 5)).astype(np.float32)]


def expected(x: np.ndarray) -> float:
    """sqrt(sum of squares) in float64."""
    return float(np.sqrt(np.sum(np.asarray(x, np.float64) ** 2)))


def result_dtype(x: np.ndarray) -> str:
    """float tensors keep their dtype; integer tensors give float32."""
    return "float64" if x.dtype == np.float64 else "float32"


def hidden_inputs(rng: np.random.Generator) -> list[tuple[np.ndarray]]:
    """Tensors of 1-4 dimensions with entries of different scales and signs."""
    calls = []
    for i, dtype in enumerate((np.float64, np.float32, np.float64, np.float32, np.int64, np.float64)):
        shape = tuple(int(n) for n in rng.integers(1, 6, size=i % 4 + 1))
        if dtype == np.int64:
            x = rng.integers(-50, 50, size=shape)
        else:
            x = rng.normal(0, 10 ** rng.uniform(-2, 3), size=shape)
        calls.append((x.astype(dtype),))
    return calls


@EXERCISE.probe
def example_calls() -> Calls:
    return Calls("frobenius_norm", [(x,) for x in EXAMPLES])


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    return Calls("frobenius_norm", hidden_inputs(rng))


def check_norm(x: np.ndarray, outcome: object) -> Check:
    """One call: a 0-d tensor of the right dtype equal to the norm."""
    name = f"frobenius_norm(X of shape {x.shape}, {x.dtype})"
    returned = check_returns("frobenius_norm", outcome, kind="tensor", call=name)
    if not returned.passed:
        return returned
    if outcome.shape != ():  # type: ignore[attr-defined]
        return failed(f"`{name}` has shape {outcome.shape}: return a 0-d tensor (one number)")  # type: ignore[attr-defined]
    dtype = result_dtype(x)
    return all_of(check_dtype(name, f"torch.{dtype}", outcome),
                  check_scalar(name, expected(x), outcome, rtol=RTOL[dtype], atol=0))


@EXERCISE.test(points=1)
def examples(example_calls: CallResults) -> Check:
    """the norms of ones(5, 5) (5) and diag(1, 2, 3, 4) (sqrt(30))"""
    return check_hidden_calls(example_calls, check_norm, "examples")


@EXERCISE.test(points=3, hidden=True)
def hidden(hidden_calls: CallResults) -> Check:
    """frobenius_norm on hidden tensors (1-4 dimensions, float32, float64, int64)"""
    return check_hidden_calls(hidden_calls, check_norm, "hidden tensors")
