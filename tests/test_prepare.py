from pathlib import Path

import pytest

from grader.notebook.load import read_notebook
from grader.engine.prepare import INJECTED_TAG, prepare, translate
from nbfactory import code, notebook, write


def _prepared(tmp_path: Path, cells: list, parameters: dict | None = None):  # type: ignore[no-untyped-def]
    return prepare(read_notebook(write(notebook(cells), tmp_path / "n.ipynb")), parameters)


def test_install_lines_and_matplotlib_magic_are_neutralised(tmp_path: Path) -> None:
    p = _prepared(tmp_path, [
        code("!pip install d2l==1.0.3\n%pip install -q ucimlrepo\npip install d2l\n%matplotlib inline\nimport math"),
        code("if True:\n    !python -m pip install torch\nx = 1  # pip install in a comment stays"),
        code("%%bash\npip3 install numpy\necho hi"),
        code("%timeit sum(range(10))"),
    ])
    sources = [c.source for c in p.nb.cells]
    assert sources[0].splitlines()[0] == "pass  # d2l-grade: not run while grading: !pip install d2l==1.0.3"
    assert sources[0].splitlines()[4] == "import math"
    assert sources[1].splitlines()[1] == "    pass  # d2l-grade: not run while grading: !python -m pip install torch"
    assert sources[2].splitlines() == ["%%bash", ":  # d2l-grade: not run while grading: pip3 install numpy", "echo hi"]
    assert sources[3] == "%timeit sum(range(10))"
    assert [(e.cell, e.line, e.kind) for e in p.edits] == [
        (0, 1, "install"), (0, 2, "install"), (0, 3, "install"), (0, 4, "matplotlib magic"), (1, 2, "install"),
        (2, 2, "install")]
    assert p.edits[0].note == ("code cell 1, line 1: !pip install d2l==1.0.3 (not run: nothing is installed while grading; "
                               "the grader's environment has the course's packages)")
    assert p.edits[3].note.endswith("%matplotlib inline (not run: figures are drawn headless while grading, "
                                    "and the grader reads them)")


def test_parameters_injected_after_tagged_cell_and_replaced(tmp_path: Path) -> None:
    cells = [code("epochs = 10\nsubset = 60000", "parameters"), code("print(epochs)"),
             code("epochs = 99", INJECTED_TAG)]
    p = _prepared(tmp_path, cells, {"epochs": 2, "subset": 1000})
    assert [c.metadata.get("tags", []) for c in p.nb.cells] == [["parameters"], [INJECTED_TAG], []]
    assert p.nb.cells[1].source.endswith("epochs = 2\nsubset = 1000")
    assert [p.origin(i) for i in range(3)] == [0, None, 1]
    assert p.position(1) == 2 and p.injected == {"epochs": 2, "subset": 1000}


def test_no_parameters_cell_means_no_injection(tmp_path: Path) -> None:
    p = _prepared(tmp_path, [code("x = 1")], {"epochs": 2})
    assert len(p.nb.cells) == 1 and p.injected == {}


@pytest.mark.parametrize("value, text", [
    (True, "True"), (3, "3"), (0.5, "0.5"), (float("nan"), "float('nan')"), (float("-inf"), "float('-inf')"),
    ("a'b", '"a\'b"'), ([1, (2,)], "[1, (2,)]"), ({"k": None}, "{'k': None}"),
])
def test_translate(value: object, text: str) -> None:
    assert translate(value) == text
