"""What the course's own notebooks must show beyond full marks and zero, checked on the
results the layout test already has for the original (tagged) solution and stub, so no
notebook is graded twice. One function per exercise that needs more: ``(solution, stub)``."""

from __future__ import annotations

from typing import Callable

from helpers import find_test

from grader.results import SubmissionResult

Details = Callable[[SubmissionResult, SubmissionResult], None]


def _answers(result: SubmissionResult) -> list[str]:
    return [a["text"] for a in result.units[0].extra["answers"]]


def abalone_missing(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert "NotImplementedError" in find_test(stub, "load_abalone returns").message


def chain_rule(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert "x -> u" in _answers(solution)[0]


def ohm_fit(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert "raised NotImplementedError (the exercise is not done yet)" in find_test(stub, "hidden data").message


def planck_fit(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert "does not call .backward()" in find_test(stub, "gradients from autograd").message


def sin_derivative(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert find_test(solution, "the figure").message == "the figure shows the derivative of sin"


def weight_init(solution: SubmissionResult, stub: SubmissionResult) -> None:
    assert "symmetry" in _answers(solution)[0]
    assert _answers(stub) == ["*Write your answer here.*"]


def softmax_fashion_mnist(solution: SubmissionResult, stub: SubmissionResult) -> None:
    test = find_test(solution, "test accuracy of W, b trained by train_softmax")
    details = test.details
    assert details["evidence"] == "rebuilt from parameters"
    assert "(rebuilt from parameters: x W + b computed here)" in test.message
    assert details["measured"]["test_accuracy"] >= details["reference"]["full_at"]
    assert details["budget"] == {"epochs": 1, "subset": 60000}
    assert set(details["seeds"]) == {"hidden_training"}
    assert "within the reference band" in test.message
    assert "(reference 0.774 ± 0.018 over 10 runs, full marks from 0.719, none at chance (0.1))" in test.message
    assert solution.units[0].extra["budget"] == {"epochs": 1, "subset": 60000}
    assert find_test(solution, "reported_test_accuracy agrees").details["difference"] <= 0.02


def mlp_fashion_mnist(solution: SubmissionResult, stub: SubmissionResult) -> None:
    test = find_test(solution, "test accuracy of the MLP built and trained")
    assert test.details["evidence"] == "rebuilt from parameters"
    assert test.details["architecture"] == "Sequential(Flatten, Linear(784->256), ReLU, Linear(256->10))"
    assert test.details["layers"] == ["Flatten", "Linear(784, 256)", "ReLU", "Linear(256, 10)"]
    assert test.details["kernel_accuracy"] == test.details["measured"]["test_accuracy"]
    assert "(rebuilt from parameters: Sequential(" in test.message
    (curve,) = solution.units[0].extra["curves"]
    assert curve["x"] == [1.0, 2.0]
    assert curve["y"][-1] == test.details["measured"]["test_accuracy"]
    assert len(curve["band_low"]) == len(curve["band_high"]) == 2
    assert all(low < high for low, high in zip(curve["band_low"], curve["band_high"]))


def activation_comparison(solution: SubmissionResult, stub: SubmissionResult) -> None:
    measured = {}
    for act, label in (("relu", "ReLU"), ("tanh", "tanh"), ("sigmoid", "sigmoid")):
        test = find_test(solution, f"held-out accuracy of the {label} models")
        assert test.details["evidence"] == "rebuilt from parameters"
        assert test.details["budget"] == {"epochs": 60, "lr": 0.05}
        assert test.details["measured"][act] >= test.details["reference"]["full_at"]
        measured[act] = test.details["measured"][act]
    assert measured["relu"] - measured["sigmoid"] > 0.05
    curves = solution.units[0].extra["curves"]
    assert [c["label"] for c in curves] == ["relu (your figure)", "sigmoid (your figure)", "tanh (your figure)"]
    assert all(len(c["x"]) == 60 and c["band_low"] is None for c in curves)


DETAILS: dict[str, Details] = {fn.__name__: fn for fn in (
    abalone_missing, chain_rule, ohm_fit, planck_fit, sin_derivative, weight_init, softmax_fashion_mnist,
    mlp_fashion_mnist, activation_comparison)}
