"""d2l 3.4, exercise 2: play Georg Ohm and learn a resistance with autograd.

The student writes ``fit_resistance(current, voltage, lr=..., epochs=...,
return_history=False)``: gradient descent on the mean squared error of V = R I, with
autograd, returning R (and, with ``return_history=True``, the loss of every epoch).
Graded against the least-squares R of hidden noisy data (within 1 %); the loss history
must decrease and be the student's own: never below the smallest loss this data allows,
and ending at the loss of the R returned, both recomputed here. Closed-form solvers are
not allowed.
"""

from __future__ import annotations

import numpy as np

from grader.checking.checks import (Check, all_of, as_array, check_decreasing, check_returns, check_scalar,
                                    check_type, describe, failed, fraction_passed, passed)
from grader.checking.probe import Args, CallResults, Calls
from grader.units.spec import Exercise, Forbidden
from grader.values import ArrayValue

CLOSED_FORMS = ("torch.linalg", "torch.lstsq", "torch.pinverse", "torch.inverse", ".pinverse", ".inverse",
                "numpy.linalg", "numpy.polyfit", "numpy.polynomial", "scipy", "sklearn", "statsmodels")

EXERCISE = Exercise(
    "ohm_fit", section="3.4", title="Ohm's law: learn a resistance with autograd",
    names=("fit_resistance",),
    summary="R by gradient descent within 1 % on hidden data; loss history decreasing and recomputed; no closed forms",
    forbidden=[Forbidden(CLOSED_FORMS, functions=("fit_resistance",))],
)

RTOL = 0.01
# A fitted R this many times off the least-squares value (or not finite) means gradient
# descent ran away: the steps overshoot and grow instead of shrinking.
DIVERGED = 10.0
# The example of the exercise text: R near 4.7 ohm, a little noise.
EXAMPLE_CURRENT = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5], dtype=np.float32)
EXAMPLE_VOLTAGE = np.array([1.197, 2.344, 3.566, 4.7, 5.826, 7.064, 8.225, 9.42, 10.567, 11.762], dtype=np.float32)


def least_squares_r(current: np.ndarray, voltage: np.ndarray) -> float:
    """The R minimising mean((R I - V)^2): sum(I V) / sum(I^2)."""
    i, v = np.asarray(current, float), np.asarray(voltage, float)
    return float(i @ v / (i @ i))


def mse(r: float, current: np.ndarray, voltage: np.ndarray) -> float:
    """mean((R I - V)^2) in float64."""
    i, v = np.asarray(current, float), np.asarray(voltage, float)
    return float(np.mean((r * i - v) ** 2))


