"""sin_derivative end to end: solution, stub, cos in disguise, a figure without the derivative."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

SOLUTION = SOLUTIONS / "sin_derivative.ipynb"
BODY = "    x = x.detach().clone().requires_grad_(True)\n    torch.sin(x).sum().backward()\n    return x.grad"
Grade = Callable[..., object]


@pytest.mark.kernel
def test_cos_is_not_allowed_even_as_a_method(grade_file: Grade, tmp_path: Path) -> None:
    result = grade_file(from_solution(SOLUTION, {BODY: "    return x.cos()"}, tmp_path / "cos.ipynb"))
    assert result.score == 0
    assert find_test(result, "hidden inputs").message.startswith("0 points: uses .cos (code cell 1, line 10)")
    assert find_test(result, "autograd").message == ("sin_derivative does not call .backward() or "
                                                     "torch.autograd.grad: the gradient must come from "
                                                     "automatic differentiation")


@pytest.mark.kernel
def test_figure_without_the_derivative_loses_only_the_figure(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {"plt.plot(x, sin_derivative(x), \"--\", label=\"f'(x) by autograd\")\n": ""},
                       tmp_path / "fig.ipynb")
    result = grade_file(nb)
    figure = find_test(result, "the figure")
    assert figure.score == 0 and "derivative" in figure.message
    assert result.score == 6
