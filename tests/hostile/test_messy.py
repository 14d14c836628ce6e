"""Messy notebooks as students submit them: old formats, foreign metadata, moved cells,
lost tags, stale outputs, Korean text, d2l present or absent, huge stored outputs, and
files that are not notebooks at all (through the CLI: exit code 2 and one clear line)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from grader.cli import main
from grader.config import Options
from grader.pipeline import grade
from hostile_kit import BROADCAST, EXAMPLES, TAG, TENSOR_TEST, TENSORS, assert_broadcast_only, graded, messages
from nbfactory import code

pytestmark = pytest.mark.kernel


def raw_cell(kind: str, source: str, tags: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {},
                            "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    cell.update(extra)
    return cell


def write_raw(path: Path, cells: list[dict[str, Any]], minor: int = 5, metadata: dict[str, Any] | None = None,
              ids: bool | None = None) -> Path:
    """A notebook written as JSON by hand, as an old or foreign front end would."""
    if ids is None:
        ids = minor >= 5
    for i, cell in enumerate(cells):
        if ids and "id" not in cell:
            cell["id"] = f"cell-{i}"
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "d2l_grade": {"exercises": ["broadcasting"]}}
    meta.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": minor, "metadata": meta, "cells": cells}),
                    encoding="utf-8")
    return path


@pytest.fixture
def grade_path(options: Options):  # type: ignore[no-untyped-def]
    def run(path: Path, **overrides: Any):  # type: ignore[no-untyped-def]
        return grade(path, options=dataclasses.replace(options, **overrides))
    return run


def cells_of(result):  # type: ignore[no-untyped-def]
    return [(c.index, c.status, c.ename) for c in result.executions[0].cells]


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
def test_every_nbformat_4_minor_version(tmp_path: Path, grade_path, minor: int) -> None:  # type: ignore[no-untyped-def]
    path = write_raw(tmp_path / "nb.ipynb", [raw_cell("markdown", "# Broadcasting"),
                                             raw_cell("code", BROADCAST, (TAG,))], minor=minor)
    result = grade_path(path)
    assert cells_of(result) == [(1, "ok", "")]
    assert_broadcast_only(result)


def test_duplicated_and_missing_cell_ids(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    cells = [raw_cell("code", "x = 1", id="same"), raw_cell("code", BROADCAST, (TAG,), id="same"),
             raw_cell("code", "y = 2")]  # the last one has no id although nbformat 4.5 wants one
    path = write_raw(tmp_path / "nb.ipynb", cells, minor=5, ids=False)
    result = grade_path(path)
    assert cells_of(result) == [(0, "ok", ""), (1, "ok", ""), (2, "ok", "")]
    assert_broadcast_only(result)


def test_colab_metadata(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    colab = {"colab": {"provenance": [], "name": "broadcasting.ipynb", "gpuType": "T4"}, "accelerator": "GPU",
             "kernelspec": {"name": "python3", "display_name": "Python 3"}, "language_info": {"name": "python"}}
    cells = [raw_cell("code", "!pip install d2l==1.0.3", metadata={"id": "Xy12", "colab": {"base_uri": "https://localhost:8080/"},
                                                               "outputId": "abc"}),
             raw_cell("code", BROADCAST, metadata={"id": "Ab34", "tags": [TAG], "colab": {}})]
    result = grade_path(write_raw(tmp_path / "nb.ipynb", cells, minor=0, metadata=colab))
    assert [(e.cell, e.kind) for e in result.executions[0].edits] == [(0, "install")]
    assert cells_of(result) == [(0, "ok", ""), (1, "ok", "")]
    assert_broadcast_only(result)


def test_vscode_metadata(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    vscode = {"vscode": {"interpreter": {"hash": "0" * 64}}, "kernelspec": {"name": ".venv", "display_name": ".venv"}}
    cells = [raw_cell("code", BROADCAST, (TAG,), metadata={"tags": [TAG], "vscode": {"languageId": "python"}})]
    result = grade_path(write_raw(tmp_path / "nb.ipynb", cells, minor=2, metadata=vscode))
    assert_broadcast_only(result)


def test_moved_and_duplicated_graded_cells(grade_cells) -> None:  # type: ignore[no-untyped-def]
    use = "print(broadcast_shape((2, 3, 1), (2, 1, 3)))"
    result = grade_cells([code(use), *graded(code(BROADCAST, TAG), use)])
    assert cells_of(result) == [(0, "error", "NameError"), (1, "ok", ""), (2, "ok", ""), (3, "ok", "")]
    assert_broadcast_only(result)


def test_lost_tags_are_matched_by_names(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells(graded(tag=False))
    assert_broadcast_only(result)


def test_partly_lost_tags_still_cover_every_name(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells(graded(TENSORS, "print('done')"))  # the tensor cell lost its tag
    assert result.score == 9.0 and messages(result)[TENSOR_TEST] == "`z3` matches (shape (2, 3, 3))"


def test_stale_outputs_and_execution_counts_are_ignored(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    stale = [{"output_type": "stream", "name": "stdout", "text": ["(2, 3, 3)\n"]},
             {"output_type": "execute_result", "execution_count": 9, "metadata": {},
              "data": {"text/plain": ["'all tests passed'"]}}]
    cells = [raw_cell("code", "def broadcast_shape(shape_a, shape_b):\n    return ()", (TAG,),
                      outputs=stale, execution_count=12),
             raw_cell("code", "print(broadcast_shape((2, 3, 1), (2, 1, 3)))", outputs=stale, execution_count=3)]
    result = grade_path(write_raw(tmp_path / "nb.ipynb", cells, minor=4))
    assert messages(result)[EXAMPLES] == ("0 of 8 example shape pairs correct; first problem: "
                                          "broadcast_shape((2, 3, 1), (2, 1, 3)) returned ()\nexpected (2, 3, 3)")
    assert result.score == 0.2308  # only the ((), ()) hidden pair, whose answer really is ()


def test_korean_everywhere(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    korean = BROADCAST.replace('f"sizes {p} and {q} do not broadcast"', 'f"크기 {p}와 {q}는 브로드캐스트되지 않습니다"')
    cells = [raw_cell("markdown", "# 브로드캐스팅 과제\n\n학생: 김민수"),
             raw_cell("code", "# 한국어 주석\n" + korean, (TAG,)),
             raw_cell("code", "결과 = broadcast_shape((3, 1), (4,))\nprint('결과:', 결과)\n"
                              "try:\n    broadcast_shape((2,), (3,))\nexcept ValueError as 오류:\n    print(오류)")]
    result = grade_path(write_raw(tmp_path / "학생 김민수" / "과제 1.ipynb", cells))
    assert cells_of(result) == [(1, "ok", ""), (2, "ok", "")]
    assert result.sources == [str(tmp_path / "학생 김민수" / "과제 1.ipynb")]
    assert_broadcast_only(result)


def test_d2l_present(grade_cells) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("d2l")
    result = grade_cells([code("from d2l import torch as d2l\nX = d2l.zeros((2, 3))"), *graded()])
    assert cells_of(result) == [(0, "ok", ""), (1, "ok", "")]
    assert result.executions[0].environment.get("d2l") not in (None, "?")
    assert_broadcast_only(result)


def test_d2l_absent(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells([code("from d2l import torch as d2l"), *graded()], hide_modules=("d2l",))
    record = result.executions[0].cells[0]
    assert (record.status, record.ename, record.evalue) == ("error", "ModuleNotFoundError", "No module named 'd2l'")
    assert_broadcast_only(result)


def test_notebook_shadowing_d2l(grade_cells) -> None:  # type: ignore[no-untyped-def]
    shadow = ("class d2l:\n    @staticmethod\n    def zeros(shape):\n        return [[0] * shape[1]] * shape[0]\n"
              "X = d2l.zeros((2, 3))\nassert X == [[0, 0, 0], [0, 0, 0]]")
    result = grade_cells([code(shadow), *graded()])
    assert cells_of(result) == [(0, "ok", ""), (1, "ok", "")]
    assert_broadcast_only(result)


def test_data_roots_in_the_parent_and_working_directories(grade_cells) -> None:  # type: ignore[no-untyped-def]
    roots = ("import os\nfor root in ('../data', './data'):\n    os.makedirs(root, exist_ok=True)\n"
             "    with open(os.path.join(root, 'notes.csv'), 'w') as fh:\n        fh.write('a,b\\n1,2\\n')\n"
             "raise Exception([open(os.path.join(r, 'notes.csv')).read() for r in ('../data', './data')])")
    result = grade_cells([code(roots), *graded()])
    record = result.executions[0].cells[0]
    assert (record.ename, record.evalue) == ("Exception", "['a,b\\n1,2\\n', 'a,b\\n1,2\\n']")
    assert_broadcast_only(result)


def test_fifty_megabytes_of_stored_outputs(tmp_path: Path, grade_path) -> None:  # type: ignore[no-untyped-def]
    big = [{"output_type": "stream", "name": "stdout", "text": ["x" * 1_000_000 + "\n"] * 50}]
    cells = [raw_cell("code", "print('long training log')", outputs=big, execution_count=1),
             raw_cell("code", BROADCAST, (TAG,), outputs=big, execution_count=2)]
    path = write_raw(tmp_path / "nb.ipynb", cells)
    assert path.stat().st_size > 100_000_000
    result = grade_path(path)
    assert cells_of(result) == [(0, "ok", ""), (1, "ok", "")]
    assert_broadcast_only(result)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.ipynb", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}),
     "no exercise found"),
    ("broken.ipynb", "this is not JSON", "is not valid JSON (line 1: Expecting value); is it really a .ipynb?"),
    ("homework.py", "def broadcast_shape(a, b):\n    return ()\n",
     "is a Python file, not a notebook (.ipynb); export the notebook from Jupyter"),
])
def test_bad_input_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str,
                                   message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
