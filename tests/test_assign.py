from pathlib import Path

import nbformat
import pytest

from grader.course.assign import make_stub, stale_stubs
from nbfactory import code, md, notebook

REPO = Path(__file__).resolve().parent.parent


def test_regions_become_placeholders_and_solution_only_cells_go() -> None:
    sol = notebook([
        code("def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n\nprint('kept')", "exercise:e"),
        md("Answer:\n<!-- BEGIN SOLUTION -->\nZero init works because...\n<!-- END SOLUTION -->", "answer:e"),
        code("secret_check()", "solution-only"),
    ], exercises=["e"])
    stub = make_stub(sol)
    assert [c.source for c in stub.cells][:2] == [
        "def f(x):\n    raise NotImplementedError(\"your solution here\")\n\nprint('kept')",
        "Answer:\n*Write your answer here.*"]
    assert stub.cells[-1].source.splitlines()[-2:] == ["", "check('e')"]
    assert "from grader import check" in stub.cells[-1].source and not stub.cells[-1].metadata.get("tags")
    assert len(stub.cells) == 3
    assert stub.metadata["d2l_grade"] == {"exercises": ["e"], "stub": True}
    assert stub.cells[0].metadata["tags"] == ["exercise:e"] and stub.cells[0].outputs == []


@pytest.mark.parametrize("source, message", [
    ("# BEGIN SOLUTION\nx = 1", "never closed"),
    ("# END SOLUTION", "END SOLUTION without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another region"),
])
def test_bad_markers(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_stub(notebook([code(source)]), "sol.ipynb")


def test_committed_stubs_are_current() -> None:
    assert stale_stubs(REPO / "solutions", REPO / "exercises") == [], "run `grade assign`"


def test_every_solution_declares_its_units() -> None:
    for path in (REPO / "solutions").glob("*.ipynb"):
        meta = nbformat.read(path, as_version=4).metadata.get("d2l_grade", {})
        assert meta.get("exercises") or meta.get("homework"), path
