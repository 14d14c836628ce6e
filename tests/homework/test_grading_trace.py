"""Grading in the sandboxed kernel with the per-cell trace: answers found from what the
cells did, in their own section; errors that are an exercise's answer excused even when
the exercise cannot be credited; merged figure cells not measurable. Our own notebook,
in the style of real submissions (answers inside print, a typo in another section's book
code, a share printed as a percentage). No training: it runs in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from book import section_cells
from nbfactory import code, md, notebook, write

pytestmark = pytest.mark.kernel
HW = "d2l-ch2-5"

BROADCAST = ("p = torch.arange(6).reshape(2, 3, 1)\nq = torch.arange(6).reshape(2, 1, 3)\n"
             "print('p + q has shape', (p + q).shape)")
COMPARE = "def show(u, v):\n    print(u < v)\n    print(u > v)\n\nshow(X, Y)"
ABALONE = ("url = 'https://archive.ics.uci.edu/ml/machine-learning-databases/abalone/abalone.data'\n"
           "abalone = pd.read_csv(url, header=None)\n"
           "numeric = abalone.dtypes.apply(lambda t: t.kind in 'if')\n"
           "numeric_pct = 100 * float(numeric.mean())\nprint(f'numerical columns: {numeric_pct:.2f}%')")
ROWS = "M = torch.arange(6, dtype=torch.float32).reshape(2, 3)\nM / M.sum(axis=1)"
TYPO = "z = x * torch.ones(2, 3, 2)  # meant x * x"
VECTOR = "v = torch.randn(size=(3,), requires_grad=True)\nout = f(v)\nout.backward()"
VECTOR_SUM = "out.sum().backward()\nv.grad == out / v"
NO_SAVE = "class C(d2l.HyperParameters):\n    def __init__(self, a, b):\n        pass\n\nc = C(1, 2)\nprint(c.a)"


def _cells() -> list:
    cells = [md("# HW1 (chapters 2, 3 and 5), my notes")]
    cells += section_cells("2.1", extra=[md("### exercises"), code(BROADCAST), code(COMPARE)])
    cells += section_cells("2.2", extra=[md("### exercise 1"), code(ABALONE)])
    cells += section_cells("2.3", extra=[md("### exercise 6"), code(ROWS)])
    cells += section_cells("2.5", extra=[code(TYPO), md("### exercise 3"), code(VECTOR), code(VECTOR_SUM)])
    cells += section_cells("3.2", extra=[md("### exercise 2"), code(NO_SAVE)])
    cells += section_cells("5.1", merged=True)
    return cells


def test_answers_from_the_trace_in_their_own_sections(tmp_path: Path, grade_file: Any) -> None:
    cells = _cells()
    result = grade_file(write(notebook(cells), tmp_path / "hw.ipynb"), homework_id=HW)
    [unit] = result.units

    def label(source: str) -> str:   # as the report counts cells: 1-based
        return f"cell {[c.source for c in cells].index(source) + 1}"
    exercises = {e["id"]: (e["status"], e["message"]) for e in unit.extra["exercises"]}
    assert exercises == {
        "2.1-2": ("correct", "(2, 3, 1) with (2, 1, 3) gives (2, 3, 3) (seen in what the cell ran)"),
        # by then the book has made Y = Y0 + X0 and X = 2 X0 + Y0: X < Y only where X0 < 0 (never), X > Y where X0 > 0
        "2.1-1": ("correct", "`<`: a 3x4 boolean tensor with 0 True; `>`: a 3x4 boolean tensor with 11 True "
                             "(seen in what the cell ran)"),
        "2.2-1": ("correct", "frame loaded: `abalone` (4177 x 9); fractions computed: numeric_pct = 88.89 "
                             "(numerical, of 9 columns, as a percentage)"),
        "2.3-6": ("correct", "(2, 3) / (2,): RuntimeError, as the shapes do not broadcast"),
        "2.5-3": ("correct", "with a random `v` of shape (3,), its gradient equals d / a (computed here); the plain "
                             "backward raised, since d is no longer a scalar"),
    }
    sections = {s["id"]: s for s in unit.extra["sections"]}
    assert sections["2.1"]["exercises"] == ["2.1-1", "2.1-2"]
    assert sections["2.5"]["exercises"] == ["2.5-3"]          # the typo is no broadcasting answer
    assert sections["2.3"]["ran"]["expected_errors"] == [f"{label(ROWS)} RuntimeError (2.3-6)"]
    assert sections["2.5"]["ran"]["expected_errors"] == [f"{label(VECTOR)} RuntimeError (2.5-3)"]
    assert sections["2.5"]["ran"]["failed"] == [
        f"{label(TYPO)} RuntimeError: The size of tensor a (4) must match the size of tensor b (2)"]
    # not recognised as 3.2-2 (no argument is read in __init__), but its AttributeError is that exercise's point
    assert sections["3.2"]["ran"]["expected_errors"] == [
        f"{label(NO_SAVE)} AttributeError (3.2-2, not credited: the error this exercise is about)"]
    assert sections["3.2"]["ran"]["failed"] == []
    assert "3.2-2" not in exercises
    # the merged 5.1 cell: no activation comparison; its figures are not measurable, not failed
    assert "5.1-act" not in exercises
    merged = ("unmeasurable", "not measurable: this cell draws the plots of 6 checkpoints (a merged cell), and only "
                              "the last one stays visible")
    assert [(c["status"], c["message"]) for c in sections["5.1"]["checkpoints"]] == [merged] * 5 + [
        ("passed", "the figure shows grad of tanh")]
    for section in ("2.1", "2.2", "2.3", "2.5", "3.2"):
        assert all(c["status"] == "passed" for c in sections[section]["checkpoints"]), section
