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
    notebook_classes,
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


def _listed(stmt: ast.stmt) -> tuple[str, str] | None:
    """(name, data) of ``name = list(data.train_dataloader())`` (or ``[b for b in ...]``)."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        return None
    value = stmt.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list" and value.args:
        data = _loader_of(value.args[0])
    elif isinstance(value, ast.ListComp) and len(value.generators) == 1:
        data = _loader_of(value.generators[0].iter)
    else:
        data = None
    return (stmt.targets[0].id, data) if data else None


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
                listed = _listed(stmt)
                if listed is not None:  # batches = list(data.train_dataloader()): the last one is batches[-1]
                    name, data = listed
                    reads = (name, f"{data}.num_train", f"{data}.batch_size")
                    attempts.append(Attempt(self.id, part, [code.cell.index], reads,
                                            {"names": [name], "data": data, "listed": True}))
                    break
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
            if attempt.facts.get("listed"):
                value = value[-1] if isinstance(value, list) and value else None  # the last of every batch
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


MATRIX_MAKERS = ("randn", "rand", "zeros", "ones", "empty", "full", "normal", "Tensor", "FloatTensor")


def _matrix_call(node: ast.AST) -> bool:
    """A call making a 2-D tensor: ``torch.randn(a, b)``, ``torch.normal(0, s, (a, b))``,
    ``torch.empty((a, b))``, ``torch.zeros(size=(a, b))``."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name not in MATRIX_MAKERS:
        return False
    size = next((k.value for k in node.keywords if k.arg == "size"), None)
    if size is None:
        if name in ("normal", "full"):
            size = node.args[2 if name == "normal" else 0] if len(node.args) > (2 if name == "normal" else 0) else None
        elif len(node.args) == 1:
            size = node.args[0]
        else:
            return len(node.args) == 2
    return isinstance(size, (ast.Tuple, ast.List)) and len(size.elts) == 2


def _class_matrices(name: str, classes: dict[str, ast.ClassDef], depth: int = 0) -> int:
    """Weight matrices a notebook class makes itself (``self.W2 = nn.Parameter(torch.randn(h1, h2))``,
    ``self.weight = torch.normal(0, s, (n, m), requires_grad=True)``), its notebook base classes'
    included; its submodules are counted from the model's structure."""
    node = classes.get(name)
    if node is None or depth > 3:
        return 0
    count = 0
    for fn in node.body:
        if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
            for stmt in ast.walk(fn):
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Attribute) for t in stmt.targets) \
                        and any(_matrix_call(n) for n in ast.walk(stmt.value)):
                    count += 1
    for base in node.bases:
        base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if base_name != name and base_name in classes:
            count += _class_matrices(base_name, classes, depth + 1)
    return count


def hidden_layers(model: MeasuredModel, codes: Sequence[CellCode] = ()) -> int:
    """Hidden layers of an MLP: its weight matrices minus the output layer's (0 if it tells none).

    The larger of two counts: the 2-D matrices the measured model holds (``weights``: its
    parameters, and tensors that require grad, however they were made: in a loop, with
    ``setattr``, in a ``ParameterList``), and its structure: every ``Linear`` (a
    ``LazyLinear`` is one once it ran), in a ``Sequential``, a ``ModuleList`` or anywhere in
    the tree, plus the matrices each notebook class in the tree makes in its code."""
    measured = sum(1 for shape in model.weights if len(shape) == 2)
    linears = len(re.findall(r"\bLinear\(", model.architecture))
    classes = notebook_classes(codes, model.cell)
    own = sum(_class_matrices(token, classes) for token in re.findall(r"[A-Za-z_]\w*", model.architecture)
              if token != "Linear")
    return max(measured, linears + own) - 1 if max(measured, linears + own) else 0


class DeeperMLP(Recogniser):
    """An MLP with two or more hidden layers trained on Fashion-MNIST (the book's has one)."""

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        # tentative: any training cell, the book's own included, until its models are seen;
        # such a cell keeps its checkpoints
        return [Attempt(self.id, part, [c.cell.index], (), {"tentative": True}) for c in codes
                if c.tree is not None and trains(c.cell.source)]

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        deep = [m for m in ev.models if m.trained and m.fmnist and hidden_layers(m, ev.codes) >= 2]
        if not deep:  # the book's models (one hidden layer), or no model: not this exercise
            return Measured("none", "no model with two or more hidden layers was trained in these cells")
        lines = []
        for model in deep[:3]:
            accuracy = f"test accuracy {model.accuracy:.3f}" if model.accuracy is not None else (
                model.reason or "not measured")
            lines.append(f"{model.cls} with {hidden_layers(model, ev.codes)} hidden layers ({model.architecture}): "
                         f"{accuracy}")
        if all(m.accuracy is None for m in deep):
            return Measured("attempted", "; ".join(lines))
        return Measured("correct", "; ".join(lines) + "; compare it with the book's one hidden layer")
