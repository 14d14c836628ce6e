"""Shared pieces of the trained-model exercises (declarative: no I/O, no kernel).

* hidden training data: a secret-seeded subset of the Fashion-MNIST training set whose
  classes are renamed by a secret permutation, so only a function that really learns
  from the labels it is given scores (hard-coded weights, or a function that reads the
  notebook's own ``y_train``, land at chance);
* the honesty check: the accuracy a notebook reports against the accuracy measured
  here for that notebook's own model.

Whether a wrong report costs points: yes, one point per exercise. Reporting the test
accuracy is part of each exercise and a wrong figure is a wrong answer (a printed
0.003 for a model that reaches 0.8 means the evaluation code is broken). The point
also requires the notebook's own model to have learned: at least half-way from chance
to the reference band, since an honest report of an untrained model is no answer.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from grader.checking.calibration import Calibration
from grader.checking.checks import Check, as_array, check_type, describe, failed
from grader.checking.models import layer_sequence, stack_problems
from grader.checking.probe import fashion, take
from grader.values import Missing, ModuleValue, Raised

__all__ = ["FASHION_CHANCE", "REPORT_TOLERANCE", "TRAIN_SIZE", "LOADING_TRAINED", "hidden_subset",
           "hidden_permutation", "hidden_fashion_steps", "check_reported", "check_model", "flat_images",
           "missing_or_raised", "with_architecture", "ARCHITECTURE_SHARE"]

FASHION_CHANCE = 0.1
REPORT_TOLERANCE = 0.02
TRAIN_SIZE = 60_000
# Ways to bring in weights trained elsewhere instead of training them in the graded functions.
LOADING_TRAINED = ("torch.load", "torch.hub", "torch.jit.load", "pickle", "joblib", "sklearn", "requests", "urllib",
                   "safetensors")


def hidden_subset(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` distinct training indices in a secret order."""
    return rng.choice(TRAIN_SIZE, size=min(int(size), TRAIN_SIZE), replace=False).astype(np.int64)


def hidden_permutation(rng: np.random.Generator, classes: int = 10) -> np.ndarray:
    """A secret renaming of the classes that moves every class (no fixed point), so a
    model that ignores the given labels cannot be right on any class."""
    while True:
        perm = rng.permutation(classes)
        if not np.any(perm == np.arange(classes)):
            return perm.astype(np.int64)


def hidden_fashion_steps(rng: np.random.Generator, subset: int) -> tuple[dict[str, Any], np.ndarray]:
    """Steps ``X`` (N x 784 floats) and ``y`` (renamed labels) for a hidden subset, and
    the permutation the test applies to the test labels."""
    idx = hidden_subset(rng, subset)
    perm = hidden_permutation(rng)
    steps = {"X": fashion("train", "images", idx, flatten=True), "y": take(perm, fashion("train", "labels", idx))}
    return steps, perm


