"""Generate student stubs from solution notebooks (``grade assign``).

In code cells, each region between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes
one ``raise NotImplementedError(...)`` at the marker's indentation. In markdown cells the
same markers (in any comment style) surround a model answer, which becomes a prompt.
Cells tagged ``solution-only`` are dropped; outputs and execution counts are cleared.
Every stub ends with a cell that runs the student's local check, ``check("<id>")``, for
each exercise the notebook declares (while the grader runs a notebook, ``check`` is a
stand-in that only prints a line, so the cell is harmless when graded).
A test compares every stub in ``exercises/`` with what this produces, so stale stubs fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

__all__ = ["make_stub", "stub_path", "assign_all", "stale_stubs", "check_cell", "SOLUTION_ONLY_TAG"]

BEGIN = re.compile(r"^(?P<indent>\s*)(#|<!--)\s*BEGIN SOLUTION\b")
END = re.compile(r"^\s*(#|<!--)\s*END SOLUTION\b")
SOLUTION_ONLY_TAG = "solution-only"
CODE_PLACEHOLDER = 'raise NotImplementedError("your solution here")'
TEXT_PLACEHOLDER = "*Write your answer here.*"


def _strip_regions(source: str, placeholder: str, where: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise ValueError(f"{where}, line {number}: BEGIN SOLUTION inside another region")
            inside = True
            out.append(begin.group("indent") + placeholder)
        elif end:
            if not inside:
                raise ValueError(f"{where}, line {number}: END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: BEGIN SOLUTION is never closed")
    return "\n".join(out)


def check_cell(exercise_ids: list[str]) -> nbformat.NotebookNode:
    """The last cell of a stub: the student's local check of each exercise."""
    calls = "\n".join(f"check({exercise_id!r})" for exercise_id in exercise_ids)
    source = ("# Check your work: save the notebook first (File > Save), then run this cell. It grades the\n"
              "# saved file with the public tests in a fresh kernel of its own and prints the report here.\n"
              f"from grader import check\n\n{calls}")
    return nbformat.v4.new_code_cell(source)


def make_stub(solution: nbformat.NotebookNode, name: str = "solution") -> nbformat.NotebookNode:
    """The student's stub of ``solution``."""
    stub = nbformat.v4.new_notebook(metadata=json.loads(json.dumps(solution.metadata)))
    stub.metadata.setdefault("d2l_grade", {})["stub"] = True
    for index, cell in enumerate(solution.cells):
        if SOLUTION_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        where = f"{name}, cell {index + 1}"
        meta = json.loads(json.dumps(cell.metadata))
        if cell.cell_type == "code":
            stub.cells.append(nbformat.v4.new_code_cell(_strip_regions(cell.source, CODE_PLACEHOLDER, where),
                                                        metadata=meta))
        elif cell.cell_type == "markdown":
            stub.cells.append(nbformat.v4.new_markdown_cell(_strip_regions(cell.source, TEXT_PLACEHOLDER, where),
                                                            metadata=meta))
        else:
            stub.cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=meta))
    declared = solution.metadata.get("d2l_grade", {}).get("exercises", [])
    if declared:
        stub.cells.append(check_cell([str(e) for e in declared]))
    for i, cell in enumerate(stub.cells):
        cell["id"] = f"cell-{i}"
    return stub


def stub_path(solution_path: Path, exercises_dir: Path) -> Path:
    """Where the stub of a solution notebook lives (same file name)."""
    return exercises_dir / solution_path.name


def _render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def _exercise_solutions(solutions_dir: Path) -> list[tuple[Path, nbformat.NotebookNode]]:
    """The solution notebooks that get stubs: a homework's reference notebook has none
    (students write a homework from scratch)."""
    found = []
    for path in sorted(solutions_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not nb.metadata.get("d2l_grade", {}).get("homework"):
            found.append((path, nb))
    return found


def assign_all(solutions_dir: Path, exercises_dir: Path) -> list[Path]:
    """Write a stub for every exercise's solution notebook; return the stubs written."""
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in _exercise_solutions(solutions_dir):
        stub = make_stub(nb, path.name)
        target = stub_path(path, exercises_dir)
        target.write_text(_render(stub), encoding="utf-8")
        written.append(target)
    return written


def stale_stubs(solutions_dir: Path, exercises_dir: Path) -> list[str]:
    """Stubs that are missing or differ from what ``assign_all`` would write."""
    stale = []
    for path, nb in _exercise_solutions(solutions_dir):
        target = stub_path(path, exercises_dir)
        expected = _render(make_stub(nb, path.name))
        if not target.is_file() or target.read_text(encoding="utf-8") != expected:
            stale.append(str(target))
    return stale
