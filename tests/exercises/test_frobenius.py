"""frobenius: the definition on hidden tensors; torch.linalg is not allowed; a forgotten root; hard-coded."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.frobenius import EXAMPLES, expected, hidden_inputs

SOLUTION = SOLUTIONS / "frobenius.ipynb"
BODY = "    if not X.is_floating_point():\n        X = X.to(torch.float32)\n    return torch.sqrt((X * X).sum())"
Grade = Callable[..., object]


def test_expected_values() -> None:
    assert [expected(x) for x in EXAMPLES] == [5.0, pytest.approx(30**0.5)]
    assert expected(np.arange(24).reshape(2, 3, 4)) == pytest.approx(65.7571, abs=1e-4)
    dims = {c[0].ndim for c in hidden_inputs(np.random.default_rng(0))}
    assert dims == {1, 2, 3, 4}


@pytest.mark.kernel
def test_library_norm_is_forbidden(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {BODY: "    return torch.linalg.norm(X.double()).to(X.dtype)"}, tmp_path / "norm.ipynb")
    result = grade_file(nb)
    assert result.score == 0
    assert find_test(result, "hidden tensors").message == \
        "0 points: uses torch.linalg.norm (code cell 1, line 7), which this exercise does not allow"


@pytest.mark.kernel
def test_forgotten_root_and_hard_coded_examples(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {"torch.sqrt((X * X).sum())": "(X * X).sum()"}, tmp_path / "squared.ipynb")
    result = grade_file(nb)
    assert find_test(result, "sqrt(30)").message.startswith(
        "0 of 2 examples correct; first problem: `frobenius_norm(X of shape (5, 5), float32)` is off: got 25")
    assert result.score == 0
    hard = from_solution(SOLUTION, {BODY: "    return torch.tensor(5.0 if X.sum() == 25 else 30 ** 0.5)"},
                         tmp_path / "hard.ipynb")
    result = grade_file(hard)
    assert find_test(result, "sqrt(30)").score == 1
    assert result.score == 1
