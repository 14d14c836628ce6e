"""mlp_fashion_mnist: rebuilt or kernel-logit evidence, learning curve, and the usual
untrained, wrong-label, forbidden-call and misreporting submissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import find_test
from training_variants import band_points, variant

pytestmark = pytest.mark.kernel
ID = "mlp_fashion_mnist"
ACCURACY = "test accuracy of the MLP built and trained"
REPORTED = "reported_test_accuracy agrees"
REPORT_LINE = "reported_test_accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()"
BUILD_LINE = "    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_hidden), nn.ReLU(), nn.Linear(num_hidden, 10))"


def test_own_forward_is_measured_from_kernel_logits_and_says_so(grade_file: Callable[..., Any],
                                                                tmp_path: Path) -> None:
    own = ("    class MLP(nn.Module):\n"
           "        def __init__(self):\n"
           "            super().__init__()\n"
           "            self.hidden, self.out = nn.Linear(784, num_hidden), nn.Linear(num_hidden, 10)\n"
           "        def forward(self, X):\n"
           "            return self.out(torch.relu(self.hidden(X.reshape(len(X), -1))))\n"
           "    return MLP()")
    result = grade_file(variant(ID, {BUILD_LINE: own}, tmp_path))
    test = find_test(result, ACCURACY)
    assert test.details["evidence"] == "logits from the kernel"
    assert "which is weaker evidence than rebuilding it" in test.message
    assert test.score == band_points(test)
    assert find_test(result, REPORTED).details["evidence"] == "logits from the kernel"


def test_untrained_model_reporting_a_plausible_accuracy(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {"            optimizer.step()": "            pass",
                                     REPORT_LINE: "reported_test_accuracy = 0.86"}, tmp_path))
    test = find_test(result, ACCURACY)
    assert test.details["measured"]["test_accuracy"] < 0.25
    assert test.score == band_points(test) < 0.15 * test.max_score
    reported = find_test(result, REPORTED)
    assert reported.score == 0
    assert "train it before reporting its accuracy (reported 0.860)" in reported.message


def test_wrong_labels_learn_nothing(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {"loss_fn(model(X[batch]), y[batch])":
                                     "loss_fn(model(X[batch]), (y[batch] + 1) % 10)"}, tmp_path))
    test = find_test(result, ACCURACY)
    # every class learnt as its successor: right on no test image
    assert test.details["measured"]["test_accuracy"] < 0.05
    assert test.score == 0
    assert "no better than chance (0.1)" in test.message
    assert find_test(result, REPORTED).score == 0
    assert result.score == 0


def test_loading_saved_weights_is_forbidden(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    path = variant(ID, {"    optimizer = torch.optim.SGD(model.parameters(), lr=lr)":
                        "    if False:\n        model.load_state_dict(torch.load('weights.pt'))\n"
                        "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)"}, tmp_path)
    result = grade_file(path)
    assert result.score == 0
    assert find_test(result, "forbidden calls").message.startswith("uses torch.load (")
    assert find_test(result, ACCURACY).message.startswith("0 points: uses torch.load")


def test_a_wrong_printed_accuracy_costs_the_report_point_only(grade_file: Callable[..., Any],
                                                              tmp_path: Path) -> None:
    # a figure typed in rather than measured
    result = grade_file(variant(ID, {REPORT_LINE: "reported_test_accuracy = 0.97"}, tmp_path))
    assert result.score == 7
    reported = find_test(result, REPORTED)
    assert reported.message.startswith("`reported_test_accuracy` = 0.970, but the grader measures 0.")


def test_a_linear_model_is_no_mlp_and_says_so(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {BUILD_LINE: "    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))"},
                                tmp_path))
    test = find_test(result, ACCURACY)
    assert test.message.startswith("the model is not the network the exercise asks for: it has 0 hidden layer(s), "
                                   "the exercise asks for at least 1")
    assert test.details["architecture_problems"] and test.score <= test.max_score / 2
    assert result.score < result.max_score - 3
