"""planck_fit: exact radiance values, hidden spectra, a hard-coded T, scipy, rounded constants."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.planck_fit import (EXAMPLE_LAMBDA, EXAMPLE_RADIANCE, EXAMPLE_T, WIEN, check_planck,
                                         planck_inputs, radiance, spectrum)
from grader.values import ArrayValue

SOLUTION = SOLUTIONS / "planck_fit.ipynb"
FIT_START = "    lam = torch.as_tensor(wavelength_m, dtype=torch.float64)\n    target"
Grade = Callable[..., object]


def test_radiance_known_values() -> None:
    assert radiance(np.array([500e-9]), 5000.0)[0] == pytest.approx(1.21071906e13, rel=1e-8)
    grid = radiance(np.full((3, 1), 1e-6), np.array([3000.0, 6000.0]))
    assert grid.shape == (3, 2) and np.all(grid[:, 1] > grid[:, 0])


def test_hidden_spectra_have_their_peak_inside_and_vary() -> None:
    for seed in range(50):
        args = spectrum(np.random.default_rng(seed))
        lam, noisy = args.args
        t = args.meta["temperature"]
        assert 3000 <= t <= 8000 and 40 <= len(lam) <= 200
        assert lam.min() < WIEN / t < lam.max()
    assert spectrum(np.random.default_rng(1)).meta != spectrum(np.random.default_rng(2)).meta
    assert abs(EXAMPLE_LAMBDA[np.argmax(EXAMPLE_RADIANCE)] - WIEN / EXAMPLE_T) < 1e-7


def test_hidden_planck_inputs_stay_finite() -> None:
    for seed in range(20):
        for lam, t in planck_inputs(np.random.default_rng(seed)):
            values = radiance(lam, t)
            assert np.all(np.isfinite(values)) and np.all(values > 0)


def test_check_planck_messages() -> None:
    lam = np.array([400e-9, 1e-6])
    exact = radiance(lam, 5000.0)
    assert check_planck("w", lam, 5000.0, ArrayValue(exact, "torch", "torch.float64")).passed
    rounded = 2 * 6.626e-34 * 3e8**2 / lam**5 / np.expm1(6.626e-34 * 3e8 / (lam * 1.381e-23 * 5000.0))
    check = check_planck("w", lam, 5000.0, ArrayValue(rounded, "torch", "torch.float64"))
    assert check.message.startswith("`planck(w)` has wrong values: relative error up to ")
    assert "Use the exact SI constants h = 6.62607015e-34" in check.message
    as32 = check_planck("w", lam, 5000.0, ArrayValue(exact.astype(np.float32), "torch", "torch.float32"))
    assert as32.message == "`planck(w)` has dtype torch.float32, expected torch.float64: keep the dtype of the wavelengths"
    shape = check_planck("w", lam, 5000.0, ArrayValue(exact[:1], "torch", "torch.float64"))
    assert "has shape (1,), expected (2,)" in shape.message


@pytest.mark.kernel
def test_hard_coded_temperature(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {FIT_START: "    return 5778.0\n" + FIT_START}, tmp_path / "hard_coded.ipynb")
    result = grade_file(nb)
    assert find_test(result, "example spectrum").score == 1
    hidden = find_test(result, "hidden noisy spectra")
    assert hidden.score == 0
    assert hidden.message.startswith("0 of 5 hidden spectra correct; first problem: "
                                     "`fit_temperature(hidden spectrum 1, ")
    assert result.score == 6   # planck 4, the example fit, autograd still in the code


@pytest.mark.kernel
def test_scipy_zeroes_only_the_fit(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {FIT_START: "    from scipy.optimize import curve_fit\n" + FIT_START},
                       tmp_path / "scipy.ipynb")
    result = grade_file(nb)
    assert find_test(result, "hidden noisy spectra").message.startswith(
        "0 points: uses scipy.optimize.curve_fit (code cell 3, line 4), which this exercise does not allow")
    assert find_test(result, "gradients from autograd").score == 0
    assert find_test(result, "planck on hidden").score == 3
    assert result.score == 4


@pytest.mark.kernel
def test_rounded_constants_fail_planck_with_a_hint(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {"C = 299792458.0": "C = 3e8"}, tmp_path / "rounded.ipynb")
    result = grade_file(nb)
    hidden = find_test(result, "planck on hidden")
    assert hidden.score == 0
    assert "Use the exact SI constants" in hidden.message
    assert find_test(result, "hidden noisy spectra").score == 3   # 0.07 % off in T is within 1 %
    assert result.score == 5
