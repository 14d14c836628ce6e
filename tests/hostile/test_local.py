"""Students' local checks: ``from grader import check; check("broadcasting")``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader.config import Options
from grader.local import check
from grader.pipeline import grade
from hostile_kit import BROADCAST, TAG, assert_broadcast_only, graded
from nbfactory import code, notebook, write

pytestmark = pytest.mark.kernel

# wrong on rank-0 shapes only: public example ((), (2, 2)) and some hidden pairs fail
PARTLY_WRONG = BROADCAST.replace("    a, b = tuple(shape_a), tuple(shape_b)",
                                 "    if not shape_a or not shape_b:\n        return (0,)\n"
                                 "    a, b = tuple(shape_a), tuple(shape_b)")


def test_check_inside_a_graded_notebook_is_a_no_op(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells([*graded(), code("from grader import check\ncheck('broadcasting')")])
    assert [(c.status, c.ename) for c in result.executions[0].cells] == [("ok", ""), ("ok", "")]
    assert_broadcast_only(result)


def test_student_check_runs_the_saved_notebook_with_the_public_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    write(notebook(graded(), exercises=["broadcasting"]), tmp_path / "broadcasting.ipynb")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRADER_SECRET", "instructor-only")  # a leaked variable must not change the student's run
    result = check("broadcasting")
    assert result.seed_policy == "public" and result.sources == [str(tmp_path / "broadcasting.ipynb")]
    assert_broadcast_only(result)
    assert "broadcast_shape on the example pairs" in capsys.readouterr().out


def test_local_public_tests_equal_the_instructor_run(tmp_path: Path, options: Options,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(notebook([code(PARTLY_WRONG, TAG)], exercises=["broadcasting"]), tmp_path / "hw.ipynb")
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    local = check("broadcasting", path=path)
    instructor = grade(path, options=dataclasses.replace(options, secret="instructor-secret"))
    assert (local.seed_policy, instructor.seed_policy) == ("public", "secret")

    def public(result):  # type: ignore[no-untyped-def]
        return [(t.name, t.score, t.status, t.message) for t in result.tests if not t.hidden]

    assert public(local) == public(instructor)
    assert [t.name for t in local.tests] == [t.name for t in instructor.tests]
    example = next(t for t in local.tests if "example pairs" in t.name)
    assert example.message.startswith("7 of 8 example shape pairs correct; first problem: "
                                      "broadcast_shape((), (2, 2)) returned (0,)")
