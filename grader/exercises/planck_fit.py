"""d2l 3.4, exercise 3: measure a temperature by fitting Planck's law with autograd.

The student writes ``planck(wavelength_m, temperature_k)``, the spectral radiance of a
black body in SI units with the exact SI constants, and ``fit_temperature(wavelength_m,
radiance)``, which fits T to a measured spectrum by gradient-based optimisation with
autograd (scipy and closed-form least squares are not allowed there). Graded on
``planck`` against values computed here (float64 to 1e-6, float32 to 1e-4, broadcasting
shapes) and on hidden noisy spectra with T in 3000-8000 K (within 1 %).
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, check_dtype, check_returns,
                                    check_scalar, failed, fraction_passed, passed)
from grader.checking.probe import Args, CallResults, Calls
from grader.units.spec import Exercise, Forbidden

# Exact since the 2019 SI redefinition.
H = 6.62607015e-34   # Planck constant, J s
C = 299792458.0      # speed of light, m / s
K = 1.380649e-23     # Boltzmann constant, J / K
WIEN = 2.897771955e-3  # Wien's displacement constant, m K

FITTERS = ("scipy", "sklearn", "lmfit", "numpy.polyfit", "numpy.linalg", "torch.linalg")
FIT_TESTS = ("fit_example", "fit_hidden", "fit_uses_autograd")
RTOL = {"float64": 1e-6, "float32": 1e-4}
FIT_RTOL = 0.01

EXERCISE = Exercise(
    "planck_fit", section="3.4", title="Planck's law: fit a temperature with autograd",
    names=("planck", "fit_temperature"),
    summary="planck vs exact values on hidden wavelengths/temperatures; T of hidden noisy spectra within 1 %",
    forbidden=[Forbidden(FITTERS, functions=("fit_temperature",), tests=FIT_TESTS)],
)


def radiance(wavelength_m: np.ndarray, temperature_k: np.ndarray | float) -> np.ndarray:
    """B(lambda, T) = 2 h c^2 / lambda^5 / (exp(h c / (lambda k T)) - 1), in float64."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    t = np.asarray(temperature_k, dtype=np.float64)
    return 2 * H * C**2 / lam**5 / np.expm1(H * C / (lam * K * t))


def spectrum(rng: np.random.Generator, temperature: float | None = None) -> Args:
    """fit_temperature's arguments for a noisy spectrum, the true T in ``meta``: 40-200
    wavelengths from 100-300 nm up to 1.5-4 um (the peak always inside), evenly spaced or
    not, with Gaussian noise of 0.5-2 % of the peak radiance."""
    t = float(rng.uniform(3000, 8000)) if temperature is None else temperature
    n = int(rng.integers(40, 201))
    low, high = rng.uniform(100e-9, 300e-9), rng.uniform(1.5e-6, 4e-6)
    lam = np.sort(rng.uniform(low, high, n)) if rng.random() < 0.5 else np.linspace(low, high, n)
    clean = radiance(lam, t)
    noisy = clean + rng.normal(0, rng.uniform(0.005, 0.02) * clean.max(), n)
    return Args((lam, noisy), meta={"temperature": t})


# The example of the exercise text: the Sun's surface (5778 K), 100 wavelengths, 2 % noise.
EXAMPLE_T = 5778.0
EXAMPLE_LAMBDA = np.linspace(150e-9, 3000e-9, 100)
EXAMPLE_RADIANCE = radiance(EXAMPLE_LAMBDA, EXAMPLE_T) + np.random.default_rng(1900).normal(
    0, 0.02 * float(radiance(WIEN / EXAMPLE_T, EXAMPLE_T)), 100)
EXAMPLE_PLANCK = (np.array([400e-9, 500e-9, 700e-9, 1e-6]), 5000.0)


def planck_inputs(rng: np.random.Generator) -> list[tuple[object, object]]:
    """Hidden calls of planck: float64 vectors, a broadcasting grid, float32, a 0-d pair."""
    lam = rng.uniform(1e-7, 1e-5, int(rng.integers(20, 200)))
    grid_lam = rng.uniform(2e-7, 5e-6, (int(rng.integers(3, 9)), 1))
    grid_t = rng.uniform(1000, 10000, int(rng.integers(2, 6)))
    return [
        (lam, float(rng.uniform(1000, 10000))),
        (grid_lam, grid_t),
        (rng.uniform(3e-7, 5e-6, 50).astype(np.float32), float(rng.uniform(2000, 9000))),
        (np.array(rng.uniform(3e-7, 3e-6)), np.array(rng.uniform(3000, 8000))),
    ]


