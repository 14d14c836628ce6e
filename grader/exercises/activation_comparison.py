"""d2l 5.1: ReLU, sigmoid and tanh compared on a small classification task.

The student writes ``make_model(activation)`` (an MLP for 2-D inputs and 2 classes,
two hidden layers of 10 units, for ``relu``, ``sigmoid`` and ``tanh``) and
``train_classifier(model, X, y, epochs, lr)`` (full-batch Adam on the cross-entropy
loss), and draws one learning curve per activation. The grader makes its own hidden
two-moons data (three training sets and three held-out sets, numpy, no scikit-learn),
trains one model per activation and set through the student's functions with the
grading budget, and measures held-out accuracy here from the returned models (rebuilt
from their parameters, else from the kernel's outputs). At this budget ReLU and tanh
separate the moons almost perfectly while sigmoid, whose gradients are smaller, lags
behind: the lag itself is graded, which also shows that ``make_model`` really uses the
activation it is asked for. The notebook's ``reported_accuracies`` are checked against
the accuracies measured here for the notebook's own ``models`` on its own test split.

Changing the data constants below changes what calibration measured: bump the
exercise version and recalibrate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.calibration import Calibration, check_accuracy, curve
from grader.checking.checks import Check, all_of, failed
from grader.checking.figures import figure_lines
from grader.checking.models import KERNEL_LOGITS, evaluate
from grader.checking.probe import Steps, array, call, glob, logits, ref, take
from grader.units.spec import Exercise, Forbidden
from grader.values import FigureValue, Missing
from grader.exercises._training import (ARCHITECTURE_SHARE, LOADING_TRAINED, check_model, check_reported,
                                        missing_or_raised, with_architecture)

ACTIVATIONS = ("relu", "sigmoid", "tanh")
LAYER = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}  # the torch.nn class each name asks for
SIZES = ("Linear(2, 10)", "Linear(10, 10)", "Linear(10, 2)")
BUDGET = {"epochs": 60, "lr": 0.05}
N_TRAIN, N_TEST, NOISE, REPEATS = 500, 1000, 0.15, 3
CHANCE = 0.5
# Three networks that differ only in their initial weights differ by up to about two
# points of mean held-out accuracy here: a smaller gap is no evidence of a lag.
NO_LAG = 0.02

EXERCISE = Exercise(
    "activation_comparison", section="5.1", title="ReLU, sigmoid and tanh on two moons",
    names=("make_model", "train_classifier"),
    summary="held-out accuracy per activation on hidden two-moons data trained through the student's functions, "
            "sigmoid's lag, one learning curve per activation, reported accuracies",
    forbidden=[Forbidden(LOADING_TRAINED, functions=("make_model", "train_classifier"))],
    limits={"probe_timeout": 120},
    budget=BUDGET,
)


def two_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaving half circles (class 0 above, class 1 below),
    with Gaussian noise, centred and scaled to roughly unit spread, in random order."""
    upper = n // 2
    t_upper, t_lower = rng.uniform(0, np.pi, upper), rng.uniform(0, np.pi, n - upper)
    X = np.concatenate([np.stack([np.cos(t_upper), np.sin(t_upper)], 1),
                        np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], 1)])
    y = np.concatenate([np.zeros(upper), np.ones(n - upper)]).astype(np.int64)
    X = (X + rng.normal(0, noise, X.shape) - [0.5, 0.25]) / [0.87, 0.5]
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order]


