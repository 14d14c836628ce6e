"""Measuring trained models in the grader's process, printed accuracies, stored outputs
and the rubric: without a kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from book import BOOK
from grader.config import load_options
from grader.notebook.load import Cell, Notebook
from grader.homework.outputs import run_dependent_cells, stored_findings
from grader.homework.rubric import ModelGoal, Rubric, SectionScore, score_exercises, score_models, score_section
from grader.engine.runtime import load_namespace
from grader.notebook.static import parse_cell
from grader.homework.trained import UNTRUSTED, measure_models, printed_accuracies, verified_book_classes
from grader.values import decode_outcome
from grader.homeworks.d2l_ch2_5 import BOOK_FORWARDS

DATA = load_options().data_path
needs_data = pytest.mark.skipif(not (DATA / "fashion-mnist" / "test-images.npy").is_file(), reason="no data store")


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def test_book_classes_are_verified_by_their_code() -> None:
    book = codes(*BOOK["4.4"], *BOOK["5.2"])
    assert verified_book_classes(book, BOOK_FORWARDS) == {"SoftmaxRegressionScratch", "MLPScratch"}
    # a student's own softmax (or any change of forward) means the class cannot be rebuilt
    changed = codes(*BOOK["4.4"], "def softmax(X):\n    return torch.softmax(X, dim=0)", *BOOK["5.2"])
    assert verified_book_classes(changed, BOOK_FORWARDS) == {"MLPScratch"}
    random_forward = codes(*BOOK["5.2"], "@d2l.add_to_class(MLPScratch)\ndef forward(self, X):\n"
                                         "    return torch.rand(X.shape[0], self.num_outputs)")
    assert verified_book_classes(random_forward, BOOK_FORWARDS) == frozenset()


@pytest.mark.parametrize("text, source, values", [
    ("epoch 1, train acc 0.003, test acc 0.003\n", "", [0.003]),
    ("MLPScratch - Final test accuracy: 0.8077\n", "", [0.8077]),
    ("테스트 정확도: 87.5%\n", "", [0.875]),
    ("tensor(0.8564)\n", "model.accuracy(model(X), y)", [0.8564]),
    ("tensor(0.8564)\n", "model(X).sum()", []),
    ("loss 0.45\n", "", []),
])
def test_printed_accuracies(text: str, source: str, values: list[float]) -> None:
    assert printed_accuracies(text, source) == values


def _entries(models: list[torch.nn.Module], **extra: object) -> list:
    runtime = load_namespace()
    out = []
    for i, model in enumerate(models, 1):
        entry = {"id": i, "class": type(model).__name__, "module": model, "shape": [1, 28, 28], "side": 28,
                 "low": 0.0, "high": 1.0, "updated": True, "fits": [], "hparams": {}}
        entry.update(extra)
        out.append(entry)
    return decode_outcome({"ok": runtime.encode(out)})


@needs_data
def test_models_are_measured_here_or_from_kernel_predictions() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    [rebuilt] = measure_models(_entries([net]), 0, {1: 7}, frozenset(), DATA)
    assert (rebuilt.evidence, rebuilt.cell, rebuilt.architecture) == ("rebuilt", 7, "Sequential(Flatten, Linear(784->10))")
    assert 0.0 < rebuilt.accuracy < 0.3  # an untrained linear layer: chance level

    class Own(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(784, 10))

        def forward(self, X):  # type: ignore[no-untyped-def]
            return X.reshape(-1, 784) @ self.w

    labels = np.load(DATA / "fashion-mnist" / "test-labels.npy")
    [weak] = measure_models(_entries([Own()], predictions=torch.from_numpy(labels.astype(np.int32))), 0, {}, frozenset(), DATA)
    # the kernel "predicted" the test labels it holds: untrusted, and a model goal gets nothing from it
    assert (weak.evidence, weak.accuracy) == (UNTRUSTED, 1.0)
    assert UNTRUSTED.startswith("kernel predictions (untrusted")
    assert "its forward is the notebook's own code" in weak.reason
    goal = ModelGoal("4.4", "own model", 3, 0.6, ("Own",))
    entry = dict(weak.to_dict(), section="4.4", cell_label="cell 5")
    [test] = score_models(Rubric(models=(goal,)), [entry])
    assert (test.score, test.message) == (0, f"0/3: Own: measured only from {UNTRUSTED}")


def test_stored_outputs_findings() -> None:
    cells = [Cell(0, "code", "x = torch.arange(12)", stored_count=5),
             Cell(1, "code", "X, y", stored_text="(tensor([1., 2., 4., 8.]), tensor([2, 2, 2, 2]))", stored_count=7),
             Cell(2, "code", "torch.randn(3, 4)", stored_text="tensor([[0.1]])", stored_count=6),
             Cell(3, "code", "np.save('a.npy', data)", stored_text="[[1 2 3]]", stored_count=None)]
    nb = Notebook(Path("x.ipynb"), cells, {}, "", 5)
    parsed = [parse_cell(c) for c in cells]
    assert run_dependent_cells(parsed) == {2}
    findings = stored_findings(nb, parsed, {1: "(tensor([[0, 1, 2, 3]]),)", 2: "tensor([[0.7]])", 3: ""},
                               {0: "ok", 1: "ok", 2: "ok", 3: "ok"})
    assert [(f.cell, f.kind) for f in findings] == [(1, "differs"), (2, "order"), (3, "stale")]


def test_section_points_are_explained() -> None:
    rubric = Rubric()
    facts = SectionScore("2.1", "Data Manipulation", True, "heading and code", True, code_cells=10, ok=8,
                         expected=["cell 9 RuntimeError (2.1-2)"], failed=["cell 12 NameError: name 'q' is not defined"],
                         checkpoints=[{"title": "X.sum() is 66", "status": "passed", "message": ""},
                                      {"title": "a is [3.5]", "status": "failed", "message": "`value` is off"},
                                      {"title": "x", "status": "unmeasurable", "message": "x changed later"}],
                         has_checkpoints=True, discussion_chars=12)
    test = score_section(rubric, facts)
    assert (test.score, test.max_score) == (3.8, 6.0)
    assert test.message.splitlines() == [
        "present 1/1: found by heading and code",
        "book code ran 1.8/2: 9 of 10 code cells ran; raised on purpose: cell 9 RuntimeError (2.1-2); "
        "failed: cell 12 NameError: name 'q' is not defined",
        "checkpoints 1/2: 1 of 2 met; missed: a is [3.5] (`value` is off); "
        "1 not measurable (a merged cell or the notebook's own variant of the code)",
        "discussion 0/1: 12 characters of the student's own text (at least 40 needed)"]
    missing = score_section(rubric, SectionScore("4.1", "Softmax Regression", False, "missing", False))
    assert (missing.score, missing.max_score) == (0.0, 2.0)


def test_exercise_and_model_points() -> None:
    rubric = Rubric(exercises=5, exercise_each=2, attempted_share=0.5,
                    models=(ModelGoal("4.4", "softmax", 3, 0.6, ("SoftmaxRegressionScratch",)),))
    exercises = [{"id": f"e{i}", "title": "t", "status": s, "message": "m"} for i, s in
                 enumerate(["correct", "correct", "wrong", "attempted"])]
    test = score_exercises(rubric, exercises)
    assert (test.score, test.message.splitlines()[-1]) == (5.0, "capped at 5")
    fake = {"section": "4.4", "cls": "SoftmaxRegressionScratch", "trained": False, "accuracy": 0.1, "reason": "",
            "evidence": "rebuilt", "cell": 3}
    [untrained] = score_models(rubric, [fake])
    assert untrained.message == "0/3: SoftmaxRegressionScratch: its parameters never changed: it was not trained"
    [good] = score_models(rubric, [dict(fake, trained=True, accuracy=0.79)])
    assert good.score == 3 and "test accuracy 0.7900 on 10,000 images, rebuilt here" in good.message