@EXERCISE.probe
def example_planck() -> Calls:
    return Calls("planck", [EXAMPLE_PLANCK])


@EXERCISE.probe(hidden=True)
def hidden_planck(rng: np.random.Generator) -> Calls:
    return Calls("planck", planck_inputs(rng))


@EXERCISE.probe
def example_fit() -> Calls:
    return Calls("fit_temperature", [(EXAMPLE_LAMBDA, EXAMPLE_RADIANCE)])


@EXERCISE.probe(hidden=True)
def hidden_fits(rng: np.random.Generator) -> Calls:
    return Calls("fit_temperature", [spectrum(rng) for _ in range(5)])


def check_planck(where: str, lam: np.ndarray, t: object, outcome: object) -> Check:
    """One call of planck: a tensor of the broadcast shape and the input's dtype, with exact values."""
    name = f"planck({where})"
    returned = check_returns("planck", outcome, kind="tensor", call=name)
    if not returned.passed:
        return returned
    dtype = "float32" if np.asarray(lam).dtype == np.float32 else "float64"
    want = radiance(lam, t)
    got = outcome.array  # type: ignore[attr-defined]
    if got.shape != want.shape:
        return failed(f"`{name}` has shape {got.shape}, expected {want.shape} (wavelength and temperature "
                      "broadcast against each other)")
    typed = check_dtype(name, f"torch.{dtype}", outcome)
    if not typed.passed:
        return failed(f"{typed.message}: keep the dtype of the wavelengths")
    rel = np.abs(got.astype(np.float64) - want) / np.abs(want)
    if np.all(rel <= RTOL[dtype]):
        return passed(f"`{name}` matches to {RTOL[dtype]:g}")
    worst = float(np.nanmax(rel)) if np.isfinite(rel).any() else float("inf")
    hint = (" Use the exact SI constants h = 6.62607015e-34, c = 299792458, k = 1.380649e-23."
            if 1e-5 < worst < 5e-3 else "")
    return failed(f"`{name}` has wrong values: relative error up to {worst:.3g} "
                  f"(allowed {RTOL[dtype]:g}).{hint}",
                  f"largest at index {np.unravel_index(int(np.nanargmax(rel)), rel.shape) if rel.size else ()}")


def check_planck_call(lam: np.ndarray, t: object, outcome: object) -> Check:
    """One call of planck, named by its arguments' kinds."""
    lam_a = np.asarray(lam)
    where = f"wavelengths {lam_a.dtype} {lam_a.shape}, temperature " + (
        f"{type(t).__name__}" if np.isscalar(t) else f"tensor {np.asarray(t).shape}")
    return check_planck(where, lam_a, t, outcome)


def check_fit(where: str, temperature: float, outcome: object) -> Check:
    """One fit: a number within 1 % of the temperature."""
    name = f"fit_temperature({where})"
    returned = check_returns("fit_temperature", outcome, kind="float", call=name)
    if not returned.passed:
        return returned
    return check_scalar(name, temperature, outcome, rtol=FIT_RTOL, atol=0)


EXERCISE.call_tests(check_planck_call, example="example_planck", hidden="hidden_planck", points=(1, 3),
                    names=("planck_example", "planck_hidden"), what="hidden calls",
                    titles=("planck at 400 nm - 1 um and 5000 K (the example of the exercise text)",
                            "planck on hidden wavelengths and temperatures (float64, float32, broadcasting)"))


@EXERCISE.test(points=1)
def fit_example(example_fit: CallResults) -> Check:
    """fit_temperature on the example spectrum (5778 K) within 1 %"""
    return check_fit("example spectrum", EXAMPLE_T, example_fit.outcomes[0])


@EXERCISE.test(points=3, hidden=True)
def fit_hidden(hidden_fits: CallResults) -> Check:
    """fit_temperature on hidden noisy spectra (3000-8000 K) within 1 %"""
    checks = [check_fit(f"hidden spectrum {i + 1}, {len(args.args[0])} wavelengths", args.meta["temperature"], outcome)
              for i, (args, outcome) in enumerate(hidden_fits)]
    return fraction_passed(checks, "hidden spectra")


EXERCISE.autograd_test("fit_temperature", title="fit_temperature takes its gradients from autograd",
                       name="fit_uses_autograd")
