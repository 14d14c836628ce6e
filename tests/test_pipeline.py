"""The whole pipeline on real notebooks: what students really hand in, and what goes wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest
from helpers import SOLUTIONS, STUBS

from grader.engine.runtime import MIME_RESULT

pytestmark = pytest.mark.kernel
Grade = Callable[..., Any]


def _with_cells(source: Path, path: Path, before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> Path:
    """A copy of ``source`` with code cells added before and after its own."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell(s) for s in before] + nb.cells + [nbformat.v4.new_code_cell(s) for s in after]
    nbformat.write(nb, path)
    return path


def test_colab_habits_korean_and_a_raising_cell_grade_normally(grade_file: Grade, tmp_path: Path) -> None:
    nb = _with_cells(SOLUTIONS / "sin_derivative.ipynb", tmp_path / "messy.ipynb", before=(
        "!pip install d2l==1.0.3\n%pip install -q torch\npip install matplotlib\n%matplotlib inline",
        "# 한국어 주석: 일부러 오류를 낸다\nraise RuntimeError('의도한 오류')",
    ))
    result = grade_file(nb)
    assert result.score == result.max_score == 8
    run = result.executions[0]
    assert [e.kind for e in run.edits] == ["install", "install", "install", "matplotlib magic"]
    failed = [(c.index, c.ename, c.evalue) for c in run.cells if c.status == "error"]
    assert failed == [(1, "RuntimeError", "의도한 오류")]
    assert run.outcome == "completed"


def test_endless_cell_times_out_and_earlier_results_stay(grade_file: Grade, tmp_path: Path) -> None:
    nb = _with_cells(SOLUTIONS / "broadcasting.ipynb", tmp_path / "loop.ipynb", after=("while True:\n    pass",))
    result = grade_file(nb, cell_timeout=8.0)
    assert result.score == 9
    last = result.executions[0].cells[-1]
    assert (last.status, last.evalue) == ("timeout", "interrupted after 8 s")


def test_os_exit_is_a_dead_kernel_and_keeps_what_was_graded(grade_file: Grade, tmp_path: Path) -> None:
    nb = _with_cells(SOLUTIONS / "broadcasting.ipynb", tmp_path / "exit.ipynb", after=("import os\nos._exit(0)", "x = 1"))
    result = grade_file(nb)
    run = result.executions[0]
    assert run.outcome == "dead_kernel"
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(nb, as_version=4).cells)
    assert run.message == f"the kernel died in code cell {code_cells - 1}"  # as Jupyter numbers it after Run All
    assert run.cells[-1].status == "not_run"
    assert result.score == 9


def test_printed_and_displayed_fake_scores_change_nothing(grade_file: Grade, tmp_path: Path) -> None:
    forged = json.dumps({"results": {"calls": [{"value": [2, 3, 3]}]}, "status": "ok"})
    nb = _with_cells(STUBS / "broadcasting.ipynb", tmp_path / "fake.ipynb", after=(
        "import json\nprint('score: 100')\nprint(json.dumps({'score': 9, 'max_score': 9}))",
        f"from IPython.display import display\ndisplay({{'{MIME_RESULT}': {forged!r}}}, raw=True)",
    ))
    result = grade_file(nb)
    assert result.score == 0
    assert [c.status for c in result.executions[0].cells[-2:]] == ["ok", "ok"]
