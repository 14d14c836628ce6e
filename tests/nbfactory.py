"""Build small notebooks for tests: ``notebook([code("..."), md("...")], exercises=[...])``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import nbformat


def code(source: str, *tags: str, **metadata: Any) -> nbformat.NotebookNode:
    """A code cell (``tags`` such as ``exercise:broadcasting``)."""
    meta = dict(metadata)
    if tags:
        meta["tags"] = list(tags)
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=meta)


def md(source: str, *tags: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return nbformat.v4.new_markdown_cell(source.strip("\n"), metadata={"tags": list(tags)} if tags else {})


def notebook(cells: Sequence[nbformat.NotebookNode], *, exercises: Sequence[str] = (), homework: str | None = None,
             metadata: dict[str, Any] | None = None) -> nbformat.NotebookNode:
    """A notebook of ``cells`` whose metadata names the exercises or homework."""
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    grade_meta: dict[str, Any] = {}
    if exercises:
        grade_meta["exercises"] = list(exercises)
    if homework:
        grade_meta["homework"] = homework
    if grade_meta:
        nb.metadata["d2l_grade"] = grade_meta
    nb.metadata.update(metadata or {})
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    """Write ``nb`` to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def from_solution(solution: Path, replace: dict[str, str], path: Path) -> Path:
    """A copy of a solution notebook with source substrings replaced (for wrong answers)."""
    data = json.loads(solution.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for old, new in replace.items():
            text = text.replace(old, new)
        cell["source"] = text
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
