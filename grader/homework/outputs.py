"""What cells printed when the grader ran them, against what the student's file shows.

Stored outputs are never evidence, but where they disagree with the grader's run the
instructor may want to look: code edited after it ran, a stale kernel, cells run out
of order. Many outputs legitimately change from run to run (random tensors, timings,
object ids, anything trained), so only cells whose output cannot depend on such things
are compared: a cell is *run-dependent* when it uses randomness, time, ids or training,
or reads a name that a run-dependent cell defined. Nothing here affects the score.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from grader.notebook.load import Notebook
from grader.notebook.static import CellCode

__all__ = ["fresh_texts", "Finding", "stored_findings", "run_dependent_cells", "normalise_output"]

RUN_DEPENDENT = re.compile(
    r"\b(rand\w*|normal_?|random|uniform_?|shuffle|time|perf_counter|datetime|id|hash|fit|fit_epoch|"
    r"train_dataloader|val_dataloader|DataLoader|Dropout|dropout|empty|SyntheticRegressionData|manual_seed|"
    r"getcwd|listdir|environ|memory_usage|tqdm|Timer|trainer|train)\b")
NOISE = re.compile(r"^(<Figure size .*>|\[d2l-grade:.*\]|.*Warning:.*|\s*warnings\.warn\(.*)$")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
SHOWN = 160


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else (value if isinstance(value, str) else "")


def fresh_texts(nb: Any) -> dict[int, str]:
    """Each submitted cell's output text in the grader's run (stdout, results, errors)."""
    out: dict[int, str] = {}
    if nb is None:
        return out
    for cell in nb.cells:
        origin = cell.metadata.get("d2l_grade", {}).get("origin")
        if origin is None or cell.cell_type != "code":
            continue
        parts = []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream" and output.get("name") == "stdout":
                parts.append(_text(output.get("text")))
            elif kind in ("execute_result", "display_data"):
                parts.append(_text((output.get("data") or {}).get("text/plain")))
            elif kind == "error":
                parts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}")
        out[int(origin)] = "".join(parts)
    return out


def normalise_output(text: str) -> str:
    """Output text without figures' reprs, warnings, addresses and trailing spaces."""
    lines = [ADDRESS.sub("0x…", line.rstrip()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line.strip() and not NOISE.match(line))


def _loads(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _binds(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds or changes in place."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            root = node
            while isinstance(root, (ast.Subscript, ast.Attribute)):
                root = root.value
            if isinstance(root, ast.Name):
                names.add(root.id)
    return names


def run_dependent_cells(codes: Sequence[CellCode]) -> set[int]:
    """Cells whose output may change from run to run (see the module's docstring).

    Statement by statement: one that uses randomness, time, ids or training, or a name a
    run-dependent statement bound, makes its cell run-dependent and taints what it binds;
    a statement without any rebinds its names clean."""
    tainted: set[str] = set()
    dependent: set[int] = set()
    for code in codes:
        if code.tree is None:
            dependent.add(code.cell.index)
            continue
        for stmt in code.tree.body:
            text = ast.unparse(stmt)
            if RUN_DEPENDENT.search(text) or _loads(stmt) & tainted:
                dependent.add(code.cell.index)
                tainted |= _binds(stmt)
            else:
                tainted -= _binds(stmt)
    return dependent


@dataclass
class Finding:
    """One thing about stored outputs an instructor may want to look at."""

    cell: int
    kind: str  # differs | stale | order
    message: str
    stored: str = ""
    fresh: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def stored_findings(nb: Notebook, codes: Sequence[CellCode], fresh: dict[int, str],
                    statuses: dict[int, str]) -> list[Finding]:
    """Stored outputs that differ from the grader's run, outputs left from an earlier run,
    and cells the student ran out of order."""
    findings: list[Finding] = []
    dependent = run_dependent_cells(codes)
    highest = 0
    # A Colab (or similar) export drops every execution count: outputs without counts are then
    # simply how the file was saved, not outputs left over from other code.
    counts_dropped = all(c.stored_count is None for c in nb.code_cells)
    for cell in nb.code_cells:
        stored = normalise_output(cell.stored_text)
        if cell.stored_count is None and stored and not counts_dropped:
            findings.append(Finding(cell.index, "stale", "shows output but has no execution count: "
                                    "the output is from an earlier run of other code", _short(stored)))
            continue
        if cell.stored_count is not None:
            if cell.stored_count < highest:
                what = ("the execution counter restarts here: the kernel was restarted" if cell.stored_count == 1 else
                        f"ran as In [{cell.stored_count}] after the cell above ran as In [{highest}]: "
                        "the notebook was not run top to bottom")
                findings.append(Finding(cell.index, "order", what))
            highest = cell.stored_count
        if not stored or cell.index in dependent or statuses.get(cell.index) not in ("ok", "error"):
            continue
        now = normalise_output(fresh.get(cell.index, ""))
        if now != stored and cell.index in fresh:
            findings.append(Finding(cell.index, "differs", "its stored output differs from what it prints now",
                                    _short(stored), _short(now)))
    return findings
