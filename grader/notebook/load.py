"""Read and validate notebooks; tolerate what real submissions look like.

A notebook must be JSON, nbformat 4 (any minor version), with a list of cells. Ids
missing, duplicated or invalid, sources stored as lists, Colab or VS Code metadata, and
huge stored outputs are all accepted; stored outputs are kept only as short text
summaries (they are never evidence, but the report compares them with fresh ones).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.errors import NotebookError

__all__ = ["Cell", "Notebook", "read_notebook", "EXERCISE_TAG", "units_in_metadata"]

EXERCISE_TAG = "exercise:"
STORED_TEXT_LIMIT = 4000
MAX_NOTEBOOK_BYTES = 512 * 1024 * 1024


@dataclass
class Cell:
    """One cell as submitted: position, type, source, tags, stored output text."""

    index: int
    kind: str
    source: str
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    stored_text: str = ""
    stored_count: int | None = None
    number: int = 0  # 1-based among the notebook's cells of this kind (code cells: Jupyter's [n] after Run All)

    @property
    def is_code(self) -> bool:
        return self.kind == "code"

    @property
    def label(self) -> str:
        """How reports name this cell: ``code cell 5`` is the fifth code cell, the one
        Jupyter numbers ``[5]`` after Restart & Run All (markdown cells count apart)."""
        return f"{self.kind} cell {self.number or self.index + 1}"

    def exercise_tags(self) -> list[str]:
        return [t[len(EXERCISE_TAG):] for t in self.tags if t.startswith(EXERCISE_TAG)]


@dataclass
class Notebook:
    """A validated notebook: its cells, metadata and where it came from."""

    path: Path
    cells: list[Cell]
    metadata: dict[str, Any]
    sha256: str
    nbformat_minor: int
    notes: list[str] = field(default_factory=list)

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code]

    def to_nbformat(self) -> nbformat.NotebookNode:
        """A clean nbformat-4.5 notebook of the same cells, outputs cleared, fresh ids."""
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
        for cell in self.cells:
            meta = {"tags": list(cell.tags)} if cell.tags else {}
            meta["d2l_grade"] = {"origin": cell.index}
            if cell.kind == "code":
                nb.cells.append(nbformat.v4.new_code_cell(cell.source, metadata=meta))
            elif cell.kind == "markdown":
                nb.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
            else:
                nb.cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=meta))
        return nb


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _stored_text(outputs: Any) -> str:
    """The text a cell showed when the student ran it, capped; images are dropped."""
    parts: list[str] = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_text((out.get("data") or {}).get("text/plain")))
        elif kind == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
        if sum(map(len, parts)) > STORED_TEXT_LIMIT:
            break
    return "".join(parts)[:STORED_TEXT_LIMIT]


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    if path.suffix == ".py":
        raise NotebookError.from_path(path, "is a Python file, not a notebook (.ipynb); export the notebook from Jupyter")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise NotebookError.from_path(path, "is not UTF-8 text, so it is not a notebook") from None
    except json.JSONDecodeError as exc:
        raise NotebookError.from_path(path, f"is not valid JSON (line {exc.lineno}: {exc.msg}); is it really a .ipynb?") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError.from_path(path, "is JSON but not a Jupyter notebook (no 'cells')")
    major = data.get("nbformat")
    if major is None:
        raise NotebookError.from_path(path, "has no 'nbformat' version: not a notebook saved by Jupyter")
    if major != 4:
        raise NotebookError.from_path(
            path, f"is nbformat {major}, only nbformat 4 is supported; open and save it in a current Jupyter")
    if not isinstance(data["cells"], list):
        raise NotebookError.from_path(path, "has a 'cells' entry that is not a list")
    return data


def read_notebook(path: str | Path) -> Notebook:
    """Read ``path`` and return a :class:`Notebook`; bad input raises :class:`NotebookError`."""
    path = Path(path)
    if not path.exists():
        raise NotebookError.from_path(path, "no such file")
    if path.is_dir():
        raise NotebookError.from_path(path, "is a directory; give the .ipynb file (or use `grade batch` for a folder)")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError.from_path(path, f"is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    raw = path.read_bytes()
    data = _parse(path, raw)
    cells, notes, seen_ids = [], [], set()
    numbers: dict[str, int] = {}
    for index, entry in enumerate(data["cells"]):
        if not isinstance(entry, dict) or "cell_type" not in entry:
            raise NotebookError.from_path(path, f"cell {index + 1} is malformed (no cell_type)")
        cell_id = entry.get("id")
        if cell_id is not None and cell_id in seen_ids:
            notes.append(f"cell {index + 1}: duplicated cell id {cell_id!r} (ignored)")
        seen_ids.add(cell_id)
        meta = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        tags = tuple(str(t) for t in meta.get("tags", []) if isinstance(t, str))
        kind = str(entry["cell_type"])
        numbers[kind] = numbers.get(kind, 0) + 1
        cells.append(Cell(index=index, kind=kind, number=numbers[kind], source=_text(entry.get("source")),
                          tags=tags, metadata=meta, stored_text=_stored_text(entry.get("outputs")),
                          stored_count=entry.get("execution_count") if isinstance(entry.get("execution_count"), int) else None))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return Notebook(path=path, cells=cells, metadata=metadata, sha256=hashlib.sha256(raw).hexdigest(),
                    nbformat_minor=int(data.get("nbformat_minor") or 0), notes=notes)


def units_in_metadata(nb: Notebook) -> tuple[list[str], str | None]:
    """Exercise ids and homework id the notebook's metadata and tags declare."""
    meta = nb.metadata.get("d2l_grade") or {}
    exercises = [str(x) for x in meta.get("exercises", []) if isinstance(x, str)] if isinstance(meta, dict) else []
    for cell in nb.cells:
        for tag in cell.exercise_tags():
            if tag not in exercises:
                exercises.append(tag)
    homework = meta.get("homework") if isinstance(meta, dict) and isinstance(meta.get("homework"), str) else None
    return exercises, homework
