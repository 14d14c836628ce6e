"""weight_init: statistics of the starts, training from them, recomputed losses, the written answer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.weight_init import check_init, check_own, mse, synthetic
from grader.values import ArrayValue

SOLUTION = SOLUTIONS / "weight_init.ipynb"
TRAIN_BODY = "    losses = []\n    for _ in range(epochs):"
Grade = Callable[..., object]


def _param(values: np.ndarray, requires_grad: bool = True) -> ArrayValue:
    return ArrayValue(values.astype(np.float32), "torch", "torch.float32", requires_grad=requires_grad)


def test_check_init_recognises_std_1000_and_other_mistakes() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    b = _param(np.zeros(1))
    good = check_init(n, "large", (_param(rng.normal(0, math.sqrt(1000), (n, 1))), b))
    assert good.passed, good.message
    std_1000 = check_init(n, "large", (_param(rng.normal(0, 1000, (n, 1))), b))
    assert "that is variance" in std_1000.message and "sqrt(1000) = 31.62" in std_1000.message
    small = check_init(n, "default", (_param(rng.normal(0, 0.1, (n, 1))), b))
    assert small.message == ("w of `init_params(20000, 'default')` has standard deviation 0.09971, "
                             "expected 0.01 (variance 0.0001); allowed 5%")
    flat = check_init(n, "zero", (_param(np.zeros(n)), b))
    assert flat.message == f"`w of init_params({n}, 'zero')` has shape ({n},), expected ({n}, 1)"
    frozen = check_init(n, "zero", (_param(np.zeros((n, 1)), requires_grad=False), b))
    assert "requires_grad=True" in frozen.message
    assert check_init(n, "zero", (_param(np.zeros((n, 1))), b)).passed


def test_large_start_is_far_from_the_answer() -> None:
    for seed in range(30):
        data = synthetic(np.random.default_rng(seed))
        w, b, w0 = data["w"], data["b"], data["starts"]["large"]
        assert np.sum((w0 - w) ** 2) >= 100 * (np.sum(w**2) + b**2)
        assert mse(data["X"], data["y"], w, b) < 2e-4   # the noise level, 0.01 ** 2


def test_check_own_explains_half_and_unchanged() -> None:
    data = synthetic(np.random.default_rng(1))
    w = data["w"] + 0.01
    final = mse(data["X"], data["y"], w, np.array([data["b"]]))
    results = {"w_zero": _param(w), "b_zero": _param(np.array([data["b"]])), "losses_zero": [9.0, 1.0, final]}
    assert check_own("zero", data, results).passed
    results["losses_zero"] = [9.0, 1.0, final / 2]
    assert "(it is half of it: return the plain mean, without the 1/2)" in check_own("zero", data, results).message
    unchanged = {"w_zero": _param(np.zeros_like(w)), "b_zero": _param(np.zeros(1)), "losses_zero": [3.0, 2.0, 1.0]}
    assert "w and b are unchanged after train: update them in place" in check_own("zero", data, unchanged).message


@pytest.mark.kernel
def test_made_up_losses_earn_only_the_initialisation(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {TRAIN_BODY: "    return [1.0 / (e + 1) for e in range(epochs)]\n" + TRAIN_BODY},
                       tmp_path / "made_up.ipynb")
    result = grade_file(nb)
    assert find_test(result, "std per scheme").score == 3
    own = find_test(result, "whole-data MSE")
    assert own.score == 0
    assert "w and b are unchanged after train: update them in place" in own.message
    assert find_test(result, "recover w and b").score == 0
    assert find_test(result, "still worse after 3 epochs").score == 0
    assert result.score == 5   # statistics 3, ValueError 1, autograd still in the code 1


@pytest.mark.kernel
def test_std_1000_and_batch_averaged_losses(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {
        "torch.normal(0.0, math.sqrt(1000), (num_inputs, 1))": "torch.normal(0.0, 1000.0, (num_inputs, 1))",
        "            loss.backward()": "            seen.append(float(loss) * 2)\n            loss.backward()",
        "    losses = []\n": "    losses = []\n    seen = []\n",
        "            losses.append(float(((X @ w + b - y) ** 2).mean()))": "            losses.append(sum(seen) / len(seen))\n"
                                                                   "            seen.clear()",
    }, tmp_path / "wrong.ipynb")
    result = grade_file(nb)
    init = find_test(result, "std per scheme")
    assert init.score == 2
    assert "that is variance" in init.message and "sqrt(1000) = 31.62" in init.message
    own = find_test(result, "whole-data MSE")
    assert own.score == 0.6667   # after 10 epochs at the noise level, the batch average is close enough
    assert "is not the mean squared error of the final w and b on the whole data set" in own.message
    assert result.score == 8.6667


@pytest.mark.kernel
def test_torch_optim_zeroes_only_training(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {TRAIN_BODY: "    optimizer = torch.optim.SGD([w, b], lr=lr)\n" + TRAIN_BODY},
                       tmp_path / "optim.ipynb")
    result = grade_file(nb)
    assert find_test(result, "recover w and b").message.startswith(
        "0 points: uses torch.optim.SGD (code cell 2, line 4), which this exercise does not allow")
    assert find_test(result, "std per scheme").score == 3
    assert result.score == 4
