"""Finding and describing submissions, without kernels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from classroom import SOLUTIONS, tiny
from grader.errors import InputError
from grader.engine.pool import heavy_imports
from grader.notebook.static import analyse
from grader.notebook.load import Cell, read_notebook
from grader.classroom.submissions import describe, find_submissions
from nbfactory import code, notebook, write


def _class(root: Path) -> Path:
    tiny(root / "alice.ipynb", 1)
    tiny(root / "bob" / "ch2.ipynb", 2)
    tiny(root / "bob" / "part2" / "ch3.ipynb", 3)
    tiny(root / "bob" / ".ipynb_checkpoints" / "ch2-checkpoint.ipynb", 9)
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a submission")
    return root


def test_layouts_and_default_ids(tmp_path: Path, options) -> None:
    root = _class(tmp_path / "class")
    subs = describe(find_submissions(root), root, options=options)
    assert [(s.student, [str(p.relative_to(root)) for p in s.notebooks], s.problem) for s in subs] == [
        ("alice", ["alice.ipynb"], ""), ("bob", ["bob/ch2.ipynb", "bob/part2/ch3.ipynb"], ""),
        ("empty", [], "empty/: no notebook (.ipynb) in the folder (it is empty)"),
        ("notes.txt", [], "notes.txt: is not a notebook (.ipynb)")]
    assert [f["path"] for f in subs[1].files] == ["bob/ch2.ipynb", "bob/part2/ch3.ipynb"]
    assert [f["path"] for f in subs[3].files] == ["notes.txt"] and subs[3].file_hash
    assert subs[0].unit_versions == {"broadcasting": "1"} and not subs[0].problem
    assert len(subs[1].run_options) == 2 and subs[1].preload == [(), ()]


def test_hash_ignores_where_the_class_folder_is(tmp_path: Path, options) -> None:
    one = _class(tmp_path / "one")
    two = Path(shutil.copytree(one, tmp_path / "elsewhere" / "two"))
    hashes = [[s.file_hash for s in describe(find_submissions(r), r, options=options)] for r in (one, two)]
    assert hashes[0] == hashes[1] and hashes[0][0] != hashes[0][1]
    tiny(two / "alice.ipynb", 5)  # a changed notebook is a new submission
    assert describe(find_submissions(two), two, options=options)[0].file_hash != hashes[0][0]


def test_student_from_metadata_and_filename(tmp_path: Path, options) -> None:
    root = tmp_path / "class"
    write(notebook([code("x3 = 1")], exercises=["broadcasting"], metadata={"d2l_grade": {
        "exercises": ["broadcasting"], "student": "s123"}}), root / "upload_1.ipynb")
    tiny(root / "folder9" / "hw_ada.ipynb", 1)
    by_meta = describe(find_submissions(root), root, options=options, student_from="metadata")
    assert [s.student for s in by_meta] == ["folder9", "s123"]  # no metadata id: the folder's name
    by_file = describe(find_submissions(root), root, options=options, student_from="filename")
    assert [s.student for s in by_file] == ["hw_ada", "upload_1"]


def test_bad_notebooks_are_problems_not_errors(tmp_path: Path, options) -> None:
    root = tmp_path / "class"
    root.mkdir()
    (root / "a.ipynb").write_text("{")
    write(notebook([code("print(1)")]), root / "b.ipynb")
    a, b = describe(find_submissions(root), root, options=options)
    assert a.problem.endswith("a.ipynb: is not valid JSON (line 1: Expecting property name enclosed in double quotes); "
                              "is it really a .ipynb?")
    assert "b.ipynb: no exercise found" in b.problem


def test_clashing_ids_get_a_row_each_and_a_class_without_notebooks_is_refused(tmp_path: Path, options) -> None:
    root = tmp_path / "class"
    tiny(root / "ada.ipynb", 1)
    tiny(root / "ada" / "x.ipynb", 1)
    tiny(root / "bo.ipynb", 1)
    subs = describe(find_submissions(root), root, options=options)
    why = "several uploads have the student id 'ada' (ada, ada.ipynb); none is graded under it: rename them or " \
          "choose another --student-from"
    assert [(s.student, s.problem) for s in subs] == [("upload:ada", f"ada: {why}"),
                                                      ("upload:ada.ipynb", f"ada.ipynb: {why}"), ("bo", "")]
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="no notebooks found"):
        find_submissions(tmp_path / "none")


def test_heavy_imports_found_statically() -> None:
    codes = analyse(read_notebook(SOLUTIONS / "sin_derivative.ipynb").cells)
    assert heavy_imports(codes) == ("torch", "matplotlib.pyplot")
    cells = [Cell(0, "code", "from d2l import torch as d2l\nimport numpy as np\nif False:\n    import pandas"),
             Cell(1, "code", "%matplotlib inline\nimport torchvision.transforms")]
    assert heavy_imports(analyse(cells)) == ("numpy", "pandas", "torchvision", "d2l.torch")
