"""Grading homework notebooks in the sandboxed kernel: exact per-section outcomes.

Each test builds a notebook from the book's cells (``book.py``) and our answers
(``answers.py``), reproducing a situation of real submissions, and grades it as the CLI
would. Trainings use the homework's injected budget (one epoch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from answers import PROMPTS, RIGHT, WRONG, cells as answer_cells
from book import CHAPTERS, TITLES, homework_cells, section_cells
from nbfactory import code, md, notebook, write

pytestmark = pytest.mark.kernel
HW = "d2l-ch2-5"
NOTE = "requires_grad 를 켜면 연산이 기록되고 backward 로 기울기를 구한다. Gradients add up."


def _unit(result: Any) -> Any:
    [unit] = result.units
    return unit


def _sections(unit: Any) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in unit.extra["sections"]}


def _points(unit: Any) -> dict[str, float]:
    return {t.name: t.score for t in unit.tests}


def _with_output(cell: nbformat.NotebookNode, text: str, count: int | None) -> nbformat.NotebookNode:
    """A cell as the student's file shows it: a stored result and an execution count."""
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=count)]
    cell.execution_count = count
    return cell


def test_plain_headings_missing_section_wrong_number_merged_cell(tmp_path: Path, grade_file: Any) -> None:
    cells = [md("COSE474 HW1 - chapter 2")]
    cells += section_cells("2.1", style="{id} {title}")                       # plain text, no '#'
    cells += [_with_output(code("X, y"), "(tensor([1., 2., 4., 8.]), tensor([2, 2, 2, 2]))", 40),  # edited after it ran
              _with_output(code("before = 1"), "1", 12)]                                          # run out of order
    cells += section_cells("2.3", style="**{id} {title}**", merged=True)      # bold, the whole section in one cell
    cells += section_cells("2.5", style="#2.5 Data Manipulation", discussion=NOTE)  # wrong title over autograd code
    # 2.2 is missing altogether
    result = grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW)
    unit = _unit(result)
    sections = _sections(unit)
    assert {k: (s["present"], s["how"]) for k, s in sections.items() if k in ("2.1", "2.2", "2.3", "2.5")} == {
        "2.1": (True, "heading and code"), "2.2": (False, "missing"), "2.3": (True, "heading and code"),
        "2.5": (True, "heading and code")}
    assert sections["2.1"]["headings"][0]["text"] == "2.1 Data Manipulation"
    assert sections["2.3"]["ran"]["code_cells"] == 1
    assert sections["2.5"]["headings"][0]["text"] == "#2.5 Data Manipulation"
    assert [c["status"] for c in sections["2.1"]["checkpoints"]] == ["passed"] * 5
    assert [c["status"] for c in sections["2.3"]["checkpoints"]] == ["passed"] * 5
    assert [c["status"] for c in sections["2.5"]["checkpoints"]] == ["passed"] * 5
    assert sections["2.5"]["discussion"]["text"] == NOTE
    assert sections["2.5"]["discussion"]["chars"] == len("".join(NOTE.split())) == 55
    assert sections["2.1"]["stored_outputs"] == [
        {"cell": "cell 27", "kind": "differs", "message": "its stored output differs from what it prints now",
         "stored": "(tensor([1., 2., 4., 8.]), tensor([2, 2, 2, 2]))",   # x, y: the code was X, y when it ran
         "fresh": "(tensor([[ 2.,  3.,  8.,  9.],\n         [ 9., 12., 15., 18.],\n         [20., 21., 22., 23.]]),\n"
                  " tensor([2, 2, 2, 2]))"},
        {"cell": "cell 28", "kind": "order", "stored": "", "fresh": "",
         "message": "ran as In [12] after the cell above ran as In [40]: the notebook was not run top to bottom"},
        {"cell": "cell 28", "kind": "differs", "message": "its stored output differs from what it prints now",
         "stored": "1", "fresh": ""}]
    points = _points(unit)
    assert points["2.1 Data Manipulation"] == 5       # everything but a discussion
    assert points["2.2 Data Preprocessing"] == 0
    assert points["2.3 Linear Algebra"] == 5
    assert points["2.5 Automatic Differentiation"] == 6
    assert "missing sections: 2.2 Data Preprocessing" in unit.notes[0]


