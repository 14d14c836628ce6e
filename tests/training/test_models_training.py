"""The additions to grader/checking/models.py, probe.py and checks.py made for trained-model exercises,
and the rules every training exercise shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from grader.checking.checks import Check, all_of, fraction_passed
from grader.checking.code import not_allowed
from grader.checking.figures import figure_lines
from grader.protocol import RawAnswer
from grader.notebook.load import Cell
from grader.checking.models import (KERNEL_LOGITS, REBUILT, evaluate, layer_classes, linear_forward, logits_accuracy)
from grader.checking.probe import Steps, array, build_request, fashion, read_answer, take
from grader.registry import get_exercise
from grader.engine.runtime import load_namespace
from grader.notebook.static import analyse, uses_in
from grader.values import ArrayValue, ModuleValue, decode

RUNTIME = load_namespace()


def as_value(obj: object) -> object:
    """What the grader receives for ``obj`` after the kernel encoded it."""
    return decode(RUNTIME.encode(obj))


def test_linear_forward_is_x_w_plus_b() -> None:
    W, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -1.0], dtype=np.float32)
    forward = linear_forward(as_value(torch.from_numpy(W)), as_value(torch.from_numpy(b)))
    x = torch.tensor([[1.0, 0.0, 2.0]])
    assert forward(x).tolist() == [[9.0, 10.0]]
    assert forward(x.reshape(1, 1, 3)).tolist() == [[9.0, 10.0]]


def test_linear_forward_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"W of shape \(3, 2\) and b of shape \(3,\) do not make a linear map"):
        linear_forward(as_value(torch.zeros(3, 2)), as_value(torch.zeros(3)))
    with pytest.raises(ValueError, match="must be tensors"):
        linear_forward([[1.0]], as_value(torch.zeros(1)))


def test_logits_accuracy() -> None:
    out = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert logits_accuracy(out, np.array([1, 0, 0, 0])) == 0.75
    with pytest.raises(ValueError, match="expected 3 rows"):
        logits_accuracy(out, np.array([1, 0, 0]))
    with pytest.raises(ValueError, match="nan or inf"):
        logits_accuracy(np.array([[np.nan, 0.0]]), np.array([0]))


def test_layer_classes_depth_first() -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2), nn.Sigmoid()))
    assert layer_classes(as_value(model)) == ["Sequential", "Linear", "Tanh", "Sequential", "Linear", "Sigmoid"]


class Doubler(nn.Module):
    """A model with its own forward: cannot be rebuilt from parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * self.linear(x)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)).astype(np.float32)
    return X, (X[:, 0] > X[:, 1]).astype(np.int64)


def test_evaluate_rebuilds_standard_stacks_and_cross_checks_the_kernel() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    X, y = _data()
    with torch.no_grad():
        truth = float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())
        lying = np.tile([[0.0, 1.0]], (50, 1)).astype(np.float32)
    result = evaluate(as_value(model), X, y, ArrayValue(lying))
    assert (result.accuracy, result.evidence) == (truth, REBUILT)
    assert result.architecture == "Sequential(Linear(2->8), ReLU, Linear(8->2))"
    assert result.kernel_accuracy == float(np.mean(y == 1))


def test_evaluate_falls_back_to_kernel_logits_for_own_forward() -> None:
    torch.manual_seed(0)
    model = Doubler()
    X, y = _data()
    with torch.no_grad():
        out = model(torch.from_numpy(X)).numpy()
    result = evaluate(as_value(model), X, y, ArrayValue(out))
    assert result.evidence == KERNEL_LOGITS
    assert result.accuracy == float((out.argmax(1) == y).mean())
    with pytest.raises(ValueError, match="could not be rebuilt"):
        evaluate(as_value(model), X, y, None)


def test_steps_keep_rides_along_and_never_enters_the_request() -> None:
    perm = np.array([1, 0], dtype=np.int64)
    steps = Steps({"y": take(perm, fashion("train", "labels", [3, 4]))}, returns=("y",), keep={"permutation": perm})
    request = build_request(steps, seed=1)
    assert "permutation" not in str(request)
    node = request["steps"][0][1]
    assert node["kind"] == "call" and node["fn"]["name"] == "__getitem__"
    answer = RawAnswer("ok", {"results": {"y": {"ok": 3}}})
    got = read_answer(steps, answer)
    assert got["y"] == 3 and got["permutation"] is perm
    with pytest.raises(ValueError, match="both returned and kept"):
        Steps({"y": take(perm, fashion("train", "labels"))}, returns=("y",), keep={"y": perm})


def test_take_indexes_in_the_kernel_runtime() -> None:
    perm = np.array([2, 0, 1], dtype=np.int64)
    node = take(perm, array(np.array([0, 2, 2, 1])))
    assert RUNTIME._eval(node, {}).tolist() == [2, 1, 1, 0]


def test_figure_lines_take_legend_labels_by_position() -> None:
    fig = {"axes": [{"legend": ["relu", "sigmoid"], "lines": [
        {"label": "_child0", "x": [0, 1], "y": [1, 0]},
        {"label": "mine", "x": [0, 1], "y": [2, 1]}]}]}
    assert [line["label"] for line in figure_lines([fig])] == ["relu", "mine"]


