"""Every exercise graded as students lay notebooks out (issue 12), and as the course
ships it: its solution as written (``original``) and rewritten without tags or grader
metadata, one statement per cell (``split``), all in one cell (``merged``), with helper
cells and markdown between the steps (``helpers``), scores full marks; its stub in the
same layouts scores 0 (a rewritten stub is graded with its id named: without tags or
metadata a stub may define too few of the exercise's names to be recognised). The
variants are generated here from solutions/ and exercises/, so adding an exercise's
solution adds its cases. The ``original`` cases are what `grade validate` checks; on
them the exercise's own details (tests/layouts/details.py) are checked as well."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import SOLUTIONS, STUBS  # noqa: E402
from details import DETAILS  # noqa: E402
from layouts import LAYOUTS, write_layout  # noqa: E402

from grader.config import Options  # noqa: E402
from grader.notebook.load import read_notebook  # noqa: E402
from grader.pipeline import grade_async  # noqa: E402
from grader.registry import exercises  # noqa: E402
from grader.results import SubmissionResult  # noqa: E402

IDS = sorted(exercises())


def _failures(result: SubmissionResult) -> str:
    return "\n".join(f"{t.name}: {t.score:g}/{t.max_score:g} {t.message.splitlines()[0] if t.message else ''}"
                     for t in result.tests if t.score != t.max_score) + "".join(
        f"\n{run.outcome}: {run.message}" for run in result.executions)


def test_every_exercise_has_a_solution_and_a_stub() -> None:
    assert [i for i in IDS if not (SOLUTIONS / f"{i}.ipynb").is_file() or not (STUBS / f"{i}.ipynb").is_file()] == []


@pytest.mark.parametrize("layout", ["split"])
def test_layouts_drop_tags_and_metadata(layout: str, tmp_path: Path) -> None:
    path = write_layout(SOLUTIONS / "sin_derivative.ipynb", layout, tmp_path / "nb.ipynb", {})
    nb = read_notebook(path)
    assert "d2l_grade" not in nb.metadata and all(not c.tags for c in nb.cells)
    assert len(nb.code_cells) > len(read_notebook(SOLUTIONS / "sin_derivative.ipynb").code_cells)


@pytest.mark.kernel
@pytest.mark.parametrize("layout", ["original", *sorted(LAYOUTS)])
@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_full_marks_stub_zero(exercise_id: str, layout: str, options: Options, tmp_path: Path) -> None:
    budget = exercises()[exercise_id].budget
    solution, stub = SOLUTIONS / f"{exercise_id}.ipynb", STUBS / f"{exercise_id}.ipynb"
    if layout != "original":
        solution = write_layout(solution, layout, tmp_path / "solution" / f"{layout}.ipynb", budget)
        stub = write_layout(stub, layout, tmp_path / "stub" / f"{layout}.ipynb", budget)
    run = dataclasses.replace(options, total_timeout=600.0)
    named = [exercise_id] if layout != "original" else []

    async def both() -> list[SubmissionResult]:
        # the solution is found by the names it defines; a stub without tags or metadata
        # may define too few of them to be recognised, so it is named, as `--exercise` does
        return list(await asyncio.gather(grade_async([solution], options=run),
                                         grade_async([stub], options=run, exercise_ids=named)))

    full, zero = asyncio.run(both())
    assert [u.id for u in full.units] == [u.id for u in zero.units] == [exercise_id]
    assert full.score == full.max_score > 0, _failures(full)
    assert all(t.status == "passed" for t in full.tests), _failures(full)
    assert zero.score == 0, _failures(zero)
    assert not [t.name for t in zero.tests if t.status == "error"]
    if layout == "original" and exercise_id in DETAILS:
        DETAILS[exercise_id](full, zero)