def test_pasted_prompts_and_wrong_answers(tmp_path: Path, grade_file: Any) -> None:
    extra = {
        "2.1": [md(PROMPTS["2.1"])] + answer_cells(WRONG, "2.1-1"),
        "2.2": [md(PROMPTS["2.2"])],                                  # prompts pasted, nothing answered
        "2.5": [md(PROMPTS["2.5"])] + answer_cells(WRONG, "2.5-4"),
        "3.4": [md(PROMPTS["3.4"])] + answer_cells(WRONG, "3.4-1") + answer_cells(WRONG, "3.4-2")
        + answer_cells(WRONG, "3.4-3"),
    }
    cells = homework_cells(["2.1", "2.2", "2.5", "3.2", "3.4"], extra=extra, parameters=False)
    unit = _unit(grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW))
    exercises = {e["id"]: (e["status"], e["message"]) for e in unit.extra["exercises"]}
    assert exercises == {
        "2.1-1": ("wrong", "`x < y` compares tensors of shapes (4,) and (4,), not the section's 3x4 X and Y"),
        "2.5-4": ("wrong", "the cell uses torch.cos, which the exercise rules out; "
                           "the figure does not show both sin and its derivative"),
        "3.4-1": ("wrong", "the weights are drawn with standard deviation 10, i.e. variance 100: neither variance "
                           "1000 (standard deviation 31.6) nor the book's convention (standard deviation 1000); "
                           "LinearRegressionScratch from weights with |w| up to "
                           + exercises["3.4-1"][1].split("up to ")[1]),
        "3.4-2": ("wrong", exercises["3.4-2"][1]),
        "3.4-3": ("wrong", exercises["3.4-3"][1]),
    }
    # five steps of gradient descent from R = 1 on V = 4.7 I: R_t = 4.7 - 3.7 (1 - 0.01 * 2 * mean(I^2))^t
    r5 = 4.7 - 3.7 * (1 - 0.02 * 22.75 / 6) ** 5
    assert exercises["3.4-2"][1] == (f"`R` = {r5:.4g}; least squares on `current` and `voltage` here gives R = 4.7: "
                                     f"off by {(4.7 - r5) / 4.7:.1%}")
    assert "least squares on `lam` and `measured` here gives T = " in exercises["3.4-3"][1]
    assert exercises["3.4-3"][1].endswith("fit by scipy.optimize: more than 1 % off")
    exercise_test = next(t for t in unit.tests if t.name == "Exercises")
    assert exercise_test.score == pytest.approx(5 * 3.5 * 0.4)
    sections = _sections(unit)
    assert sections["2.2"]["discussion"]["chars"] == 0     # the pasted questions are not the student's text
    assert sections["2.2"]["exercises"] == []
    assert sections["2.5"]["ran"]["failed"] == []          # wrong answers still ran
    assert [c["status"] for c in sections["3.4"]["checkpoints"]] == ["passed"]