@EXERCISE.probe(hidden=True)
def hidden_training(rng: np.random.Generator) -> Steps:
    steps: dict[str, Any] = {}
    held_out = []
    for r in range(REPEATS):
        X, y = two_moons(N_TRAIN, NOISE, rng)
        T, labels = two_moons(N_TEST, NOISE, rng)
        steps.update({f"X{r}": array(X), f"y{r}": array(y), f"T{r}": array(T)})
        held_out.append((T, labels))
    for act in ACTIVATIONS:
        for r in range(REPEATS):
            steps[f"model_{act}_{r}"] = call("make_model", act)
            steps[f"trained_{act}_{r}"] = call("train_classifier", ref(f"model_{act}_{r}"), ref(f"X{r}"), ref(f"y{r}"),
                                               BUDGET["epochs"], BUDGET["lr"])
            steps[f"out_{act}_{r}"] = logits(ref(f"trained_{act}_{r}"), ref(f"T{r}"))
    returns = tuple(f"{kind}_{act}_{r}" for act in ACTIVATIONS for r in range(REPEATS) for kind in ("trained", "out"))
    return Steps(steps, returns=returns, keep={"held_out": held_out})


@EXERCISE.probe
def notebook_models() -> Steps:
    steps: dict[str, Any] = {"X_test": glob("X_test"), "y_test": glob("y_test"),
                             "reported": glob("reported_accuracies")}
    for act in ACTIVATIONS:
        steps[f"model_{act}"] = take(glob("models"), act)
        steps[f"out_{act}"] = logits(ref(f"model_{act}"), glob("X_test"))
    return Steps(steps, returns=tuple(steps))


def _accuracies(hidden_training: dict[str, Any], act: str) -> tuple[float, str] | Check:
    """Mean held-out accuracy of the ``act`` models over the repeats, and the evidence."""
    values, kinds = [], set()
    for r, (T, labels) in enumerate(hidden_training["held_out"]):
        who = f"train_classifier(make_model({act!r}), X, y, epochs, lr)"
        model = hidden_training[f"trained_{act}_{r}"]
        problem = missing_or_raised(who, model)
        if problem is not None:
            return problem
        kind = check_model(who, model)
        if not kind.passed:
            return kind
        try:
            result = evaluate(model, T, labels, hidden_training[f"out_{act}_{r}"])
        except ValueError as exc:
            return failed(f"{who}: {exc}")
        values.append(result.accuracy)
        kinds.add(result.evidence)
    evidence = KERNEL_LOGITS if KERNEL_LOGITS in kinds else next(iter(kinds))
    return float(np.mean(values)), evidence


def _measured(hidden_training: Any) -> dict[str, tuple[float, str]] | Check:
    out = {}
    for act in ACTIVATIONS:
        got = _accuracies(hidden_training, act)
        if isinstance(got, Check):
            return got
        out[act] = got
    return out


def _activation_test(act: str, hidden_training: Any, calibration: Calibration | Missing) -> Check:
    measured = _accuracies(hidden_training, act)
    if isinstance(measured, Check):
        return measured
    accuracy, evidence = measured
    check = check_accuracy(f"{act} models on {REPEATS} hidden two-moons sets ({BUDGET['epochs']} epochs, "
                           f"lr {BUDGET['lr']:g}), mean held-out", accuracy, calibration, act, chance=CHANCE,
                           evidence=evidence)
    check = with_architecture(check, hidden_training[f"trained_{act}_0"], min_hidden=2, activation=LAYER[act])
    return _sizes(check, act)


def _sizes(check: Check, act: str) -> Check:
    """The layer sizes of the exercise text, 2 -> 10 -> 10 -> 2 (once the layers are right)."""
    sizes = [layer for layer in check.data.get("layers", []) if layer.startswith("Linear")]
    if "architecture_problems" in check.data or not sizes or sizes == list(SIZES):
        return check
    return Check(False, f"make_model({act!r}) has the layers {sizes}, the exercise asks for {list(SIZES)}; so at "
                        f"most half of the accuracy points. {check.message}", check.detail,
                 check.credit * ARCHITECTURE_SHARE, check.data)


@EXERCISE.test(points=2, hidden=True)
def relu_accuracy(hidden_training: Any, calibration: Calibration | Missing) -> Check:
    """held-out accuracy of the ReLU models trained on the grader's data"""
    return _activation_test("relu", hidden_training, calibration)


