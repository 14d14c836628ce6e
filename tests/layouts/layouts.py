"""Rewrite a course notebook the way students lay notebooks out (for tests/layouts).

Three layouts of a solution or stub, each without exercise tags or grader metadata:

* ``split``: every top-level statement in a cell of its own (decorators and the
  comments just above a statement stay with it);
* ``merged``: all the code in one cell;
* ``helpers``: the original cells with a markdown cell and a helper code cell (imports
  again, defines and calls a helper, prints) between every two of them.

The ``parameters`` cell (the run's budget, which the grader overrides while grading) is
written with the exercise's grading budget itself, so no layout relies on its tag and
the grader's top-level runs stay as short as when it is tagged.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Callable

import nbformat

from grader.engine.prepare import PARAMETERS_TAG, translate

__all__ = ["LAYOUTS", "write_layout", "split_statements"]

HELPER = '''import math
import torch


def _describe(value):
    """A helper of the student's own, unrelated to the exercise."""
    return type(value).__name__ + str(getattr(value, "shape", ""))


_scratch = [_describe(math.pi), _describe(torch.zeros(2))]
print("helper cell", _scratch)'''


def split_statements(source: str) -> list[str]:
    """The source of each top-level statement, with its decorators and the comment lines
    right above it; a source that does not parse stays whole."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [source]
    lines = source.splitlines()
    pieces, start = [], 0
    for node in tree.body:
        # from the end of the previous statement: the comments above this one and its
        # decorators (which come before ``node.lineno``) stay with it
        end = node.end_lineno or node.lineno
        text = "\n".join(lines[start:end]).strip("\n")
        if text.strip():
            pieces.append(text)
        start = end
    tail = "\n".join(lines[start:]).strip()
    if tail:
        pieces[-1:] = [pieces[-1] + "\n" + tail] if pieces else [tail]
    return pieces


def _plain(cell: Any, budget: dict[str, Any]) -> Any:
    """A copy of ``cell`` without tags or metadata; the parameters cell gets the budget."""
    source = cell.source
    if PARAMETERS_TAG in cell.metadata.get("tags", []) and budget:
        source = "\n".join(f"{name} = {translate(value)}" for name, value in budget.items())
    if cell.cell_type == "code":
        return nbformat.v4.new_code_cell(source)
    if cell.cell_type == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    return nbformat.v4.new_raw_cell(source)


def _split(cells: list[Any]) -> list[Any]:
    out = []
    for cell in cells:
        if cell.cell_type != "code":
            out.append(cell)
            continue
        out += [nbformat.v4.new_code_cell(piece) for piece in split_statements(cell.source)]
    return out


def _merged(cells: list[Any]) -> list[Any]:
    code = "\n\n".join(c.source for c in cells if c.cell_type == "code" and c.source.strip())
    return [c for c in cells if c.cell_type == "markdown"][:1] + [nbformat.v4.new_code_cell(code)]


def _helpers(cells: list[Any]) -> list[Any]:
    out: list[Any] = []
    for number, cell in enumerate(cells):
        if number:
            out += [nbformat.v4.new_markdown_cell(f"My notes before step {number + 1}."),
                    nbformat.v4.new_code_cell(HELPER)]
        out.append(cell)
    return out


LAYOUTS: dict[str, Callable[[list[Any]], list[Any]]] = {"split": _split, "merged": _merged, "helpers": _helpers}


def write_layout(source: Path, layout: str, target: Path, budget: dict[str, Any]) -> Path:
    """Write ``source`` rewritten in ``layout`` to ``target`` (no tags, no grader metadata)."""
    nb = nbformat.read(source, as_version=4)
    cells = LAYOUTS[layout]([_plain(c, budget) for c in nb.cells])
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(nbformat.writes(out), encoding="utf-8")
    return target
