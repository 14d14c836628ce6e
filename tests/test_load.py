import json
from pathlib import Path

import pytest

from grader.errors import NotebookError
from grader.notebook.load import read_notebook, units_in_metadata
from nbfactory import code, md, notebook, write


def _raw(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("not json {", r"is not valid JSON \(line 1"),
    ([1, 2], "is JSON but not a Jupyter notebook"),
    ({"nbformat": 3, "worksheets": []}, "is nbformat 3, only nbformat 4 is supported"),
    ({"nbformat": 4, "cells": {}}, "has a 'cells' entry that is not a list"),
    ({"nbformat": 4, "cells": [{"source": "x"}]}, "cell 1 is malformed"),
])
def test_bad_input_names_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "sub.ipynb"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _raw(path, content)
    with pytest.raises(NotebookError, match=message) as info:
        read_notebook(path)
    assert str(path) in str(info.value)


def test_python_file_and_directory(tmp_path: Path) -> None:
    script = tmp_path / "hw.py"
    script.write_text("print(1)")
    with pytest.raises(NotebookError, match="is a Python file, not a notebook"):
        read_notebook(script)
    with pytest.raises(NotebookError, match="is a directory"):
        read_notebook(tmp_path)


def test_tolerates_old_minor_versions_lists_duplicates_and_outputs(tmp_path: Path) -> None:
    cell = {"cell_type": "code", "metadata": {"colab": {"id": "x"}, "tags": ["exercise:broadcasting"]},
            "source": ["x = 1\n", "print('한국어')"], "execution_count": 7, "id": "same",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["한국어\n"]},
                        {"output_type": "display_data", "data": {"image/png": "AAAA", "text/plain": "<Figure>"}}]}
    data = {"nbformat": 4, "nbformat_minor": 0, "metadata": {"colab": {}},
            "cells": [cell, dict(cell), {"cell_type": "markdown", "source": "# 2.1", "metadata": {}}]}
    nb = read_notebook(_raw(tmp_path / "a.ipynb", data))
    assert [c.kind for c in nb.cells] == ["code", "code", "markdown"]
    assert nb.cells[0].source == "x = 1\nprint('한국어')"
    assert nb.cells[0].stored_text == "한국어\n<Figure>" and nb.cells[0].stored_count == 7
    assert nb.notes == ["cell 2: duplicated cell id 'same' (ignored)"]
    assert units_in_metadata(nb) == (["broadcasting"], None)
    assert nb.nbformat_minor == 0 and len(nb.sha256) == 64


def test_huge_stored_outputs_are_summarised(tmp_path: Path) -> None:
    out = [{"output_type": "stream", "name": "stdout", "text": "y" * 100_000}] * 5
    data = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": out, "execution_count": 1}]}
    nb = read_notebook(_raw(tmp_path / "big.ipynb", data))
    assert len(nb.cells[0].stored_text) == 4000


def test_metadata_declares_homework_and_exercises(tmp_path: Path) -> None:
    path = write(notebook([md("hi"), code("x = 1", "exercise:sin_derivative")], exercises=["broadcasting"]),
                 tmp_path / "n.ipynb")
    assert units_in_metadata(read_notebook(path)) == (["broadcasting", "sin_derivative"], None)
    path = write(notebook([code("x = 1")], homework="d2l-ch2-5"), tmp_path / "h.ipynb")
    assert units_in_metadata(read_notebook(path)) == ([], "d2l-ch2-5")
