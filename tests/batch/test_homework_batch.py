"""`grade batch --homework`: a student's folder of chapter notebooks is one homework submission."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from classroom import FAST, run_cli
from grader.classroom.gradebook import open_gradebook
from nbfactory import notebook, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "homework"))
from book import homework_cells  # noqa: E402

pytestmark = pytest.mark.kernel


def test_a_folder_of_chapter_notebooks_is_one_homework(tmp_path: Path) -> None:
    folder, db = tmp_path / "class", tmp_path / "book.sqlite"
    # chapters without Fashion-MNIST trainings, to keep it short; one file per chapter, in a sub-folder too
    write(notebook(homework_cells(["2.1", "2.3"], parameters=False)), folder / "kim" / "ch2.ipynb")
    write(notebook(homework_cells(["3.1", "3.2"], parameters=False)), folder / "kim" / "week2" / "ch3.ipynb")
    write(notebook(homework_cells(["2.1"], parameters=False)), folder / "lee.ipynb")
    done = run_cli("batch", str(folder), "--db", str(db), "--homework", "d2l-ch2-5", "--workers", "1", *FAST)
    assert done.returncode == 0, done.stderr
    assert "2 submissions, 0 already in the gradebook" in done.stdout
    with open_gradebook(db) as book:
        kim, lee = book.submissions()
    assert (kim.student, kim.status, kim.unit_versions) == ("kim", "graded", {"d2l-ch2-5": "1"})
    assert [f["path"] for f in kim.files] == ["kim/ch2.ipynb", "kim/week2/ch3.ipynb"]
    [unit] = kim.result.units
    assert unit.extra["notebooks"] == ["ch2.ipynb", "ch3.ipynb"]
    present = {s["id"]: s["cells"][0] for s in unit.extra["sections"] if s["present"]}
    assert present == {"2.1": "ch2.ipynb cell 2", "2.3": "ch2.ipynb cell 27", "3.1": "ch3.ipynb cell 2",
                       "3.2": "ch3.ipynb cell 9"}
    scores = {t.name: t.score for t in unit.tests}
    assert [scores[n] for n in ("2.1 Data Manipulation", "2.3 Linear Algebra", "3.1 Linear Regression",
                                "3.2 Object-Oriented Design for Implementation", "2.5 Automatic Differentiation")] \
        == [5, 5, 5, 5, 0]
    assert kim.score == 20 and kim.max_score == 100
    [part] = lee.result.units
    assert [s["id"] for s in part.extra["sections"] if s["present"]] == ["2.1"] and lee.score == 5