def flat_images(fashion_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The test images as N x 784 rows."""
    images, _ = fashion_test
    return images.reshape(len(images), -1)


EARLIER = re.compile(r"^step '[^']*' failed earlier: (\w+): (.*)$", re.S)


def missing_or_raised(name: str, value: Any) -> Check | None:
    """A failed check when ``value`` could not be obtained, else None. A step that failed
    because an earlier one did (``build_mlp`` before ``train_mlp``) names the first error."""
    if isinstance(value, Missing):
        return failed(value.reason)
    if isinstance(value, Raised):
        kind, message, how = value.type, value.message, "raised"
        earlier = EARLIER.match(message) if kind == "RuntimeError" else None
        if earlier:
            kind, message, how = earlier.group(1), earlier.group(2), "failed: an earlier call raised"
        if kind == "NameError":
            return failed(f"`{name}` is not defined: the notebook must define it at the top level", message)
        hint = " (the exercise is not done yet)" if kind == "NotImplementedError" else ""
        return failed(f"`{name}` {how} {kind}{hint}", f"{kind}: {message}" if message else kind)
    return None


def check_model(name: str, value: Any) -> Check:
    """``value`` is a torch module (a forgotten ``return model`` gets its own hint)."""
    if value is None:
        return failed(f"`{name}` returned None: the function must return the trained model")
    return check_type(name, "module", value)


# A model that is not the architecture the exercise asks for keeps at most this share of
# an accuracy test's credit: a linear model on Fashion-MNIST comes close to an MLP's
# accuracy, so accuracy alone cannot tell them apart.
ARCHITECTURE_SHARE = 0.5


def with_architecture(check: Check, model: Any, *, min_hidden: int, activation: str | None = None) -> Check:
    """``check`` (an accuracy test's) with the architecture of ``model`` judged from the
    layers it really applies (rebuilt from its parameters, never from names): when it is
    not a classifier with ``min_hidden`` hidden layers, each followed by a nonlinearity
    (``activation`` if given), ending in logits, the test keeps at most
    :data:`ARCHITECTURE_SHARE` of its credit and says what is missing."""
    layers = layer_sequence(model) if isinstance(model, ModuleValue) else None
    if layers is None:
        return check
    problems = stack_problems(layers, min_hidden=min_hidden, activation=activation)
    data = dict(check.data, layers=[str(layer) for layer in layers])
    if not problems:
        return Check(check.passed, check.message, check.detail, check.fraction, data)
    shown = "Sequential(" + ", ".join(str(layer) for layer in layers) + ")"
    return Check(False, f"the model is not the network the exercise asks for: {'; '.join(problems)} "
                        f"(your model: {shown}); so at most half of the accuracy points. {check.message}",
                 check.detail, check.credit * ARCHITECTURE_SHARE, dict(data, architecture_problems=problems))


def _learned_floor(calibration: Calibration | Missing, metric: str, chance: float) -> float:
    """Half-way from chance to the reference band (chance + 0.2 without a calibration)."""
    if isinstance(calibration, Calibration) and metric in calibration.metrics:
        return (chance + calibration.metrics[metric].low) / 2
    return chance + 0.2


def check_reported(name: str, reported: Any, measured: float, calibration: Calibration | Missing, metric: str, *,
                   chance: float, where: str, tolerance: float = REPORT_TOLERANCE) -> Check:
    """The accuracy the notebook reports in ``name`` agrees with ``measured``, the
    accuracy computed here for the notebook's own model (``where`` says on what)."""
    problem = missing_or_raised(name, reported)
    if problem is not None:
        return problem
    arr = as_array(reported)
    if arr is None or arr.size != 1 or isinstance(reported, bool):
        return failed(f"`{name}` should be a number (a fraction in [0, 1]), but it is {describe(reported)}")
    value = float(arr.reshape(-1)[0])
    data = {"reported": round(value, 6), "measured_here": round(measured, 6),
            "difference": round(abs(value - measured), 6), "tolerance": tolerance}
    floor = _learned_floor(calibration, metric, chance)
    if measured < floor:
        return Check(False, f"your notebook's own model reaches only {measured:.3f} {where} (chance is {chance:g}): "
                            f"train it before reporting its accuracy (reported {value:.3f})", data=data)
    if 1 < value <= 100 and abs(value / 100 - measured) <= tolerance:
        return Check(False, f"`{name}` = {value:g} looks like a percentage: report the accuracy as a fraction "
                            f"({measured:.3f} measured here)", data=data)
    if abs(value - measured) <= tolerance:
        return Check(True, f"`{name}` = {value:.3f} agrees with the grader's measurement {measured:.3f} {where}",
                     data=data)
    return Check(False, f"`{name}` = {value:.3f}, but the grader measures {measured:.3f} {where} "
                        f"(they differ by {abs(value - measured):.3f}, more than {tolerance:g}): "
                        "check your evaluation code, e.g. averaging per-batch accuracies twice or "
                        "evaluating on the training set", data=data)

