"""chain_rule: the derivative by hand and by autograd; autograd hidden in the hand-made one; a slip."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.chain_rule import f_prime, f_value, hidden_inputs

SOLUTION = SOLUTIONS / "chain_rule.ipynb"
HAND = "    return 2 * torch.sin(x) / x + torch.log(x**2) * torch.cos(x) - 1 / x**2"
Grade = Callable[..., object]


def test_formula_matches_a_central_difference() -> None:
    x = np.array([-7.0, -0.3, 0.5, 1.0, 2.0, 3.0, 15.0])
    h = 1e-6
    numeric = (f_value(x + h) - f_value(x - h)) / (2 * h)
    assert np.allclose(f_prime(x), numeric, rtol=1e-6, atol=1e-6)


def test_hidden_inputs_avoid_zero_and_vary() -> None:
    calls = hidden_inputs(np.random.default_rng(0))
    assert [c[0].dtype for c in calls] == [np.float64, np.float64, np.float32]
    assert calls[1][0].ndim == 2
    assert all(np.abs(c[0]).min() >= 0.2 for c in calls)
    assert not np.array_equal(calls[0][0], hidden_inputs(np.random.default_rng(1))[0][0])


@pytest.mark.kernel
def test_hard_coded_example(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {HAND: "    return torch.tensor([-1.8131, 0.6829, 1.3360, -0.3700], dtype=x.dtype)"},
                       tmp_path / "hard_coded.ipynb")
    result = grade_file(nb)
    assert find_test(result, "at x = 0.5").score == 0   # 4 decimals are not 1e-9
    assert find_test(result, "df_by_hand on hidden").message.startswith(
        "0 of 3 hidden inputs correct; first problem: `df_by_hand(x of shape")
    assert result.score == 4   # f 1, autograd 2 + 1


@pytest.mark.kernel
def test_autograd_inside_the_hand_made_derivative(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {HAND: "    return df_autograd(x)"}, tmp_path / "sneaky.ipynb")
    result = grade_file(nb)
    message = find_test(result, "df_by_hand on hidden").message
    assert message == "0 points: uses .requires_grad_ (code cell 1, line 22), which this exercise does not allow (and 2 more)"
    assert find_test(result, "at x = 0.5").score == 0
    assert result.score == 4


@pytest.mark.kernel
def test_forgotten_factor_two(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {HAND: HAND.replace("2 * torch.sin(x) / x", "torch.sin(x) / x")},
                       tmp_path / "slip.ipynb")
    result = grade_file(nb)
    example = find_test(result, "at x = 0.5")
    assert example.score == 0
    assert example.message.startswith("`df_by_hand(x of shape (4,), float64)` has wrong values: 4 of 4 elements differ")
    assert "index: got vs expected" in example.message
    assert find_test(result, "df_by_hand on hidden").score == 0
    assert result.score == 4