def test_untrained_model_with_a_fake_accuracy(tmp_path: Path, grade_file: Any) -> None:
    untrained = ("data = d2l.FashionMNIST(batch_size=256)\n"
                 "model = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)")
    buggy = ("from torch import nn\n\nnet = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n"
             "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nfor X, y in data.train_dataloader():\n"
             "    loss = nn.functional.cross_entropy(net(X), y)\n    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
             "correct, n = 0.0, 0\nwith torch.no_grad():\n    for X, y in data.val_dataloader():\n"
             "        correct += float((net(X).argmax(1) == y).float().mean())  # a mean already\n"
             "        n += y.numel()\nprint(f'test acc {correct / n:.3f}')")

    def no_training(section: str, cells: list) -> list:
        for cell in cells:
            if "trainer.fit(model, data)" in cell.source:
                cell.source = untrained
            if cell.source.startswith("wrong = preds"):
                cell.source = "print('test accuracy:', 0.91)"
        return cells + [md("### own experiment"), code(buggy)] if section == "4.4" else cells

    cells = homework_cells(["4.3", "4.4"], transform=no_training)
    unit = _unit(grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW))
    models = {m["cls"]: m for m in unit.extra["models"]}
    softmax, net = models["SoftmaxRegressionScratch"], models["Sequential"]
    # the 0.91 is printed by a cell that called no model: linked to none (no model's outputs produced it)
    assert (softmax["trained"], softmax["evidence"], softmax["printed"], softmax["disagrees"]) == (
        False, "rebuilt", [], False)
    assert softmax["accuracy"] < 0.3
    assert (net["trained"], net["evidence"], net["printed"], net["disagrees"]) == (True, "rebuilt", [0.003], True)
    assert net["accuracy"] > 0.6                             # the model was fine; its evaluation was not
    [goal] = [t for t in unit.tests if t.name == "Model: softmax regression of 4.4"]
    assert (goal.score, goal.message) == (0, "0/4: SoftmaxRegressionScratch: its parameters never changed: it was not trained")
    assert [c["status"] for c in _sections(unit)["4.4"]["checkpoints"]] == ["passed"] * 5


def test_every_model_of_a_sweep_is_measured(tmp_path: Path, grade_file: Any) -> None:
    def classes_only(section: str, cells: list) -> list:
        kept = [c for c in cells if "trainer.fit" not in c.source]
        if section == "5.1":  # each exercise in its own section: 5.1-act is judged among 5.1's cells only
            kept += answer_cells(RIGHT, "5.1-act")
        if section == "5.2":
            kept += [code("data = d2l.FashionMNIST(batch_size=256)")] + answer_cells(RIGHT, "5.2-1")
        return kept

    cells = homework_cells(["5.1", "5.2"], transform=classes_only)
    unit = _unit(grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW))
    sweep = [m for m in unit.extra["models"] if m["cls"] == "MLP"]
    assert [m["hparams"]["num_hiddens"] for m in sweep] == [16, 32, 64, 128]
    assert all(m["trained"] and m["evidence"] == "rebuilt" and m["accuracy"] > 0.5 for m in sweep)
    assert len({m["cell_label"] for m in sweep}) == 1
    exercises = {e["id"]: e for e in unit.extra["exercises"]}
    assert exercises["5.2-1"]["status"] == "correct"
    assert exercises["5.2-1"]["message"].startswith("4 models measured: num_hiddens=16: test accuracy ")
    assert exercises["5.1-act"]["status"] == "correct"
    assert exercises["5.1-act"]["message"].startswith("2 models trained: ReLU: test accuracy ")


LENET = ("import torch\nfrom torch import nn\n\n"
         "net = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),\n"
         "                    nn.Flatten(), nn.LazyLinear(10))\nnet(torch.rand(2, 1, 28, 28)).shape")


@pytest.mark.parametrize("kind", ["another assignment", "empty", "no code cells"])
def test_not_this_homework_gets_a_clear_report(tmp_path: Path, grade_file: Any, kind: str) -> None:
    cells = {"another assignment": [md("# HW 3: CNNs\n## 7.6 LeNet"), code(LENET)],
             "empty": [],
             "no code cells": [md("# Homework 1\nI read chapters 2 to 5 and wrote my notes by hand.")]}[kind]
    result = grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW)
    unit = _unit(result)
    assert result.score == 0 and result.max_score == 100
    assert unit.notes[0].startswith("none of the homework's sections was found")
    assert all(not s["present"] for s in unit.extra["sections"])
    if kind != "another assignment":
        assert unit.notes[1] == "hw.ipynb has no code cells"
    from grader.report.terminal import print_report
    import io

    out = io.StringIO()
    print_report(result, file=out)
    assert "Total: 0 / 100 (0%)" in out.getvalue()