def test_check_data_survives_all_of_and_fraction_passed() -> None:
    a = Check(True, "a", data={"measured": {"x": 1.0}, "curves": [{"label": "a"}]})
    b = Check(False, "b", data={"measured": {"y": 2.0}, "curves": [{"label": "b"}], "evidence": "e"})
    for combined in (all_of(a, b), fraction_passed([a, b], "parts")):
        assert combined.data["measured"] == {"x": 1.0, "y": 2.0}
        assert [c["label"] for c in combined.data["curves"]] == ["a", "b"]
        assert combined.data["evidence"] == "e"
    assert all_of(a, b).message == "b"
    assert isinstance(as_value(nn.Linear(1, 1)), ModuleValue)


def test_a_chain_of_failed_steps_names_the_first_error() -> None:
    env = {"model": RUNTIME._Raised(NotImplementedError("your solution here"))}
    with pytest.raises(RuntimeError) as first:
        RUNTIME._eval({"kind": "ref", "name": "model"}, env)
    assert str(first.value) == "step 'model' failed earlier: NotImplementedError: your solution here"
    env["trained"] = RUNTIME._Raised(first.value)
    with pytest.raises(RuntimeError) as second:
        RUNTIME._eval({"kind": "ref", "name": "trained"}, env)
    assert str(second.value) == "step 'trained' failed earlier: NotImplementedError: your solution here"


def test_missing_or_raised_explains_chains_and_undefined_names() -> None:
    from grader.exercises._training import missing_or_raised
    from grader.values import Missing, Raised

    chained = missing_or_raised("train_mlp(build_mlp(256), X, y)", Raised(
        "RuntimeError", "step 'model' failed earlier: NotImplementedError: your solution here"))
    assert chained is not None and chained.message == (
        "`train_mlp(build_mlp(256), X, y)` failed: an earlier call raised NotImplementedError "
        "(the exercise is not done yet)")
    undefined = missing_or_raised("model", Raised("NameError", "name 'model' is not defined in the notebook"))
    assert undefined is not None
    assert undefined.message == "`model` is not defined: the notebook must define it at the top level"
    assert missing_or_raised("W", Missing("timed out")).message == "timed out"  # type: ignore[union-attr]
    assert missing_or_raised("W", 1.0) is None


def test_check_model_hints_at_a_missing_return() -> None:
    from grader.exercises._training import check_model

    assert check_model("train_mlp(m, X, y)", None).message == (
        "`train_mlp(m, X, y)` returned None: the function must return the trained model")
    assert not check_model("train_mlp(m, X, y)", 3).passed
    assert check_model("train_mlp(m, X, y)", as_value(nn.Linear(1, 1))).passed


@pytest.mark.parametrize("exercise_id, function", [("softmax_fashion_mnist", "train_softmax"),
                                                   ("mlp_fashion_mnist", "train_mlp"),
                                                   ("activation_comparison", "train_classifier")])
def test_loading_trained_weights_is_forbidden_in_every_training_exercise(exercise_id: str, function: str) -> None:
    source = (f"import torch, safetensors.torch\ndef restore(path):\n    return safetensors.torch.load_file(path)\n"
              f"def {function}(*args, **kwargs):\n    state = torch.load('weights.pt')\n    return restore('w.st')")
    codes = analyse([Cell(index=0, kind="code", source=source)])
    (rule,) = get_exercise(exercise_id).forbidden
    check = not_allowed(uses_in(codes, roots=rule.functions), rule.rules)
    assert not check.passed
    assert "torch.load" in check.message and "safetensors.torch.load_file" in check.message


def test_architecture_is_read_from_the_layers_applied() -> None:
    from grader.checking.models import layer_sequence, stack_problems
    from grader.exercises._training import with_architecture

    linear = as_value(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    no_relu = as_value(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Dropout(), nn.Linear(64, 10), nn.Softmax(1)))
    mlp = as_value(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)))
    assert [str(x) for x in layer_sequence(mlp)] == ["Flatten", "Linear(784, 64)", "ReLU", "Linear(64, 10)"]
    assert layer_sequence(as_value(Doubler())) is None  # its own forward: the order is unknown
    assert stack_problems(layer_sequence(mlp), min_hidden=1) == []
    assert stack_problems(layer_sequence(linear), min_hidden=1) == [
        "it has 0 hidden layer(s), the exercise asks for at least 1: add a Linear layer (and its activation) "
        "before the output layer"]
    assert stack_problems(layer_sequence(no_relu), min_hidden=1) == [
        "no nonlinearity between Linear(784, 64) and Linear(64, 10): two linear layers in a row are one linear map, "
        "so the hidden layer adds nothing",
        "it ends in Softmax: return the logits (the cross-entropy loss applies the softmax itself)"]
    tanh = as_value(nn.Sequential(nn.Linear(2, 10), nn.Tanh(), nn.Linear(10, 10), nn.Tanh(), nn.Linear(10, 2)))
    assert stack_problems(layer_sequence(tanh), min_hidden=2, activation="Sigmoid") == [
        "the activation after Linear(2, 10) is Tanh, the exercise asks for Sigmoid",
        "the activation after Linear(10, 10) is Tanh, the exercise asks for Sigmoid"]
    full = Check(True, "accuracy 0.84", fraction=1.0)
    judged = with_architecture(full, linear, min_hidden=1)
    assert (judged.passed, judged.credit) == (False, 0.5)
    assert judged.message.startswith("the model is not the network the exercise asks for: it has 0 hidden layer(s)")
    assert judged.message.endswith("(your model: Sequential(Flatten, Linear(784, 10))); so at most half of the "
                                   "accuracy points. accuracy 0.84")
    assert with_architecture(full, mlp, min_hidden=1).credit == 1.0
