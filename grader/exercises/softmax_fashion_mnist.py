"""d2l 4.4: softmax regression from scratch, trained on Fashion-MNIST.

The student writes ``train_softmax(X, y, epochs=10, lr=0.1, batch_size=256)`` returning
``(W, b)`` (784 x 10 and 10) without torch's ready-made layers, losses or optimisers.
The grader calls it in the kernel on a secret subset of the training set whose
classes it has secretly renamed, with the grading budget, takes W and b back as
numbers and measures the accuracy on the 10,000 test images here (test labels never
enter the kernel), against the band of the reference solution (``grade calibrate``).
The notebook also reports the test accuracy of its own model in
``reported_test_accuracy``; the grader checks that figure against its own measurement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.calibration import Calibration, check_accuracy
from grader.checking.checks import Check, check_shape, failed, first_missing
from grader.checking.models import REBUILT, accuracy, linear_forward
from grader.checking.probe import Steps, call, glob, ref
from grader.units.spec import Exercise, Forbidden
from grader.values import ArrayValue, Missing
from grader.exercises._training import (FASHION_CHANCE, LOADING_TRAINED, check_reported, flat_images, hidden_fashion_steps,
                        missing_or_raised)

NOT_FROM_SCRATCH = (
    "torch.nn.Linear", "torch.nn.LazyLinear", "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss",
    "torch.nn.Softmax", "torch.nn.LogSoftmax", "torch.nn.functional.cross_entropy",
    "torch.nn.functional.nll_loss", "torch.nn.functional.softmax", "torch.nn.functional.log_softmax",
    "torch.softmax", "torch.log_softmax", "torch.special.softmax", "torch.special.log_softmax",
    ".softmax", ".log_softmax", "torch.optim", *LOADING_TRAINED,
)
BUDGET = {"epochs": 1, "subset": 60000}
METRIC = "test_accuracy"

EXERCISE = Exercise(
    "softmax_fashion_mnist", section="4.4", title="Softmax regression from scratch on Fashion-MNIST",
    names=("train_softmax",),
    summary="test accuracy of W, b trained by the grader on hidden relabelled data vs the reference band; "
            "reported accuracy; no nn layers, losses or optimisers",
    forbidden=[Forbidden(NOT_FROM_SCRATCH, functions=("train_softmax",))],
    limits={"probe_timeout": 120},
    budget=BUDGET,
)


@EXERCISE.probe(hidden=True)
def hidden_training(rng: np.random.Generator) -> Steps:
    data, perm = hidden_fashion_steps(rng, BUDGET["subset"])
    steps = dict(data, weights=call("train_softmax", ref("X"), ref("y"), epochs=BUDGET["epochs"], lr=0.1,
                                    batch_size=256))
    return Steps(steps, returns=("weights",), keep={"permutation": perm})


@EXERCISE.probe
def notebook_model() -> Steps:
    return Steps({"W": glob("W"), "b": glob("b"), "reported": glob("reported_test_accuracy")},
                 returns=("W", "b", "reported"))


def _weights(value: Any) -> Check | tuple[ArrayValue, ArrayValue]:
    """``(W, b)`` of the right shapes, or the check explaining what is wrong."""
    problem = missing_or_raised("train_softmax", value)
    if problem is not None:
        return problem
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return failed(f"`train_softmax` should return a pair (W, b), but it returned {type(value).__name__}")
    W, b = value
    for name, shape, got in (("W", (784, 10), W), ("b", (10,), b)):
        check = check_shape(name, shape, got)
        if not check.passed:
            return check
        if not np.all(np.isfinite(got.array)):
            return failed(f"`{name}` contains nan or inf: the training diverged")
    return W, b


def _accuracy(W: ArrayValue, b: ArrayValue, fashion_test: Any, labels: np.ndarray) -> float:
    return accuracy(linear_forward(W, b), flat_images(fashion_test), labels)


@EXERCISE.test(points=7, hidden=True)
def hidden_accuracy(hidden_training: Any, fashion_test: Any, calibration: Calibration | Missing) -> Check:
    """test accuracy of W, b trained by train_softmax on the grader's data"""
    if (missing := first_missing(fashion_test)) is not None:
        return missing
    weights = _weights(hidden_training["weights"])
    if isinstance(weights, Check):
        return weights
    perm = hidden_training["permutation"]
    measured = _accuracy(*weights, fashion_test, perm[fashion_test[1]])
    check = check_accuracy(f"train_softmax on {BUDGET['subset']} hidden training images "
                           f"(classes renamed), {BUDGET['epochs']} epoch(s)", measured, calibration, METRIC,
                           chance=FASHION_CHANCE, evidence=f"{REBUILT}: x W + b computed here")
    return Check(check.passed, check.message, check.detail, check.fraction, dict(check.data, evidence=REBUILT))


@EXERCISE.test(points=1)
def reported_accuracy(notebook_model: Any, fashion_test: Any, calibration: Calibration | Missing) -> Check:
    """reported_test_accuracy agrees with the accuracy of the notebook's W, b"""
    if (missing := first_missing(fashion_test)) is not None:
        return missing
    for name in ("W", "b"):
        problem = missing_or_raised(name, notebook_model[name])
        if problem is not None:
            return problem
    weights = _weights((notebook_model["W"], notebook_model["b"]))
    if isinstance(weights, Check):
        return failed(f"the notebook's own W and b: {weights.message}")
    measured = _accuracy(*weights, fashion_test, fashion_test[1])
    return check_reported("reported_test_accuracy", notebook_model["reported"], measured, calibration, METRIC,
                          chance=FASHION_CHANCE, where="on the 10,000 test images with your notebook's W and b")