# Per section of a complete homework: (first cell, code cells, checkpoints, exercises, models) and 6 points each
# (2 for 4.1 and 5.3, which have no code: a heading and a discussion).
COMPLETE = {
    "2.1": ("ch2.ipynb cell 2", 27, 5, ["2.1-1", "2.1-2"], 0), "2.2": ("ch2.ipynb cell 33", 5, 3, [], 0),
    "2.3": ("ch2.ipynb cell 40", 30, 5, [], 0), "2.5": ("ch2.ipynb cell 72", 14, 5, ["2.5-4"], 0),
    "3.1": ("ch3.ipynb cell 3", 6, 3, [], 0), "3.2": ("ch3.ipynb cell 11", 12, 3, ["3.2-2"], 0),
    "3.4": ("ch3.ipynb cell 26", 11, 1, ["3.4-2", "3.4-3"], 1), "4.1": ("ch4.ipynb cell 3", 0, 0, [], 0),
    "4.2": ("ch4.ipynb cell 5", 10, 2, [], 0), "4.3": ("ch4.ipynb cell 17", 4, 1, [], 0),
    "4.4": ("ch4.ipynb cell 23", 12, 5, [], 1), "5.1": ("ch5.ipynb cell 3", 7, 6, [], 0),
    "5.2": ("ch5.ipynb cell 12", 7, 2, [], 2), "5.3": ("ch5.ipynb cell 21", 0, 0, [], 0),
}


def test_complete_homework_in_four_chapter_files_is_one_submission(tmp_path: Path, capsys: Any,
                                                                   monkeypatch: Any) -> None:
    import json

    import grader.pipeline
    from grader.cli import main
    from grader.errors import UnknownExerciseError
    from grader.notebook.load import read_notebook
    from grader.registry import detect_units
    from grader.report.html import render_html
    from grader.report.terminal import print_report
    from grader.notebook.static import analyse

    extra = {"2.1": answer_cells(RIGHT, "2.1-1") + answer_cells(RIGHT, "2.1-2"), "2.5": answer_cells(RIGHT, "2.5-4"),
             "3.2": answer_cells(RIGHT, "3.2-2"), "3.4": answer_cells(RIGHT, "3.4-2") + answer_cells(RIGHT, "3.4-3")}
    paths = [write(notebook(homework_cells(sections, discussions={s: NOTE for s in sections}, extra=extra,
                                           parameters=chapter != "2")), tmp_path / f"ch{chapter}.ipynb")
             for chapter, sections in CHAPTERS.items()]
    for path in paths:
        nb = read_notebook(path)
        assert [u.id for u in detect_units(nb, analyse(nb.cells))] == [HW]   # no markers: matched by its code
    with pytest.raises(UnknownExerciseError):
        nb = read_notebook(write(notebook([code(LENET)]), tmp_path / "cnn.ipynb"))
        detect_units(nb, analyse(nb.cells))

    graded = []
    real_grade = grader.pipeline.grade
    monkeypatch.setattr(grader.pipeline, "grade", lambda *a, **k: graded.append(real_grade(*a, **k)) or graded[-1])
    assert main([*map(str, paths), "--student", "s1", "--json", "--threads", "1"]) == 0   # one run, three reports
    doc = json.loads(capsys.readouterr().out)
    assert doc["score"] == 100
    [result] = graded
    unit = _unit(result)
    assert doc["d2l_grade"]["units"][0]["homework"]["notebooks"] == unit.extra["notebooks"] == [
        "ch2.ipynb", "ch3.ipynb", "ch4.ipynb", "ch5.ipynb"]
    sections = _sections(unit)
    assert {k: (s["cells"][0], s["ran"]["code_cells"], len(s["checkpoints"]), s["exercises"], len(s["models"]))
            for k, s in sections.items()} == COMPLETE
    for s in sections.values():
        assert s["present"] and s["how"] == ("heading and code" if s["has_code"] else "heading")
        assert s["ran"]["ok"] + len(s["ran"]["expected_errors"]) == s["ran"]["code_cells"] and not s["ran"]["failed"]
        assert all(c["status"] == "passed" for c in s["checkpoints"])
        assert s["discussion"]["text"] == NOTE and s["stored_outputs"] == []
    assert sections["2.1"]["ran"]["expected_errors"] == ["ch2.ipynb cell 31 RuntimeError (2.1-2)"]  # on purpose
    assert sections["3.2"]["ran"]["expected_errors"] == ["ch3.ipynb cell 24 AttributeError (3.2-2)"]
    assert {e["id"]: e["status"] for e in unit.extra["exercises"]} == dict.fromkeys(
        ["2.1-1", "2.1-2", "2.5-4", "3.2-2", "3.4-2", "3.4-3"], "correct")
    models = [(m["cls"], m["cell_label"], m["trained"], m["evidence"] if m["fmnist"] else "own data")
              for m in unit.extra["models"]]
    assert models == [("LinearRegressionScratch", "ch3.ipynb cell 34", True, "own data"),
                      ("SoftmaxRegressionScratch", "ch4.ipynb cell 33", True, "rebuilt"),
                      ("MLPScratch", "ch5.ipynb cell 17", True, "rebuilt"), ("MLP", "ch5.ipynb cell 19", True, "rebuilt")]
    assert all(m["accuracy"] > 0.6 for m in unit.extra["models"][1:])
    assert {t.name: t.score for t in unit.tests} == {
        **{f"{k} {TITLES[k]}": 2 if k in ("4.1", "5.3") else 6 for k in COMPLETE}, "Exercises": 14,
        "Model: softmax regression of 4.4": 4, "Model: MLP from scratch of 5.2": 3, "Model: concise MLP of 5.2": 3}
    assert unit.notes == []

    print_report(result)
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    row = lines.index("2.1 heading+code ch2 27/27 5/5 55 chars 2.1-1,2.1-2 - 6/6")  # 80 columns: the range wraps
    assert lines[row + 1] == "2-32"
    assert "4.1 heading ch4 3-4 - - 55 chars - - 2/2" in lines
    assert "Total: 100 / 100 (100%) seeds: public" in lines
    page = render_html([result])
    assert "<h3>Sections</h3>" in page and page.count(NOTE) == 14
    assert "<td>4.4 Softmax Regression Implementation from Scratch</td><td>heading and code</td><td>ch4 23-36</td>" in page


