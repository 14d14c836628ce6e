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
from book import BOOK, CHAPTERS, homework_cells, section_cells
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
        "3.4-1": ("wrong", "the weights are drawn with standard deviation 1000, i.e. variance 1e+06, not 1000 "
                           "(standard deviation 31.6); LinearRegressionScratch from weights with |w| up to "
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
    assert (softmax["trained"], softmax["evidence"], softmax["printed"], softmax["disagrees"]) == (
        False, "rebuilt", [0.91], True)
    assert softmax["accuracy"] < 0.3
    assert (net["trained"], net["evidence"], net["printed"], net["disagrees"]) == (True, "rebuilt", [0.003], True)
    assert net["accuracy"] > 0.6                             # the model was fine; its evaluation was not
    [goal] = [t for t in unit.tests if t.name == "Model: softmax regression of 4.4"]
    assert (goal.score, goal.message) == (0, "0/4: SoftmaxRegressionScratch: its parameters never changed: it was not trained")
    assert [c["status"] for c in _sections(unit)["4.4"]["checkpoints"]] == ["passed"] * 5


def test_every_model_of_a_sweep_is_measured(tmp_path: Path, grade_file: Any) -> None:
    def classes_only(section: str, cells: list) -> list:
        kept = [c for c in cells if "trainer.fit" not in c.source]
        if section == "5.2":
            kept += [code("data = d2l.FashionMNIST(batch_size=256)")] + answer_cells(RIGHT, "5.2-1") \
                + answer_cells(RIGHT, "5.1-act")
        return kept

    cells = homework_cells(["5.2"], transform=classes_only)
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


def test_cli_detects_the_homework_and_grades_chapter_files_as_one(tmp_path: Path, capsys: Any) -> None:
    import json

    from grader.cli import main
    from grader.errors import UnknownExerciseError
    from grader.load import read_notebook
    from grader.registry import detect_units
    from grader.static import analyse

    ch2 = write(notebook(homework_cells(["2.1", "2.2"], parameters=False)), tmp_path / "ch2.ipynb")
    ch3 = write(notebook(homework_cells(["3.1", "3.2"], parameters=False)), tmp_path / "ch3.ipynb")
    other = write(notebook([code(LENET)]), tmp_path / "cnn.ipynb")
    for path in (ch2, ch3):
        nb = read_notebook(path)
        assert [u.id for u in detect_units(nb, analyse(nb.cells))] == [HW]   # no markers: matched by its code
    with pytest.raises(UnknownExerciseError):
        nb = read_notebook(other)
        detect_units(nb, analyse(nb.cells))
    assert main([str(ch2), str(ch3), "--student", "s1", "--json", "--threads", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    homework = doc["d2l_grade"]["units"][0]["homework"]
    assert homework["notebooks"] == ["ch2.ipynb", "ch3.ipynb"]
    present = {s["id"]: s["cells"][:1] for s in homework["sections"] if s["present"]}
    assert present == {"2.1": ["ch2.ipynb cell 2"], "2.2": ["ch2.ipynb cell 27"], "3.1": ["ch3.ipynb cell 2"],
                       "3.2": ["ch3.ipynb cell 9"]}
    tests = {t["name"]: (t["score"], t["max_score"]) for t in doc["tests"]}
    assert tests["2.1 Data Manipulation"] == (5, 6) and tests["3.2 Object-Oriented Design for Implementation"] == (5, 6)
    assert tests["2.3 Linear Algebra"] == (0, 6)
    assert main([str(ch2), str(ch3), "--homework", HW, "--threads", "1"]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    row = lines.index("2.1 heading+code ch2.ipynb 24/24 5/5 0 chars - - 5/6")  # 80 columns: the range wraps
    assert lines[row + 1] == "2-26"
    row = lines.index("3.2 heading+code ch3.ipynb 11/11 3/3 0 chars - - 5/6")
    assert lines[row + 1] == "9-20"
    assert "2.3 missing - - - 0 chars - - 0/6" in lines
    assert "0/6: section not found (no heading naming it and none of its book code)" in lines
