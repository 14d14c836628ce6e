"""broadcasting end to end: solution, stub, a hard-coded lookup and torch's own helper."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.broadcasting import expected_shape, hidden_calls

SOLUTION = SOLUTIONS / "broadcasting.ipynb"
START = "    # BEGIN SOLUTION\n    a, b = tuple(shape_a)"
Grade = Callable[..., object]


def _prepend(body: str, path: Path) -> Path:
    """The solution with ``body`` returning before the real code runs."""
    return from_solution(SOLUTION, {START: body + "\n" + START}, path)


def test_expected_shape_follows_torch() -> None:
    pairs = [((2, 3, 1), (2, 1, 3)), ((), (4,)), ((3, 1), (4,)), ((2, 3), (3, 2)), ((0, 1), (1, 5))]
    for a, b in pairs:
        try:
            want: tuple[int, ...] | None = tuple(torch.broadcast_shapes(a, b))
        except RuntimeError:
            want = None
        assert expected_shape(a, b) == want


def test_hidden_pairs_cover_every_rank_and_both_outcomes() -> None:
    calls = hidden_calls(np.random.default_rng(3))
    pairs = calls.inputs
    ranks = {len(shape) for pair in pairs for shape in pair}
    assert ranks == {0, 1, 2, 3, 4}
    outcomes = {expected_shape(*pair) is None for pair in pairs}
    assert outcomes == {True, False}
    assert hidden_calls(np.random.default_rng(4)).inputs != calls.inputs


@pytest.mark.kernel
def test_hard_coded_examples_lose_the_hidden_points(grade_file: Grade, tmp_path: Path) -> None:
    lookup = ("    known = {((2, 3, 1), (2, 1, 3)): (2, 3, 3), ((3, 1), (4,)): (3, 4)}\n"
              "    if (tuple(shape_a), tuple(shape_b)) in known:\n"
              "        return known[(tuple(shape_a), tuple(shape_b))]\n"
              "    raise ValueError('no')")
    result = grade_file(_prepend(lookup, tmp_path / "hard.ipynb"))
    compatible = find_test(result, "hidden pairs that broadcast")
    assert compatible.score == 0
    assert compatible.message.startswith("0 of 13 hidden compatible pairs correct; first problem: ")
    assert find_test(result, "example pairs").score == 1.25   # 5 of 8: the raising ones are right by luck
    assert result.score == 5.25


@pytest.mark.kernel
def test_torch_broadcast_shapes_is_not_allowed(grade_file: Grade, tmp_path: Path) -> None:
    result = grade_file(_prepend("    return tuple(torch.broadcast_shapes(shape_a, shape_b))", tmp_path / "h.ipynb"))
    assert find_test(result, "example pairs").message == \
        "0 points: uses torch.broadcast_shapes (code cell 1, line 6), which this exercise does not allow"
    assert find_test(result, "forbidden calls").status == "failed"
    assert result.score == 2   # only x3, y3, z3, which may use torch
