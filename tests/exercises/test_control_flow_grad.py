"""control_flow_grad: the factor of f, hidden vectors and matrices, mean instead of sum, no autograd."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.control_flow_grad import EXAMPLE_A, expected_factor, hidden_inputs

SOLUTION = SOLUTIONS / "control_flow_grad.ipynb"
BODY = "    a = a.detach().clone().requires_grad_(True)\n    f(a).sum().backward()\n    return a.grad"
Grade = Callable[..., object]


def test_expected_factor_follows_the_loop_and_the_branch() -> None:
    # |2a| = 2.7 needs 9 more doublings to pass 1000 (k = 2 * 2**9); the sum of a is negative: x 100
    assert expected_factor(EXAMPLE_A) == 100 * 2.0**10
    assert expected_factor(-EXAMPLE_A) == 2.0**10
    assert expected_factor(np.array([1.0, 1.0], np.float32)) == 2.0**10
    assert expected_factor(10 * EXAMPLE_A) == 100 * 2.0**7    # about log2(10) fewer doublings


def test_hidden_inputs_take_both_branches_and_many_factors() -> None:
    factors = [expected_factor(a) for seed in range(10) for (a,) in hidden_inputs(np.random.default_rng(seed))]
    assert any(np.log2(k) % 1 for k in factors) and any(not np.log2(k) % 1 for k in factors)  # x100 or not
    assert len(set(factors)) > 10


@pytest.mark.kernel
def test_hard_coded_gradient(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {BODY: "    return torch.full_like(a, 102400.0)"}, tmp_path / "hard.ipynb")
    result = grade_file(nb)
    assert find_test(result, "example vector").score == 1
    hidden = find_test(result, "hidden vectors")
    assert hidden.message.startswith("0 of 6 hidden inputs correct; first problem: `grad_f(a of shape")
    assert result.score == 1


@pytest.mark.kernel
def test_mean_instead_of_sum_and_no_autograd(grade_file: Grade, tmp_path: Path) -> None:
    mean = from_solution(SOLUTION, {"f(a).sum().backward()": "f(a).mean().backward()"}, tmp_path / "mean.ipynb")
    result = grade_file(mean)
    assert find_test(result, "hidden vectors").score == 0
    assert "has wrong values" in find_test(result, "example vector").message
    assert result.score == 1     # autograd is used
    ratio = from_solution(SOLUTION, {BODY: "    return f(a) / a"}, tmp_path / "ratio.ipynb")
    result = grade_file(ratio)
    assert find_test(result, "from autograd").message == ("grad_f does not call .backward() or torch.autograd.grad: "
                                                                 "the gradient must come from automatic differentiation")
    assert result.score == 4