# The book's code only: no headings, no discussions, no exercises. The sections that train on
# Fashion-MNIST (4.4, 5.2) are left out to keep the run short: the complete homework trains them.
BOOK_ONLY = {"2.1": ("cell 4", 23), "2.2": ("cell 27", 6), "2.3": ("cell 33", 30), "2.5": ("cell 63", 14),
             "3.1": ("cell 77", 5), "3.2": ("cell 82", 11), "3.4": ("cell 93", 9), "4.2": ("cell 102", 10),
             "4.3": ("cell 112", 4), "5.1": ("cell 116", 6)}


def test_book_code_only(tmp_path: Path, grade_file: Any) -> None:
    cells = homework_cells([k for k in TITLES if k not in ("4.4", "5.2")], style="")
    unit = _unit(grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW))
    sections = _sections(unit)
    assert {k: (s["cells"][0], s["ran"]["code_cells"]) for k, s in sections.items() if s["present"]} == BOOK_ONLY
    for k in BOOK_ONLY:
        s = sections[k]
        assert s["how"] == "code (no heading)" and s["ran"]["ok"] == s["ran"]["code_cells"]
        assert s["checkpoints"] and all(c["status"] == "passed" for c in s["checkpoints"])
        assert s["discussion"]["chars"] == 0
    # 4.1 and 5.3 have no code: without a heading there is nothing to find
    assert unit.notes == ["missing sections: 4.1 Softmax Regression, 4.4 Softmax Regression Implementation from "
                          "Scratch, 5.2 Implementation of Multilayer Perceptrons, 5.3 Forward Propagation, Backward "
                          "Propagation, and Computational Graphs"]
    points = _points(unit)
    assert {k: points[f"{k} {TITLES[k]}"] for k in TITLES} == {k: 5 if k in BOOK_ONLY else 0 for k in TITLES}
    assert [(m["cls"], m["trained"], m["fmnist"]) for m in unit.extra["models"]] == [
        ("LinearRegressionScratch", True, False)]
    assert (points["Exercises"], points["Model: softmax regression of 4.4"], points["Model: MLP from scratch of 5.2"],
            points["Model: concise MLP of 5.2"]) == (0, 0, 0, 0)
    assert unit.score == 50
