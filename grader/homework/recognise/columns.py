"""2.2, exercise 2: select a data frame's columns by name (``data[['NumRooms', 'RoofType']]``,
``data.loc[:, 'Price']``) rather than by position (the book's ``iloc``).

Recognised from the code (a subscript by string labels of a name), judged on the frames
read after the cell: the frame indexed must be a data frame that has those columns, and
what the selection produced must hold them. Subscripts of a dict (``params['lr']``) are
dropped on measurement: the indexed name is not a frame.
"""

from __future__ import annotations

import ast
from typing import Any, Sequence

from grader.homework.recognise.base import Attempt, Evidence, Measured, Recogniser
from grader.notebook.static import CellCode
from grader.values import FrameValue

__all__ = ["ColumnsByName"]

BOOK_INPUTS = ["NumRooms", "RoofType"]  # the book's data.iloc[:, 0:2] of house_tiny.csv


def _labels(node: ast.AST) -> list[str] | None:
    """String labels of an index: ``'A'``, ``['A', 'B']``, ``(slice, 'A')`` as ``.loc`` takes them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List) and node.elts and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                        for e in node.elts):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Slice):
        return _labels(node.elts[1])
    return None


def _selection(node: ast.AST, names: dict[str, list[str]] | None = None) -> tuple[str, list[str]] | None:
    """(frame name, labels) of ``frame[...]`` or ``frame.loc[...]`` by string labels; ``names``:
    variables holding labels (``cols = ['A', 'B']`` before ``data[cols]``)."""
    if not isinstance(node, ast.Subscript) or not isinstance(node.ctx, ast.Load):
        return None
    value, index = node.value, node.slice
    names = names or {}
    if isinstance(index, ast.Name) and index.id in names:
        labels: list[str] | None = names[index.id]
    elif isinstance(index, ast.Tuple) and len(index.elts) == 2 and isinstance(index.elts[1], ast.Name) \
            and index.elts[1].id in names:
        labels = names[index.elts[1].id] if isinstance(index.elts[0], ast.Slice) else None
    else:
        labels = _labels(index)
    if isinstance(value, ast.Attribute) and value.attr == "loc":
        value = value.value
    elif not isinstance(index, (ast.Constant, ast.List, ast.Name)):
        return None  # frame[(..., ...)] without .loc is no column selection
    return (value.id, labels) if isinstance(value, ast.Name) and labels else None


class ColumnsByName(Recogniser):
    """Columns selected by their names."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        names: dict[str, list[str]] = {}  # variables bound to labels, in notebook order
        for code in codes:
            if code.tree is None:
                continue
            for stmt in code.tree.body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    labels = _labels(stmt.value) if isinstance(stmt.value, ast.List) else None
                    if labels:
                        names[stmt.targets[0].id] = labels
                    else:
                        names.pop(stmt.targets[0].id, None)
            picks: list[dict[str, Any]] = []
            for stmt in ast.walk(code.tree):
                if not isinstance(stmt, ast.stmt) or isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                    continue
                targets = _targets(stmt)
                for node in ast.iter_child_nodes(stmt):
                    if isinstance(node, ast.stmt):
                        continue  # a nested statement is walked on its own
                    for sub in ast.walk(node):
                        picked = _selection(sub, names)
                        if picked:
                            picks.append({"frame": picked[0], "labels": picked[1], "into": targets.get(id(sub))})
            if picks:
                reads = tuple(dict.fromkeys([p["frame"] for p in picks] + [p["into"] for p in picks if p["into"]]))
                attempts.append(Attempt(self.id, part, [code.cell.index], reads, {"picks": picks[:8]}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        record = ev.records.get(attempt.cells[0])
        picks = [p for p in attempt.facts["picks"] if isinstance(ev.values.get(p["frame"]), FrameValue)
                 and ev.values[p["frame"]].nrows >= 0]
        if record is not None and record.status == "error" and record.ename == "KeyError":
            return Measured("wrong", f"selecting by name raised KeyError: {record.evalue[:80]}: a label must be one of "
                            "the frame's column names, spelled as `data.columns` shows them")
        if not picks:
            return Measured("none", "no data frame was indexed by column names")
        lines = []
        for pick in picks:
            frame: FrameValue = ev.values[pick["frame"]]
            missing = [label for label in pick["labels"] if label not in frame.names]
            if missing:
                return Measured("wrong", f"`{pick['frame']}` has no column {', '.join(map(repr, missing))} "
                                f"(its columns: {', '.join(frame.names[:10])})")
            got = ev.values.get(pick["into"]) if pick["into"] else None
            if isinstance(got, FrameValue) and got.names != pick["labels"]:
                return Measured("wrong", f"`{pick['into']}` holds columns {got.names}, not {pick['labels']}")
            same = " (the book's data.iloc[:, 0:2])" if pick["labels"] == BOOK_INPUTS else ""
            lines.append(f"{', '.join(pick['labels'])} of `{pick['frame']}` by name{same}")
        if record is not None and record.status != "ok":
            return Measured("attempted", f"the cell failed: {record.ename}: {record.evalue[:80]}")
        return Measured("correct", "selected " + "; ".join(lines[:4]))


def _targets(stmt: ast.stmt) -> dict[int, str]:
    """id(value node) -> the name it is assigned to (``a, b = x[...], y[...]`` too)."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return {}
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, ast.Name):
        return {id(value): target.id}
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        return {id(v): t.id for t, v in zip(target.elts, value.elts) if isinstance(t, ast.Name)}
    return {}
