"""activation_comparison: per-activation bands, sigmoid's lag, the figure and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import find_test
from training_variants import band_points, variant

pytestmark = pytest.mark.kernel
ID = "activation_comparison"
LAG = "sigmoid trails ReLU and tanh"
FIGURE = "one learning curve per activation"
REPORTED = "reported_accuracies agree"
REPORT_LINE = ("        reported_accuracies[name] = (models[name](X_test).argmax(dim=1) == y_test).float().mean()"
               ".item()")
ACCURACY = {act: f"held-out accuracy of the {label} models" for act, label in
            (("relu", "ReLU"), ("tanh", "tanh"), ("sigmoid", "sigmoid"))}


def test_untrained_models_with_made_up_accuracies_earn_almost_nothing(grade_file: Callable[..., Any],
                                                                      tmp_path: Path) -> None:
    path = variant(ID, {"    for _ in range(epochs):\n        loss = loss_fn(model(X), y)":
                        "    for _ in range(0):\n        loss = loss_fn(model(X), y)",
                        REPORT_LINE: "        reported_accuracies[name] = 0.99"}, tmp_path)
    result = grade_file(path)
    for act, fragment in ACCURACY.items():
        test = find_test(result, fragment)
        # random networks: near chance, a sliver of credit at most by the linear rule
        assert test.details["measured"][act] < 0.75
        assert test.score == band_points(test)
    assert find_test(result, LAG).score == band_points(find_test(result, LAG))
    assert result.score < 0.1 * result.max_score
    assert find_test(result, FIGURE).message.startswith("no line plot found in the exercise's cells")
    assert "train it before reporting its accuracy" in find_test(result, REPORTED).message


def test_flipped_labels_score_only_the_figure(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {"loss = loss_fn(model(X), y)": "loss = loss_fn(model(X), 1 - y)"}, tmp_path))
    for act, fragment in ACCURACY.items():
        test = find_test(result, fragment)
        assert test.details["measured"][act] < 0.2
        assert test.score == 0 and "no better than chance (0.5)" in test.message
    assert find_test(result, LAG).score == 0
    assert find_test(result, FIGURE).score == 2
    assert result.score == 2


def test_ignoring_the_activation_loses_the_lag_and_half_the_accuracy_points(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {"    act = layers[activation]": "    act = nn.ReLU"}, tmp_path))
    lag = find_test(result, LAG)
    assert lag.score == 0
    assert "does make_model use the activation it is given?" in lag.message
    # the rebuilt models show ReLU where sigmoid and tanh were asked for: half of those points
    for act, layer in (("sigmoid", "Sigmoid"), ("tanh", "Tanh")):
        test = find_test(result, ACCURACY[act])
        assert test.score == 1
        assert test.message.startswith("the model is not the network the exercise asks for: the activation after "
                                       f"Linear(2, 10) is ReLU, the exercise asks for {layer}")
    assert find_test(result, ACCURACY["relu"]).score == 2
    assert result.score == 7


def test_torch_hub_is_forbidden(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {"    optimizer = torch.optim.Adam(model.parameters(), lr=lr)":
                                     "    torch.hub.set_dir('.')\n"
                                     "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)"}, tmp_path))
    assert result.score == 0
    assert find_test(result, "forbidden calls").message.startswith("uses torch.hub.set_dir (")


def test_a_made_up_report_costs_one_point(grade_file: Callable[..., Any], tmp_path: Path) -> None:
    result = grade_file(variant(ID, {REPORT_LINE: "        reported_accuracies[name] = 1.0"}, tmp_path))
    assert result.score == 10
    reported = find_test(result, REPORTED)
    assert reported.message.startswith("`reported_accuracies['sigmoid']` = 1.000, but the grader measures 0.")
