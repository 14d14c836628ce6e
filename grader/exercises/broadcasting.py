"""d2l 2.1, exercise 2: broadcasting with 3-D tensors.

The student writes ``broadcast_shape(shape_a, shape_b)`` by the broadcasting rules in
plain Python (no torch or numpy inside it), raising ``ValueError`` for shapes that do
not broadcast, and builds 3-D tensors ``x3``, ``y3`` of different shapes with
``z3 = x3 + y3``. Graded on fixed example pairs, on hidden random pairs of ranks 0-4
(half compatible, half not) against numpy's rules (the same as torch's), and on the
three tensors.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, all_of, describe, as_array, check_array_close, check_raises, check_returns,
                      check_type, failed, fraction_passed, passed)
from grader.checking.probe import Calls, CallResults, Value
from grader.units.spec import Exercise, Forbidden

EXERCISE = Exercise(
    "broadcasting", section="2.1", title="Broadcasting with 3-D tensors",
    names=("broadcast_shape", "x3", "y3", "z3"),
    summary="broadcast_shape by the rules (hidden shape pairs, ValueError), 3-D x3 + y3",
    forbidden=[Forbidden(("torch", "numpy"), functions=("broadcast_shape",),
                         tests=("example_pairs", "hidden_compatible", "hidden_incompatible"))],
)

EXAMPLES = [((2, 3, 1), (2, 1, 3)), ((3, 1), (4,)), ((), (2, 2)), ((5, 4), (1,)), ((2, 1, 4), (3, 1)),
            ((2, 3, 2), (3, 2, 3)), ((2, 3, 1), (3, 1, 3)), ((3,), (4,))]


def _pair(rng: np.random.Generator, compatible: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes cut from one random result shape (so they broadcast), then made to clash."""
    low = 0 if compatible else 1
    rank_a, rank_b = (int(r) for r in rng.integers(low, 5, size=2))
    result = [int(n) for n in rng.integers(2, 6, size=max(rank_a, rank_b))]
    a = [n if rng.random() < 0.6 else 1 for n in result[len(result) - rank_a:]]
    b = [n if rng.random() < 0.6 else 1 for n in result[len(result) - rank_b:]]
    if not compatible:
        k = int(rng.integers(1, min(rank_a, rank_b) + 1))
        size = int(rng.integers(2, 6))
        a[-k], b[-k] = size, size + int(rng.integers(1, 3))
    return tuple(a), tuple(b)


def expected_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape, or None when the shapes do not broadcast."""
    try:
        return tuple(int(n) for n in np.broadcast_shapes(a, b))
    except ValueError:
        return None


@EXERCISE.probe
def example_calls() -> Calls:
    return Calls("broadcast_shape", EXAMPLES)


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    pairs = [_pair(rng, compatible=i % 2 == 0) for i in range(24)]
    pairs.append(((), ()))
    return Calls("broadcast_shape", pairs)


@EXERCISE.probe
def x3() -> Value:
    return Value("x3")


@EXERCISE.probe
def y3() -> Value:
    return Value("y3")


@EXERCISE.probe
def z3() -> Value:
    return Value("z3")


def _as_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    arr = as_array(value) if not isinstance(value, bool) else None
    return int(arr) if arr is not None and arr.ndim == 0 and arr.dtype.kind in "iu" else None


def _as_shape(value: object) -> tuple[int, ...] | None:
    """A tuple of ints (torch.Size arrives as a tuple); None for anything else."""
    if not isinstance(value, tuple):
        return None
    items = [_as_int(v) for v in value]
    return None if any(i is None for i in items) else tuple(items)  # type: ignore[arg-type]


def check_call(a: tuple[int, ...], b: tuple[int, ...], outcome: object) -> Check:
    """One call of broadcast_shape against the rules."""
    call = f"broadcast_shape({a}, {b})"
    want = expected_shape(a, b)
    if want is None:
        return check_raises(call, "ValueError", outcome)
    returned = check_returns(call, outcome)
    if not returned.passed:
        return returned
    got = _as_shape(outcome)
    if got is None:
        return failed(f"{call} should return a tuple of ints, but returned {describe(outcome)}")
    if got != want:
        return failed(f"{call} returned {got}", f"expected {want}")
    return passed(f"{call} = {want}")


def _calls(results: CallResults, wanted: bool | None) -> list[Check]:
    return [check_call(*args.args, outcome) for args, outcome in results
            if wanted is None or (expected_shape(*args.args) is not None) == wanted]


@EXERCISE.test(points=2)
def example_pairs(example_calls: CallResults) -> Check:
    """broadcast_shape on the example pairs of the exercise text"""
    return fraction_passed(_calls(example_calls, None), "example shape pairs")


@EXERCISE.test(points=3, hidden=True)
def hidden_compatible(hidden_calls: CallResults) -> Check:
    """broadcast_shape on hidden pairs that broadcast (ranks 0-4)"""
    return fraction_passed(_calls(hidden_calls, True), "hidden compatible pairs")


@EXERCISE.test(points=2, hidden=True)
def hidden_incompatible(hidden_calls: CallResults) -> Check:
    """broadcast_shape raises ValueError on hidden pairs that do not broadcast"""
    return fraction_passed(_calls(hidden_calls, False), "hidden incompatible pairs")


@EXERCISE.test(points=2)
def three_d_tensors(x3: object, y3: object, z3: object) -> Check:
    """x3 and y3 are 3-D tensors of different shapes and z3 = x3 + y3"""
    kinds = all_of(check_type("x3", "tensor", x3), check_type("y3", "tensor", y3), check_type("z3", "tensor", z3))
    if not kinds.passed:
        return kinds
    a, b = x3.array, y3.array  # type: ignore[attr-defined]
    if a.ndim != 3 or b.ndim != 3:
        return failed(f"x3 and y3 should both be 3-D, but they have {a.ndim} and {b.ndim} dimensions")
    if a.shape == b.shape:
        return failed(f"x3 and y3 both have shape {a.shape}: give them different shapes so that they broadcast")
    want = expected_shape(a.shape, b.shape)
    if want is None:
        return failed(f"x3 {a.shape} and y3 {b.shape} do not broadcast, so z3 = x3 + y3 cannot exist")
    return check_array_close("z3", np.asarray(a, float) + np.asarray(b, float), z3, rtol=1e-5, atol=1e-6)
