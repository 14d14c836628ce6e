"""d2l 5.2: a one-hidden-layer MLP on Fashion-MNIST, with the concise API.

The student writes ``build_mlp(num_hidden=256)`` and ``train_mlp(model, X, y, epochs=10,
lr=0.1, batch_size=256)``. The grader builds a model with the student's function and
trains it in the kernel on a secret, relabelled subset of the training set, one epoch
per call (so it can follow the learning curve), asking the kernel after each epoch
for the model's outputs on the unlabelled test images. The final model's accuracy is
measured here: rebuilt from its parameters when it is a stack of standard layers
(strong evidence), otherwise from the kernel's outputs (weaker, and said so). The test
labels never enter the kernel. The notebook's ``reported_test_accuracy`` is checked
against the accuracy measured here for the notebook's own ``model``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.calibration import Calibration, check_accuracy, curve
from grader.checking.checks import Check, failed, first_missing
from grader.checking.models import KERNEL_LOGITS, Evaluation, evaluate, logits_accuracy
from grader.checking.probe import Steps, call, fashion, glob, logits, ref
from grader.units.spec import Exercise, Forbidden
from grader.values import ArrayValue, Missing, Raised
from grader.exercises._training import (FASHION_CHANCE, LOADING_TRAINED, check_model, check_reported, flat_images,
                        hidden_fashion_steps, missing_or_raised, with_architecture)

BUDGET = {"epochs": 2, "subset": 60000}
METRIC = "test_accuracy"
CROSS_CHECK = 0.005

EXERCISE = Exercise(
    "mlp_fashion_mnist", section="5.2", title="A one-hidden-layer MLP on Fashion-MNIST",
    names=("build_mlp", "train_mlp"),
    summary="test accuracy of the MLP built and trained by the student's functions on hidden relabelled data, "
            "per-epoch curve, vs the reference band; reported accuracy; no loading of trained weights",
    forbidden=[Forbidden(LOADING_TRAINED, functions=("build_mlp", "train_mlp"))],
    limits={"probe_timeout": 180},
    budget=BUDGET,
)


@EXERCISE.probe(hidden=True)
def hidden_training(rng: np.random.Generator) -> Steps:
    steps, perm = hidden_fashion_steps(rng, BUDGET["subset"])
    steps["T"] = fashion("test", "images", flatten=True)
    steps["model"] = call("build_mlp", 256)
    previous = "model"
    for epoch in range(1, BUDGET["epochs"] + 1):
        steps[f"trained_{epoch}"] = call("train_mlp", ref(previous), ref("X"), ref("y"), epochs=1, lr=0.1,
                                         batch_size=256)
        steps[f"logits_{epoch}"] = logits(ref(f"trained_{epoch}"), ref("T"))
        previous = f"trained_{epoch}"
    returns = (previous,) + tuple(f"logits_{e}" for e in range(1, BUDGET["epochs"] + 1))
    return Steps(steps, returns=returns, keep={"permutation": perm})


@EXERCISE.probe
def notebook_model() -> Steps:
    return Steps({"model": glob("model"), "logits": logits(glob("model"), fashion("test", "images", flatten=True)),
                  "reported": glob("reported_test_accuracy")}, returns=("model", "logits", "reported"))


def _evaluation(model: Any, kernel_logits: Any, fashion_test: Any, labels: np.ndarray, who: str) -> Evaluation | Check:
    """The model's accuracy measured here, or the check saying why it cannot be."""
    problem = missing_or_raised(who, model)
    if problem is not None:
        return problem
    kind = check_model(who, model)
    if not kind.passed:
        return kind
    if isinstance(kernel_logits, ArrayValue) and not np.all(np.isfinite(kernel_logits.array)):
        return failed(f"{who}: the model's outputs contain nan or inf: the training diverged")
    try:
        return evaluate(model, flat_images(fashion_test), labels, kernel_logits)
    except ValueError as exc:
        why = f" (its outputs in the kernel: {kernel_logits})" if isinstance(kernel_logits, Raised) else ""
        return failed(f"{who}: {exc}{why}")


def _epoch_curve(hidden_training: dict[str, Any], labels: np.ndarray) -> list[float] | None:
    """Test accuracy after each epoch, from the kernel's outputs (None if any is missing)."""
    points = []
    for epoch in range(1, BUDGET["epochs"] + 1):
        out = hidden_training.get(f"logits_{epoch}")
        if not isinstance(out, ArrayValue):
            return None
        try:
            points.append(logits_accuracy(out.array, labels))
        except ValueError:
            return None
    return points


def _evidence(result: Evaluation) -> str:
    if result.evidence == KERNEL_LOGITS:
        return (f"{KERNEL_LOGITS}: your model is not a plain stack of standard layers, so the grader used the "
                "outputs your kernel computed on the test images, which is weaker evidence than rebuilding it")
    return f"{result.evidence}: {result.architecture}"


@EXERCISE.test(points=7, hidden=True)
def hidden_accuracy(hidden_training: Any, fashion_test: Any, calibration: Calibration | Missing) -> Check:
    """test accuracy of the MLP built and trained by your functions on the grader's data"""
    if (missing := first_missing(fashion_test)) is not None:
        return missing
    last = BUDGET["epochs"]
    labels = hidden_training["permutation"][fashion_test[1]]
    result = _evaluation(hidden_training[f"trained_{last}"], hidden_training[f"logits_{last}"], fashion_test, labels,
                         "train_mlp(build_mlp(256), X, y)")
    if isinstance(result, Check):
        return result
    check = check_accuracy(f"build_mlp(256) trained by train_mlp on {BUDGET['subset']} hidden training images "
                           f"(classes renamed), {last} epochs", result.accuracy, calibration, METRIC,
                           chance=FASHION_CHANCE, evidence=_evidence(result))
    data = dict(check.data, evidence=result.evidence, architecture=result.architecture,
                kernel_accuracy=result.kernel_accuracy)
    message = check.message
    if result.kernel_accuracy is not None and abs(result.kernel_accuracy - result.accuracy) > CROSS_CHECK:
        # rebuilt layers and the kernel's own outputs should agree: say so when they do not
        message += (f"; note: the outputs your kernel computed give {result.kernel_accuracy:.3f}, not what the "
                    "model's layers compute")
    points = _epoch_curve(hidden_training, labels)
    if points is not None:
        epochs = list(range(1, last + 1))
        data["measured"] = dict(data["measured"], **{f"{METRIC}@{e}": round(a, 6) for e, a in zip(epochs, points)})
        data["curves"] = [curve("test accuracy after each epoch (kernel outputs)", epochs, points, calibration,
                                METRIC)]
    model = hidden_training[f"trained_{last}"]
    return with_architecture(Check(check.passed, message, check.detail, check.fraction, data), model, min_hidden=1)


@EXERCISE.test(points=1)
def reported_accuracy(notebook_model: Any, fashion_test: Any, calibration: Calibration | Missing) -> Check:
    """reported_test_accuracy agrees with the accuracy of the notebook's model"""
    if (missing := first_missing(fashion_test)) is not None:
        return missing
    result = _evaluation(notebook_model["model"], notebook_model["logits"], fashion_test, fashion_test[1],
                         "model")
    if isinstance(result, Check):
        return result
    check = check_reported("reported_test_accuracy", notebook_model["reported"], result.accuracy, calibration, METRIC,
                           chance=FASHION_CHANCE, where="on the 10,000 test images with your notebook's `model`")
    return Check(check.passed, check.message, check.detail, check.fraction, dict(check.data, evidence=result.evidence))