@EXERCISE.test(points=2, hidden=True)
def tanh_accuracy(hidden_training: Any, calibration: Calibration | Missing) -> Check:
    """held-out accuracy of the tanh models trained on the grader's data"""
    return _activation_test("tanh", hidden_training, calibration)


@EXERCISE.test(points=2, hidden=True)
def sigmoid_accuracy(hidden_training: Any, calibration: Calibration | Missing) -> Check:
    """held-out accuracy of the sigmoid models trained on the grader's data"""
    return _activation_test("sigmoid", hidden_training, calibration)


@EXERCISE.test(points=2, hidden=True)
def sigmoid_lags(hidden_training: Any, calibration: Calibration | Missing) -> Check:
    """at the same budget, sigmoid trails ReLU and tanh as the reference does"""
    measured = _measured(hidden_training)
    if isinstance(measured, Check):
        return measured
    # the mean of ReLU and tanh, not the weaker one: tanh now and then needs a few more
    # epochs on one data set, and that should not look like a missing activation
    gap = (measured["relu"][0] + measured["tanh"][0]) / 2 - measured["sigmoid"][0]
    check = check_accuracy("mean held-out accuracy of ReLU and tanh minus sigmoid's", gap, calibration,
                           "gap", chance=NO_LAG, what="gap")
    if check.credit > 0:
        return check
    return Check(False, f"{check.message}. Sigmoid should trail: does make_model use the activation it is given?",
                 check.detail, 0.0, check.data)


def _curves(figures: list[FigureValue]) -> dict[str, dict[str, Any]]:
    """The first plotted line whose label names each activation."""
    found: dict[str, dict[str, Any]] = {}
    for line in figure_lines(figures):
        label = line["label"].lower()
        for act in ACTIVATIONS:
            if act in label and act not in found and np.isfinite(line["y"]).sum() >= 10:
                found[act] = line
    return found


@EXERCISE.test(points=2)
def comparison_figure(figures: list[FigureValue]) -> Check:
    """the figure shows one learning curve per activation, labelled"""
    found = _curves(figures)
    missing = [act for act in ACTIVATIONS if act not in found]
    if not figure_lines(figures):
        return failed("no line plot found in the exercise's cells: plot one learning curve per activation")
    if missing:
        labels = sorted({line["label"] for line in figure_lines(figures)})
        return failed(f"no curve of at least 10 points labelled {', '.join(missing)} (labels found: {labels}); "
                      "give each curve its activation's name with label=... or a legend")
    curves = [curve(f"{act} (your figure)", found[act]["x"], found[act]["y"]) for act in ACTIVATIONS]
    return Check(True, "the figure shows a learning curve for relu, sigmoid and tanh", data={"curves": curves})


@EXERCISE.test(points=1)
def reported_accuracies(notebook_models: Any, calibration: Calibration | Missing) -> Check:
    """reported_accuracies agree with the accuracies of the notebook's models"""
    for name in ("X_test", "y_test", "reported"):
        problem = missing_or_raised("reported_accuracies" if name == "reported" else name, notebook_models[name])
        if problem is not None:
            return problem
    reported = notebook_models["reported"]
    if not isinstance(reported, dict) or set(reported) != set(ACTIVATIONS):
        return failed(f"`reported_accuracies` should be a dict with the keys {list(ACTIVATIONS)}")
    checks = []
    for act in ACTIVATIONS:
        try:
            T, labels = np.asarray(notebook_models["X_test"].array), np.asarray(notebook_models["y_test"].array)
            result = evaluate(notebook_models[f"model_{act}"], T, labels.reshape(-1), notebook_models[f"out_{act}"])
        except (AttributeError, ValueError) as exc:
            return failed(f"the accuracy of `models[{act!r}]` on your `X_test`, `y_test` cannot be measured: {exc}")
        checks.append(check_reported(f"reported_accuracies[{act!r}]", reported[act], result.accuracy, calibration, act,
                                     chance=CHANCE, where=f"for `models[{act!r}]` on your `X_test`, `y_test`"))
    return all_of(*checks)
