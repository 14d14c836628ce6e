"""Prepare a notebook for execution: every edit is deliberate, small and listed.

* Install lines (``!pip install``, ``%pip install``, bare ``pip install`` that IPython
  would run as a magic, conda/apt) become no-ops: nothing is installed at grade time.
* ``%matplotlib`` lines become no-ops: the kernel stays on its headless backend, whose
  figures the grader captures (with the inline backend's show-and-close behaviour).
* A grading budget is injected papermill-style: a cell tagged ``injected-parameters``
  right after the cell tagged ``parameters``, replacing any earlier injected cell.

Nothing else in the student's cells changes; seeds and data hooks are installed by the
runtime before the first cell, not written into cells.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import nbformat

from grader.notebook.load import Notebook
from grader.results import Edit

__all__ = ["Prepared", "prepare", "translate", "INSTALL_LINE", "PARAMETERS_TAG", "INJECTED_TAG"]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
INSTALL_LINE = re.compile(
    r"^(?P<indent>\s*)(?:[!%]\s*)?(?:pip3?|conda|mamba|apt(?:-get)?|(?:python3?|\{sys\.executable\})\s+-m\s+pip)"
    r"\s+(?:-\S+\s+)*(?:install|uninstall)\b")
MATPLOTLIB_MAGIC = re.compile(r"^(?P<indent>\s*)%matplotlib\b")
SHELL_CELL = re.compile(r"^\s*%%(bash|sh|script|shell|system)\b")


@dataclass
class Prepared:
    """The notebook as it will run, with the edits made and each cell's original index."""

    notebook: Notebook
    nb: nbformat.NotebookNode
    edits: list[Edit] = field(default_factory=list)
    injected: dict[str, Any] = field(default_factory=dict)

    def origin(self, index: int) -> int | None:
        """Index in the submitted notebook of prepared cell ``index`` (None if injected)."""
        return self.nb.cells[index].metadata.get("d2l_grade", {}).get("origin")

    def position(self, origin: int) -> int:
        """Index in the prepared notebook of submitted cell ``origin``."""
        for i, cell in enumerate(self.nb.cells):
            if cell.metadata.get("d2l_grade", {}).get("origin") == origin:
                return i
        raise KeyError(origin)


def translate(value: Any) -> str:
    """Python source for a parameter value (bool before int; nan and inf spelled out)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(translate(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{translate(k)}: {translate(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a parameter of type {type(value).__name__}")


def _neutralise(source: str, cell: int, label: str = "") -> tuple[str, list[Edit]]:
    edits: list[Edit] = []
    shell = bool(SHELL_CELL.match(source))
    lines = source.splitlines()
    for number, line in enumerate(lines):
        for kind, pattern in (("install", INSTALL_LINE), ("matplotlib magic", MATPLOTLIB_MAGIC)):
            m = pattern.match(line)
            if m and not (shell and number == 0):
                noop = ":" if shell else "pass"
                lines[number] = f"{m.group('indent')}{noop}  # d2l-grade: not run while grading: {line.strip()}"
                edits.append(Edit(cell=cell, line=number + 1, kind=kind, original=line.strip()[:200], label=label))
                break
    return "\n".join(lines), edits


def _parameters_cell(values: Mapping[str, Any]) -> nbformat.NotebookNode:
    body = "\n".join(f"{name} = {translate(value)}" for name, value in values.items())
    source = "# Grading budget injected by d2l-grade (overrides the parameters cell above)\n" + body
    return nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG], "d2l_grade": {"origin": None}})


def prepare(notebook: Notebook, parameters: Mapping[str, Any] | None = None) -> Prepared:
    """The runnable nbformat notebook for ``notebook``, with its edits listed."""
    nb = notebook.to_nbformat()
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.metadata.get("tags", [])]
    prepared = Prepared(notebook=notebook, nb=nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            origin = cell.metadata["d2l_grade"]["origin"]
            cell.source, edits = _neutralise(cell.source, origin, notebook.cells[origin].label)
            prepared.edits += edits
    if parameters:
        where = next((i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.metadata.get("tags", [])), None)
        if where is not None:
            nb.cells.insert(where + 1, _parameters_cell(parameters))
            prepared.injected = dict(parameters)
    return prepared
