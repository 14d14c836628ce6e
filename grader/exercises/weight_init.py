"""d2l 3.4, exercise 1: start the weights at zero, or with variance 1000 instead of 0.01.

The student writes ``init_params(num_inputs, scheme)`` for the schemes ``default``
(normal, std 0.01), ``zero`` and ``large`` (normal, variance 1000, so std about 31.6),
and ``train(X, y, w, b, lr, epochs, batch_size)``, minibatch SGD from scratch with
autograd that updates ``w`` and ``b`` in place and returns the whole-data MSE after each
epoch. Graded on the sample statistics of large hidden initialisations, and on hidden
synthetic data: trained from zero (which works for linear regression), and from a large
start the grader draws (which starts far higher and is still worse after the same
epochs); every returned loss history is recomputed here from the parameters read back.
The written answer (zero init in an MLP) is collected for the teaching staff.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.checking.checks import (Check, as_array, check_hidden_calls, check_raises, check_returns,
                                    describe, failed, fraction_passed, passed)
from grader.checking.probe import CallResults, Calls, Steps, array, call, ref
from grader.units.spec import Exercise, Forbidden
from grader.values import ArrayValue

TRAIN_TESTS = ("zero_init_works", "large_init_worse", "losses_own", "train_uses_autograd")
STD = {"default": 0.01, "zero": 0.0, "large": math.sqrt(1000)}
STD_RTOL = 0.05       # sample std of >= 20000 draws is within 1.5 % with overwhelming odds
RUNS = {"zero": 3, "large": 3, "long": 10}   # run name -> epochs (lr 0.03, batch 32, as in the book)
TRAIN_KW = {"lr": 0.03, "batch_size": 32}
NOISE = 0.01

EXERCISE = Exercise(
    "weight_init", section="3.4", title="Zero or large initial weights in linear regression",
    names=("init_params", "train"),
    summary="init statistics per scheme (std 0.01 / 0 / sqrt(1000)); hidden data: zero init learns, "
            "large init worse after 3 epochs; losses recomputed; written answer collected",
    forbidden=[Forbidden(("torch.optim", "torch.nn", "d2l"), functions=("train",), tests=TRAIN_TESTS)],
)


# -- hidden data -------------------------------------------------------------------------------


def synthetic(rng: np.random.Generator) -> dict[str, Any]:
    """1000 examples of y = X w + b + noise (std 0.01) with 2-5 features; and a large
    start w0 ~ N(0, 1000) far enough from w (|w0 - w|^2 >= 100 (|w|^2 + b^2)) that the
    comparison with a zero start is meaningful."""
    d = int(rng.integers(2, 6))
    X = rng.normal(0, 1, (1000, d))
    w, b = rng.uniform(-4, 4, (d, 1)), float(rng.uniform(-5, 5))
    y = X @ w + b + rng.normal(0, NOISE, (1000, 1))
    while True:
        w0 = rng.normal(0, STD["large"], (d, 1))
        if np.sum((w0 - w) ** 2) >= 100 * (np.sum(w**2) + b**2):
            break
    return {"X": X.astype(np.float32), "y": y.astype(np.float32), "w": w, "b": b,
            "starts": {"zero": np.zeros((d, 1)), "large": w0, "long": np.zeros((d, 1))}}


def training_steps(data: dict[str, Any]) -> Steps:
    """Three runs of the student's train on the same data, from parameters the grader makes;
    the data and the true parameters are kept grader-side as ``data``."""
    steps: dict[str, dict[str, Any]] = {"X": array(data["X"]), "y": array(data["y"])}
    for run, epochs in RUNS.items():
        steps[f"w_{run}"] = array(data["starts"][run], dtype="float32", requires_grad=True)
        steps[f"b_{run}"] = array(np.zeros(1), dtype="float32", requires_grad=True)
        steps[f"losses_{run}"] = call("train", ref("X"), ref("y"), ref(f"w_{run}"), ref(f"b_{run}"),
                                      epochs=epochs, **TRAIN_KW)
    returns = tuple(f"{kind}_{run}" for run in RUNS for kind in ("w", "b", "losses"))
    return Steps(steps, returns=returns, keep={"data": data})


@EXERCISE.probe(hidden=True)
def hidden_init(rng: np.random.Generator) -> Calls:
    n = int(rng.integers(20000, 40001))
    return Calls("init_params", [(n, scheme) for scheme in STD])


@EXERCISE.probe
def unknown_scheme() -> Calls:
    return Calls("init_params", [(3, "ones")])


@EXERCISE.probe(hidden=True)
def hidden_training(rng: np.random.Generator) -> Steps:
    return training_steps(synthetic(rng))


# -- initial statistics ------------------------------------------------------------------------


def _tensor_problem(name: str, value: Any, shape: tuple[int, ...]) -> str:
    """What is wrong with a parameter tensor, or '' (shape, float32, requires_grad, leaf)."""
    if not (isinstance(value, ArrayValue) and value.framework == "torch"):
        return f"`{name}` should be a tensor, but it is {describe(value)}"
    if value.shape != shape:
        return f"`{name}` has shape {value.shape}, expected {shape}"
    if value.dtype != "torch.float32":
        return f"`{name}` has dtype {value.dtype}, expected torch.float32"
    if not value.requires_grad or not value.is_leaf:
        return f"`{name}` should be a leaf tensor with requires_grad=True, so that autograd fills its .grad"
    return ""


def check_init(n: int, scheme: str, outcome: Any) -> Check:
    """init_params(n, scheme): shapes and flags, b zero, w's sample mean and std."""
    name = f"init_params({n}, {scheme!r})"
    returned = check_returns(name, outcome)
    if not returned.passed:
        return returned
    if not (isinstance(outcome, tuple) and len(outcome) == 2):
        return failed(f"`{name}` should return a pair (w, b), but it returned {describe(outcome)}")
    w, b = outcome
    problem = _tensor_problem(f"w of {name}", w, (n, 1)) or _tensor_problem(f"b of {name}", b, (1,))
    if problem:
        return failed(problem)
    if np.any(b.array != 0):
        return failed(f"b of `{name}` should start at zero in every scheme, but it is {float(b.array[0]):.4g}")
    values = w.array.astype(np.float64).ravel()
    want = STD[scheme]
    if want == 0:
        return passed(f"`{name}` is all zeros") if not np.any(values) else \
            failed(f"w of `{name}` should be all zeros, but {int(np.count_nonzero(values))} entries are not")
    std, mean = float(values.std()), float(values.mean())
    if abs(std - 1000) < 0.2 * 1000 and scheme == "large":
        return failed(f"w of `{name}` has standard deviation {std:.4g}: that is variance {std**2:.3g}. The exercise "
                      f"asks for variance 1000, i.e. standard deviation sqrt(1000) = {want:.4g} "
                      "(torch.normal takes the standard deviation)")
    if abs(std - want) > STD_RTOL * want:
        return failed(f"w of `{name}` has standard deviation {std:.4g}, expected {want:.4g} "
                      f"(variance {want**2:.4g}); allowed {STD_RTOL:.0%}")
    if abs(mean) > 5 * want / math.sqrt(n):
        return failed(f"w of `{name}` has mean {mean:.4g}, expected about 0 (normal with mean 0)")
    return passed(f"`{name}`: std {std:.4g}, mean {mean:.2g}")