def dataset(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """10-80 currents in (0.05, 3) A, R log-uniform in 1-100 ohm, voltage noise 0.5 % of the largest voltage."""
    n = int(rng.integers(10, 81))
    current = np.sort(rng.uniform(0.05, 3.0, n))
    r = float(np.exp(rng.uniform(0.0, np.log(100.0))))
    voltage = r * current + rng.normal(0.0, 0.005 * r * current.max(), n)
    return current.astype(np.float32), voltage.astype(np.float32)


@EXERCISE.probe
def example_fit() -> Calls:
    return Calls("fit_resistance", [(EXAMPLE_CURRENT, EXAMPLE_VOLTAGE)])


@EXERCISE.probe(hidden=True)
def hidden_fits(rng: np.random.Generator) -> Calls:
    return Calls("fit_resistance", [dataset(rng) for _ in range(4)])


@EXERCISE.probe(hidden=True)
def hidden_histories(rng: np.random.Generator) -> Calls:
    return Calls("fit_resistance", [Args(dataset(rng), {"return_history": True}) for _ in range(2)])


def check_fit(where: str, current: np.ndarray, voltage: np.ndarray, outcome: object) -> Check:
    """One fit: a number within 1 % of the least-squares R."""
    name = f"fit_resistance({where})"
    returned = check_returns("fit_resistance", outcome)
    if not returned.passed:
        return returned
    if isinstance(outcome, tuple):
        return failed(f"`{name}` returned a tuple: without return_history=True it returns R alone")
    kind = check_type(name, "float", outcome)
    if not kind.passed:
        return kind
    want = least_squares_r(current, voltage)
    check = check_scalar(name, want, outcome, rtol=RTOL, atol=0)
    got = float(as_array(outcome).reshape(-1)[0])  # type: ignore[union-attr]
    if not check.passed and not (abs(got - want) <= DIVERGED * abs(want)):
        check = failed(f"`{name}` = {got:.4g}: gradient descent diverged (the least-squares R is {want:.4g}); "
                       "the learning rate is too large for this data, so each step overshoots further. "
                       "Use a smaller lr, or scale it by the size of the currents", check.detail)
    if isinstance(outcome, ArrayValue):
        note = " (note: it returned a tensor where a float is asked: return R.item())"
        check = Check(check.passed, check.message + note, check.detail, check.fraction, check.data)
    return check


def _history(outcome: object) -> tuple[float, np.ndarray] | Check:
    """(R, losses) from a call with return_history=True, or the check that explains why not."""
    returned = check_returns("fit_resistance", outcome)
    if not returned.passed:
        return returned
    if not (isinstance(outcome, tuple) and len(outcome) == 2):
        return failed(f"with return_history=True, `fit_resistance` should return (R, losses), "
                      f"but it returned {describe(outcome)}")
    r, losses = as_array(outcome[0]), as_array(outcome[1])
    if r is None or r.size != 1:
        return failed(f"with return_history=True, R should be a number, but it is {describe(outcome[0])}")
    if losses is None or losses.ndim != 1 or losses.size < 2:
        return failed(f"the loss history should be a list of at least two numbers, but it is {describe(outcome[1])}")
    return float(r.reshape(-1)[0]), losses.astype(float)


def check_history_own(where: str, current: np.ndarray, voltage: np.ndarray, r: float, losses: np.ndarray) -> Check:
    """The history is this fit's: no loss below the best MSE of the data, and the last one is
    the loss of the R returned (up to the last step's decrease)."""
    best = mse(least_squares_r(current, voltage), current, voltage)
    final = mse(r, current, voltage)
    if not np.all(np.isfinite(losses)):
        return failed(f"the loss history ({where}) contains nan or inf")
    lowest = float(losses.min())
    if lowest < best * (1 - 1e-3):
        return failed(f"the loss history ({where}) goes down to {lowest:.4g}, below the smallest mean squared error "
                      "this data allows: record mean((R * I - V) ** 2), not half of it or another loss",
                      f"smallest possible MSE {best:.6g}")
    last, before = float(losses[-1]), float(losses[-2])
    if last < final * (1 - 1e-3) or last - final > max(before - last, 0.0) + 1e-3 * final:
        return failed(f"the last loss of the history ({where}) is {last:.4g}, but the R you return has mean squared "
                      f"error {final:.4g} on this data: record the loss of each epoch of the fit that returns R",
                      f"R = {r:.6g}, smallest possible MSE {best:.6g}")
    return passed(f"the loss history ({where}) is the fit's own")


def _checks(results: CallResults, check: str) -> list[Check]:
    out = []
    for index, (args, outcome) in enumerate(results):
        current, voltage = args.args
        where = f"hidden data set {index + 1}, {len(current)} points"
        if check == "fit":
            out.append(check_fit(where, current, voltage, outcome))
            continue
        history = _history(outcome)
        if isinstance(history, Check):
            out.append(history)
        else:
            out.append(all_of(check_monotone(where, history[1]),
                              check_history_own(where, current, voltage, *history)))
    return out


def check_monotone(where: str, losses: np.ndarray) -> Check:
    """Gradient descent on this convex loss never goes up (float32 rounding aside)."""
    overall = check_decreasing("losses", [float(x) for x in losses], min_drop=0.5)
    if not overall.passed:
        return failed(f"{overall.message} ({where})")
    rises = np.flatnonzero(np.diff(losses) > 1e-4 * np.abs(losses[1:]) + 1e-12)
    if rises.size:
        k = int(rises[0])
        return failed(f"`losses` ({where}) go up from step {k + 1} to step {k + 2}: {losses[k]:.4g} -> {losses[k + 1]:.4g}; "
                      "is the learning rate too large?")
    return passed(f"{overall.message} ({where}), at every step")


@EXERCISE.test(points=1)
def example(example_fit: CallResults) -> Check:
    """R on the example data of the exercise text (about 4.70 ohm)"""
    return check_fit("example data", EXAMPLE_CURRENT, EXAMPLE_VOLTAGE, example_fit.outcomes[0])


@EXERCISE.test(points=3, hidden=True)
def hidden_resistances(hidden_fits: CallResults) -> Check:
    """R within 1 % of the least-squares value on hidden data"""
    return fraction_passed(_checks(hidden_fits, "fit"), "hidden data sets")


@EXERCISE.test(points=3, hidden=True)
def loss_history(hidden_histories: CallResults) -> Check:
    """the loss history decreases at every step and is the fit's own (recomputed here)"""
    return fraction_passed(_checks(hidden_histories, "history"), "loss histories")


EXERCISE.autograd_test("fit_resistance", title="fit_resistance takes its gradients from autograd")
