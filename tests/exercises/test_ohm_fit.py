"""ohm_fit: the solution, the stub, a hard-coded R, a closed form, a history that is not the fit's."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.ohm_fit import (EXAMPLE_CURRENT, EXAMPLE_VOLTAGE, check_fit, check_history_own, check_monotone,
                                      dataset, least_squares_r, mse)

SOLUTION = SOLUTIONS / "ohm_fit.ipynb"
RECORD = "losses.append(loss.item())"
Grade = Callable[..., object]


def _gradient_descent(current: np.ndarray, voltage: np.ndarray, lr: float, epochs: int) -> tuple[float, np.ndarray]:
    """Plain gradient descent on the MSE, in numpy: what an honest history looks like."""
    i, v = current.astype(float), voltage.astype(float)
    r, losses = 0.0, []
    for _ in range(epochs):
        losses.append(np.mean((r * i - v) ** 2))
        r -= lr * np.mean(2 * (r * i - v) * i)
    return r, np.array(losses)


def test_least_squares_and_mse() -> None:
    assert least_squares_r(EXAMPLE_CURRENT, EXAMPLE_VOLTAGE) == pytest.approx(4.70187, abs=1e-5)
    assert mse(2.0, np.array([1.0, 2.0]), np.array([2.0, 5.0])) == 0.5


def test_histories_honest_and_not() -> None:
    current, voltage = dataset(np.random.default_rng(3))
    r, losses = _gradient_descent(current, voltage, lr=0.05, epochs=60)
    assert check_history_own("d", current, voltage, r, losses).passed
    assert check_monotone("d", losses).passed
    half = check_history_own("d", current, voltage, r, losses / 2)
    assert "below the smallest mean squared error this data allows" in half.message
    total = check_history_own("d", current, voltage, r, losses * len(current))
    assert "but the R you return has mean squared error" in total.message
    made_up = check_history_own("d", current, voltage, r, np.linspace(100, 1, 60))
    assert not made_up.passed
    assert "go up from step 2 to step 3: 5 -> 6; is the learning rate too large?" in check_monotone("d", np.array([9.0, 5.0, 6.0, 1.0])).message


def test_hidden_data_vary_and_stay_in_range() -> None:
    sets = [dataset(np.random.default_rng(seed)) for seed in range(50)]
    assert all(0.05 <= c.min() and c.max() <= 3.0 and 10 <= len(c) <= 80 for c, _ in sets)
    resistances = [least_squares_r(c, v) for c, v in sets]
    assert 1 < min(resistances) < 5 and 40 < max(resistances) < 101


@pytest.mark.kernel
def test_hard_coded_r_earns_only_the_example(grade_file: Grade, tmp_path: Path) -> None:
    start = "    current = torch.as_tensor(current, dtype=torch.float32)"
    nb = from_solution(SOLUTION, {start: "    return (4.70187, [9.0, 1.0]) if return_history else 4.70187\n" + start},
                       tmp_path / "hard_coded.ipynb")
    result = grade_file(nb)
    assert find_test(result, "example data").score == 1
    hidden = find_test(result, "hidden data")
    assert hidden.score == 0
    assert hidden.message.startswith("0 of 4 hidden data sets correct; first problem: `fit_resistance(hidden data set 1")
    history = find_test(result, "fit's own")
    assert history.score == 0
    assert "the last loss of the history (hidden data set 1" in history.message
    assert result.score == 2    # the example, and autograd still in the code


@pytest.mark.kernel
def test_closed_form_is_forbidden(grade_file: Grade, tmp_path: Path) -> None:
    start = "    current = torch.as_tensor(current, dtype=torch.float32)"
    nb = from_solution(SOLUTION, {start: "    import numpy as np\n    slope = np.polyfit(current, voltage, 1)[0]\n" + start},
                       tmp_path / "polyfit.ipynb")
    result = grade_file(nb)
    assert result.score == 0
    assert find_test(result, "hidden data").message.startswith(
        "0 points: uses numpy.polyfit (code cell 1, line 8), which this exercise does not allow")
    assert find_test(result, "forbidden calls").message.startswith("uses numpy.polyfit")


@pytest.mark.kernel
def test_half_mse_history_loses_the_history_points(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {RECORD: "losses.append(loss.item() / 2)"}, tmp_path / "half.ipynb")
    result = grade_file(nb)
    own = find_test(result, "fit's own")
    assert own.score == 0
    assert "below the smallest mean squared error this data allows: record mean((R * I - V) ** 2), not half" \
        in own.message
    assert result.score == 5


def test_a_diverged_fit_and_a_tensor_for_a_float_are_explained() -> None:
    from grader.values import ArrayValue

    far = check_fit("example data", EXAMPLE_CURRENT, EXAMPLE_VOLTAGE, -1.1497e6)
    assert far.message.startswith("`fit_resistance(example data)` = -1.15e+06: gradient descent diverged (the "
                                  "least-squares R is 4.702); the learning rate is too large for this data")
    assert check_fit("d", EXAMPLE_CURRENT, EXAMPLE_VOLTAGE, float("nan")).message.startswith(
        "`fit_resistance(d)` = nan: gradient descent diverged")
    assert check_fit("d", EXAMPLE_CURRENT, EXAMPLE_VOLTAGE, 5.0).message == "`fit_resistance(d)` is off: got 5"
    as_tensor = check_fit("d", EXAMPLE_CURRENT, EXAMPLE_VOLTAGE,
                          ArrayValue(np.asarray(4.7019, dtype=np.float32), framework="torch", dtype="torch.float32"))
    assert as_tensor.passed
    assert as_tensor.message.endswith("(note: it returned a tensor where a float is asked: return R.item())")
