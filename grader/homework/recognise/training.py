"""Recognisers of exercises about training: the last minibatch when the batch size does
not divide the examples (3.4, exercise 7) and an MLP with an extra hidden layer (5.2,
exercise 2).

The last batch is recognised from the code (a loop over a data module's training
loader, outside any function) and judged on the batch left in the loop variables, its
size compared with ``num_train % batch_size`` read from the data module. The deeper MLP
is judged on the models the grader measured in the cell: layers counted from the
module's structure, accuracy on the Fashion-MNIST test set computed here.
"""

from __future__ import annotations

import ast
import re
from typing import Sequence

from grader.homework.recognise.base import (
    Attempt,
    Evidence,
    Measured,
    Recogniser,
    trains,
)
from grader.homework.trained import MeasuredModel
from grader.notebook.static import CellCode
from grader.values import ArrayValue

__all__ = ["DeeperMLP", "LastBatch", "hidden_layers"]

LOADERS = ("train_dataloader", "get_dataloader")


def _loader_of(node: ast.AST) -> str | None:
    """``data`` of ``data.train_dataloader()`` / ``data.get_dataloader(True)`` (inside ``iter``/``enumerate`` too)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("iter", "enumerate") \
            and node.args:
        return _loader_of(node.args[0])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOADERS \
            and isinstance(node.func.value, ast.Name):
        return node.func.value.id
    return None


def _batch_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple):
        names = []
        for element in target.elts:  # enumerate: (i, (X, y))
            names += _batch_names(element) if isinstance(element, ast.Tuple) else (
                [element.id] if isinstance(element, ast.Name) else [])
        return names
    return []


class LastBatch(Recogniser):
    """A loop over the training loader to its end: the last batch holds the remainder."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            for stmt in code.tree.body if code.tree is not None else []:
                data = _loader_of(stmt.iter) if isinstance(stmt, ast.For) else None
                if data is None or trains(ast.unparse(stmt)) or re.search(r"\bbreak\b", ast.unparse(stmt)):
                    continue
                names = _batch_names(stmt.target)
                if names:
                    reads = (*names, f"{data}.num_train", f"{data}.batch_size")
                    attempts.append(Attempt(self.id, part, [code.cell.index], reads, {"names": names, "data": data}))
                    break
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        data = attempt.facts["data"]
        total, size = ev.values.get(f"{data}.num_train"), ev.values.get(f"{data}.batch_size")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (total, size)):
            return Measured("none", f"`{data}` has no num_train and batch_size: not a d2l data module")
        tensors = []
        for name in attempt.facts["names"]:
            value = ev.values.get(name)
            for item in value if isinstance(value, (list, tuple)) else [value]:  # `for batch in ...`: (X, y)
                if isinstance(item, ArrayValue) and item.array.ndim:
                    tensors.append(item)
        if not tensors:
            return Measured("attempted", "no batch was left in the loop's variables after the cell")
        last = int(tensors[0].array.shape[0])
        want = total % size or size  # type: ignore[operator]
        sums = f"{total} = {total // size} x {size} + {total % size}"  # type: ignore[operator]
        if total % size == 0:  # type: ignore[operator]
            return Measured("attempted", f"{sums}: this batch size divides the examples, so every batch is full; "
                            "pick one that does not to see what happens to the last batch")
        if last != want:
            return Measured("wrong", f"the batch left after the loop has {last} examples, but the last of {sums} has "
                            f"{want}: did the loop stop early or read another loader?")
        return Measured("correct", f"the last batch has {last} examples ({sums}): the loader keeps the smaller "
                        "last batch (no drop_last)")


def hidden_layers(model: MeasuredModel) -> int:
    """Hidden layers of a model: its Linear layers minus the output layer (0 if it tells none)."""
    linears = len(re.findall(r"\bLinear\(", model.architecture))
    return max(linears - 1, 0)


class DeeperMLP(Recogniser):
    """An MLP with two or more hidden layers trained on Fashion-MNIST (the book's has one)."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        # tentative: any training cell, the book's own included, until its models are seen;
        # such a cell keeps its checkpoints
        return [Attempt(self.id, part, [c.cell.index], (), {"tentative": True}) for c in codes
                if c.tree is not None and trains(c.cell.source)]

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        deep = [m for m in ev.models if m.trained and m.fmnist and hidden_layers(m) >= 2]
        if not deep:  # the book's models (one hidden layer), or no model: not this exercise
            return Measured("none", "no model with two or more hidden layers was trained in these cells")
        lines = []
        for model in deep[:3]:
            accuracy = f"test accuracy {model.accuracy:.3f}" if model.accuracy is not None else (
                model.reason or "not measured")
            lines.append(f"{model.cls} with {hidden_layers(model)} hidden layers ({model.architecture}): {accuracy}")
        if all(m.accuracy is None for m in deep):
            return Measured("attempted", "; ".join(lines))
        return Measured("correct", "; ".join(lines) + "; compare it with the book's one hidden layer")
