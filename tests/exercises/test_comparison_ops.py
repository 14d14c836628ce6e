"""comparison_ops: the book's tensors, hidden pairs with ties and broadcasting, <= for <."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.comparison_ops import check_compare, hidden_pairs
from grader.values import ArrayValue

SOLUTION = SOLUTIONS / "comparison_ops.ipynb"
Grade = Callable[..., object]


def _bools(values: np.ndarray) -> ArrayValue:
    return ArrayValue(values, "torch", "torch.bool")


def test_hidden_pairs_have_ties_and_broadcast() -> None:
    pairs = hidden_pairs(np.random.default_rng(0))
    assert np.equal(*pairs[0]).any()
    assert pairs[2][0].shape != pairs[2][1].shape


def test_check_compare_names_strictness_and_dtype() -> None:
    x, y = np.array([1, 2, 3]), np.array([2, 2, 2])
    assert check_compare(x, y, (_bools(x < y), _bools(x > y))).passed
    loose = check_compare(x, y, (_bools(x <= y), _bools(x > y)))
    assert loose.message.startswith("`compare(X (3,), Y (3,))[0]` is wrong exactly where X == Y: < and > are strict")
    ints = check_compare(x, y, (ArrayValue((x < y).astype(np.int64), "torch", "torch.int64"), _bools(x > y)))
    assert ints.message == "`compare(X (3,), Y (3,))[0]` has dtype torch.int64, expected torch.bool"


@pytest.mark.kernel
def test_hard_coded_book_answer_and_non_strict_compare(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {
        "lt = X < Y": "lt = torch.tensor([[True, False, True, False], [False] * 4, [False] * 4])",
        "gt = X > Y": "gt = torch.tensor([[False] * 4, [True] * 4, [True] * 4])",
        "return X < Y, X > Y": "return X <= Y, X >= Y",
    }, tmp_path / "hard.ipynb")
    result = grade_file(nb)
    assert find_test(result, "book's X and Y").score == 1
    hidden = find_test(result, "hidden pairs")
    assert hidden.score == 0.5    # only the float pair has no ties
    assert "is wrong exactly where X == Y: < and > are strict" in hidden.message
    assert result.score == 1.5