# -- training ----------------------------------------------------------------------------------


def mse(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray | float) -> float:
    """Mean of (X w + b - y)^2 over the whole data set, in float64."""
    residual = X.astype(np.float64) @ np.asarray(w, np.float64).reshape(-1, 1) + np.asarray(b, np.float64) - y
    return float(np.mean(residual**2))


def _run(results: dict[str, Any], run: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | Check:
    """(w, b, losses) of one run, or the check that says why they are unusable."""
    losses = results[f"losses_{run}"]
    returned = check_returns("train", losses)
    if not returned.passed:
        return returned
    history = as_array(losses)
    epochs = RUNS[run]
    if history is None or history.ndim != 1 or history.size != epochs:
        return failed(f"`train(..., epochs={epochs})` should return a list of {epochs} losses (one per epoch), "
                      f"but it returned {describe(losses)}")
    w, b = results[f"w_{run}"], results[f"b_{run}"]
    if not (isinstance(w, ArrayValue) and isinstance(b, ArrayValue)):
        return failed("the grader could not read w and b back after train")
    return w.array.astype(np.float64), b.array.astype(np.float64), history.astype(np.float64)


def check_own(run: str, data: dict[str, Any], results: Any) -> Check:
    """One run: w and b changed in place, and the last loss is the MSE of the final w, b."""
    got = _run(results, run)
    if isinstance(got, Check):
        return got
    w, b, losses = got
    where = f"the {run} run ({RUNS[run]} epochs)"
    if np.array_equal(w, data["starts"][run].astype(np.float32)) and not np.any(b):
        return failed(f"in {where}, w and b are unchanged after train: update them in place "
                      "(w -= lr * w.grad under torch.no_grad()), do not rebind new tensors")
    if not np.all(np.isfinite(losses)):
        return failed(f"in {where}, the losses contain nan or inf")
    final = mse(data["X"], data["y"], w, b)
    if abs(losses[-1] - final) > 1e-2 * final + 1e-7:
        half = " (it is half of it: return the plain mean, without the 1/2)" \
            if abs(losses[-1] - final / 2) <= 1e-2 * final else ""
        return failed(f"in {where}, the last loss {losses[-1]:.4g} is not the mean squared error of the final "
                      f"w and b on the whole data set, {final:.4g}{half}: compute it after each epoch, on all of X")
    return passed(f"the losses of {where} are its own")


@EXERCISE.test(points=3, hidden=True)
def initial_statistics(hidden_init: CallResults) -> Check:
    """init_params: shapes, requires_grad, b zero, and w's std per scheme (0.01, 0, sqrt(1000))"""
    return check_hidden_calls(hidden_init, check_init, "schemes")


@EXERCISE.test(points=1)
def rejects_unknown_scheme(unknown_scheme: CallResults) -> Check:
    """init_params raises ValueError for an unknown scheme"""
    return check_raises("init_params(3, 'ones')", "ValueError", unknown_scheme.outcomes[0])


@EXERCISE.test(points=2, hidden=True)
def zero_init_works(hidden_training: dict[str, Any]) -> Check:
    """from zero weights, 10 epochs reach the noise level and recover w and b"""
    got = _run(hidden_training, "long")
    if isinstance(got, Check):
        return got
    data = hidden_training["data"]
    w, b, _ = got
    final = mse(data["X"], data["y"], w, b)
    error = max(float(np.max(np.abs(w.ravel() - data["w"].ravel()))), abs(float(b.ravel()[0]) - data["b"]))
    if final > 10 * NOISE**2 or error > 0.02:
        return failed(f"trained from zero for 10 epochs, w and b are still off by up to {error:.3g} "
                      f"(mean squared error {final:.3g}); zero is a fine start for linear regression, so look "
                      "at the updates: each minibatch step should move w and b against their gradients",
                      f"true w {data['w'].ravel().round(4).tolist()}, b {data['b']:.4f}")
    return passed(f"trained from zero, w and b are within {error:.2g} of the truth (MSE {final:.2g})")


@EXERCISE.test(points=2, hidden=True)
def large_init_worse(hidden_training: dict[str, Any]) -> Check:
    """from a large start (variance 1000), the loss starts far higher and is still worse after 3 epochs"""
    zero, large = _run(hidden_training, "zero"), _run(hidden_training, "large")
    for got in (zero, large):
        if isinstance(got, Check):
            return got
    data = hidden_training["data"]
    z, big = zero[2], large[2]  # type: ignore[index]
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(big))):
        return failed("a loss history contains nan or inf")
    if big[0] < 10 * z[0]:
        return failed(f"after the first epoch, the large start's loss ({big[0]:.4g}) should be far above the zero "
                      f"start's ({z[0]:.4g}): the large start is about {math.sqrt(np.sum(data['starts']['large']**2)):.0f} "
                      "away from the answer")
    if big[-1] <= z[-1]:
        return failed(f"after 3 epochs the large start's loss ({big[-1]:.4g}) should still exceed the zero start's "
                      f"({z[-1]:.4g}): each step shrinks the distance to the answer by a fixed factor")
    return passed(f"large start: {big[0]:.3g} -> {big[-1]:.3g}; zero start: {z[0]:.3g} -> {z[-1]:.3g}")


@EXERCISE.test(points=2, hidden=True)
def losses_own(hidden_training: dict[str, Any]) -> Check:
    """train updates w and b in place and its losses are the whole-data MSE after each epoch"""
    data = hidden_training["data"]
    return fraction_passed([check_own(run, data, hidden_training) for run in RUNS], "training runs")


EXERCISE.autograd_test("train", title="train takes its gradients from autograd", name="train_uses_autograd")
