"""softmax_fashion_mnist: what the grader measures for correct, untrained, wrong-label,
forbidden-call and misreporting submissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import find_test
from training_variants import band_points, variant

pytestmark = pytest.mark.kernel
ID = "softmax_fashion_mnist"
ACCURACY = "test accuracy of W, b trained by train_softmax"
REPORTED = "reported_test_accuracy agrees"
REPORT_LINE = "reported_test_accuracy = (predictions == y_test).float().mean().item()"


def test_untrained_weights_reporting_a_plausible_accuracy_earn_almost_nothing(grade_file: Callable[..., Any],
                                                                      tmp_path: Path) -> None:
    path = variant(ID, {"    for _ in range(epochs):": "    for _ in range(0):",
                        REPORT_LINE: "reported_test_accuracy = 0.84"}, tmp_path)
    result = grade_file(path)
    accuracy = find_test(result, ACCURACY)
    # random weights land near chance: a sliver of credit at most, by the linear rule
    assert accuracy.details["measured"]["test_accuracy"] < 0.25
    assert accuracy.score == band_points(accuracy) < 0.15 * accuracy.max_score
    assert ("below the reference band" in accuracy.message or "no better than chance" in accuracy.message)
    reported = find_test(result, REPORTED)
    assert reported.score == 0
    assert reported.message.startswith("your notebook's own model reaches only 0.")
    assert "train it before reporting its accuracy (reported 0.840)" in reported.message


def test_training_on_the_notebooks_labels_instead_of_y_scores_only_the_report(grade_file: Callable[..., Any],
                                                                               tmp_path: Path) -> None:
    path = variant(ID, {"softmax(X[batch] @ W + b), y[batch])": "softmax(X[batch] @ W + b), y_train[batch])"},
                   tmp_path)
    result = grade_file(path)
    accuracy = find_test(result, ACCURACY)
    # y_train[batch] pairs the grader's images with unrelated labels: nothing to learn
    assert accuracy.details["measured"]["test_accuracy"] < 0.15
    assert accuracy.score == band_points(accuracy) < 0.1 * accuracy.max_score
    assert "(classes renamed)" in accuracy.message
    assert find_test(result, REPORTED).score == 1


def test_torch_softmax_is_forbidden(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    path = variant(ID, {"    E = torch.exp(O)\n    return E / E.sum(dim=1, keepdim=True)":
                        "    return torch.nn.functional.softmax(O, dim=1)"}, tmp_path)
    result = grade_file(path)
    assert result.score == 0
    gate = find_test(result, "forbidden calls")
    assert gate.message.startswith("uses torch.nn.functional.softmax (")
    assert find_test(result, ACCURACY).message.startswith("0 points: uses torch.nn.functional.softmax")


def test_a_wrong_printed_accuracy_costs_the_report_point_only(grade_file: Callable[..., Any],
                                                              tmp_path: Path) -> None:
    # the evaluation bug of a real submission: dividing a sum of batch means by the example count
    path = variant(ID, {REPORT_LINE: "reported_test_accuracy = (predictions == y_test).float().mean().item() * 40 "
                                     "/ len(y_test)"}, tmp_path)
    result = grade_file(path)
    assert result.score == 7
    reported = find_test(result, REPORTED)
    assert reported.message.startswith("`reported_test_accuracy` = 0.003, but the grader measures 0.")
    assert "check your evaluation code" in reported.message
