"""What staff see around a batch: class totals from the gradebook, the Ctrl-C advice, the
single-notebook spinner staying quiet off a terminal, and trimmed --help (kernel-free)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from staffbook import make_gradebook

import grader.classroom.batch as batch
from grader.cli import main
from grader.report.progress import RichProgress, class_totals, grading_status, print_class_totals


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200, highlight=False), out


def test_class_totals_cover_every_students_newest_attempt(tmp_path: Path) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    totals = class_totals(db)
    # alice 15/16, bob 7/7, dave 6.667/9 -> (93.75 + 100 + 74.074) / 3 = 89.27
    assert {k: totals[k] for k in ("students", "graded", "invalid", "errors", "full_marks", "mean_percent")} == {
        "students": 4, "graded": 3, "invalid": 1, "errors": 0, "full_marks": 1, "mean_percent": 89.3}
    console, out = _console()
    print_class_totals(db, console)
    assert out.getvalue() == (f"class in {db}: 4 students, 3 graded (mean 89.3%, 1 with full marks), 1 invalid, "
                              "0 grader errors\n")


def test_ctrl_c_on_a_batch_says_what_is_saved_and_how_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = make_gradebook(tmp_path / "class.sqlite")
    (tmp_path / "class").mkdir()

    def interrupted_batch(*args: object, progress: RichProgress, **kwargs: object) -> None:
        progress.count = 2  # two submissions committed before Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "grade_batch", interrupted_batch)
    code = main(["batch", str(tmp_path / "class"), "--db", str(db), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 130
    assert f"interrupted: 2 submissions graded in this run are saved in {db}; the ones in progress are not." in out
    assert "the gradebook holds 4 students." in out
    assert ("rerun the same command to grade the rest (finished ones are skipped): grade batch "
            f"{tmp_path / 'class'} --db {db} --workers 1") in out.replace("\n", " ")


def test_the_spinner_is_silent_off_a_terminal_and_when_disabled() -> None:
    console, out = _console()
    with grading_status("hw.ipynb", console=console):
        pass
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with grading_status("hw.ipynb", console=terminal, enabled=False):
        pass
    assert out.getvalue() == "" and terminal.file.getvalue() == ""


def test_report_help_lists_only_the_options_that_apply(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--threads" in text and "--isolation" in text
    for flag in ("--cell-timeout", "--memory-limit", "--figures", "--total-timeout", "--output-limit"):
        assert flag not in text


def test_the_spinner_shows_the_cell_the_grader_runs(tmp_path: Path, options) -> None:  # type: ignore[no-untyped-def]
    from grader.pipeline import grade
    from nbfactory import code, notebook, write

    path = write(notebook([code("x = 1"), code("y = 2")], exercises=["frobenius"]), tmp_path / "hw.ipynb")
    heard: list[str] = []
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with grading_status("hw.ipynb", console=terminal) as on_cell:
        assert on_cell is not None
        grade(path, options=options, on_cell=lambda label: (heard.append(label), on_cell(label)))
    assert heard == ["code cell 1", "code cell 2"]
    with grading_status("hw.ipynb", console=Console(file=io.StringIO())) as quiet:
        assert quiet is None
