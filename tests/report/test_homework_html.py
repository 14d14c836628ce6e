"""A homework's HTML report shows the figures its exercise answers drew (kernel-free)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from grader.homework.evaluate import _answer_figures
from grader.homework.recognise import Attempt
from grader.protocol import ExecutionRun
from grader.report.html import render_html
from grader.results import ExecutionSummary, SubmissionResult, UnitResult

LINE = {"axes": [{"lines": [{"label": "sin", "x": [0.0, 1.0, 2.0], "y": [0.0, 0.84, 0.91]}], "legend": []}]}


def _part(figures_by_cell: dict[int, list[dict]], answered: list[int]) -> SimpleNamespace:
    run = ExecutionRun(ExecutionSummary(), events={c: [{"figures": figs}] for c, figs in figures_by_cell.items()})
    attempt = Attempt(exercise="2.5-sin", part=0, cells=answered)
    return SimpleNamespace(index=0, run=run, name="hw.ipynb", ctx=SimpleNamespace(notebook=SimpleNamespace(
        path=Path("hw.ipynb"))), answers=[(SimpleNamespace(id="2.5-sin"), attempt, None)])


def test_only_the_figures_of_answer_cells_are_kept_with_their_exercise_and_cell() -> None:
    part = _part({3: [LINE], 7: [LINE, LINE]}, answered=[7])
    figures = _answer_figures([part])  # type: ignore[list-item]
    assert [(f["cell"], f["exercise"], f["label"]) for f in figures] == [(7, "2.5-sin", "2.5-sin, cell 8")] * 2
    assert len(_answer_figures([_part({7: [LINE] * 20}, answered=[7])], limit=12)) == 12  # type: ignore[list-item]


def test_the_page_draws_them_under_figures() -> None:
    unit = UnitResult("d2l-ch2-5", "Homework", kind="homework",
                      extra={"sections": [], "notebooks": ["hw.ipynb"], "models": [],
                             "figures": [{**LINE, "cell": 7, "label": "2.5-sin, cell 8"}]})
    page = render_html([SubmissionResult(sources=["hw.ipynb"], units=[unit])])
    assert "<h3>Figures</h3>" in page and "Your figure 1 (2.5-sin, cell 8)" in page
    assert "data:image/png;base64," in page
