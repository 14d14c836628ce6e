"""Measure every model a homework notebook trained, in the grader's process.

The kernel's runtime (``runtime/models.py``) keeps every model the notebook called on
Fashion-MNIST images or trained, and the grader's last probe brings them back as data:
parameters, the input shape and pixel range the model was fed, whether its parameters
changed, d2l fit settings, and the classes it predicts for the 10,000 test images
(computed in the kernel on unlabelled images). Here each model is

* rebuilt from its parameters (``grader.checking.models.rebuild``) when its architecture is a
  stack of standard layers or a book class whose ``forward`` (and the helpers it calls)
  this notebook defines exactly as the book does, and measured on the test set with the
  labels that never enter the kernel: *rebuilt* evidence;
* otherwise measured from the kernel's predictions: *kernel predictions*, weaker
  evidence, since the notebook's code produced them.

Accuracies the notebook printed are set beside the measured ones.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from grader.checking.models import accuracy, architecture, rebuild, test_set
from grader.checking.probe import Steps, build_request
from grader.notebook.static import CellCode
from grader.values import ArrayValue, ModuleValue

__all__ = ["MeasuredModel", "models_probe", "warm_imports", "trainable_matrices", "verified_book_classes", "net_forward_classes", "measure_models",
           "activations_of", "printed_accuracies", "DISAGREEMENT", "UNTRUSTED"]

DISAGREEMENT = 0.05
# What grading a full homework imports here after the run (~1.5 s on 2 cores): imported
# while the kernel runs the notebook instead, when this process is idle.
WARM_MODULES = ("torch", "scipy.optimize")
ACTIVATION_CLASSES = ("ReLU", "Sigmoid", "Tanh", "GELU", "LeakyReLU", "ELU", "SiLU", "Softplus", "Mish", "PReLU")


@dataclass
class MeasuredModel:
    """One model of the notebook and what the grader measured of it."""

    part: int
    number: int
    cls: str
    cell: int | None
    architecture: str
    trained: bool
    fmnist: bool
    accuracy: float | None = None
    evidence: str = "none"   # rebuilt | kernel predictions (untrusted: ...) | none
    reason: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    fits: list[dict[str, Any]] = field(default_factory=list)
    activations: list[str] = field(default_factory=list)
    printed: list[float] = field(default_factory=list)
    stored_printed: list[float] = field(default_factory=list)
    section: str | None = None
    weights: list[list[int]] = field(default_factory=list)  # shapes of its trainable matrices, in order

    @property
    def disagrees(self) -> bool:
        """A printed accuracy far from the measured one (the notebook's evaluation is off)."""
        return self.accuracy is not None and any(abs(p - self.accuracy) > DISAGREEMENT for p in self.printed)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["disagrees"] = self.disagrees
        return out


def models_probe() -> tuple[Steps, dict[str, Any]]:
    """The end-of-notebook probe asking the runtime for every model it kept."""
    node = {"kind": "call", "fn": {"kind": "runtime", "name": "tracked_models"}, "args": [], "kwargs": {}}
    descriptor = Steps({"models": node}, ("models",), max_bytes=512 * 1024 * 1024)
    return descriptor, build_request(descriptor)


def warm_imports(modules: Sequence[str] = WARM_MODULES) -> threading.Thread | None:
    """Import ``modules`` in a background thread (not a daemon: the process waits for it
    at exit rather than stopping an import half-way); None when all are imported already."""
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return None

    def load() -> None:
        for name in missing:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the measurement imports it again and reports
                pass

    thread = threading.Thread(target=load, name="d2l-grade imports", daemon=False)
    thread.start()
    return thread


# -- which notebook classes are the book's ------------------------------------------

def _shape(fn: ast.AST) -> str:
    """A function's code without its name, decorators, docstring and comments."""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    clone = ast.FunctionDef(name="f", args=fn.args, body=body, decorator_list=[], returns=None, type_comment=None)
    return ast.dump(clone, annotate_fields=False, include_attributes=False)


def _reference(source: str) -> dict[str, str]:
    return {node.name: _shape(node) for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def _decorated_for(fn: ast.FunctionDef) -> set[str]:
    """Classes a ``@add_to_class(C)`` / ``@d2l.add_to_class(C)`` decorator adds ``fn`` to."""
    out = set()
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and deco.args:
            name = deco.func.attr if isinstance(deco.func, ast.Attribute) else getattr(deco.func, "id", "")
            target = deco.args[0]
            if name == "add_to_class":
                out.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return out


def _definitions(codes: Iterable[CellCode]) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    """Every top-level function, and every method of every class (in the body or added
    later with add_to_class), as normalised code, in notebook order."""
    functions: dict[str, list[str]] = {}
    methods: dict[tuple[str, str], list[str]] = {}
    for code in codes:
        if code.tree is None:
            continue
        for node in code.tree.body:
            if isinstance(node, ast.FunctionDef):
                owners = _decorated_for(node)
                for owner in owners:
                    methods.setdefault((owner, node.name), []).append(_shape(node))
                if not owners:
                    functions.setdefault(node.name, []).append(_shape(node))
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        methods.setdefault((node.name, item.name), []).append(_shape(item))
    return functions, methods


def verified_book_classes(codes: Sequence[CellCode], book: dict[str, str], upto: int | None = None) -> frozenset[str]:
    """Notebook classes whose ``forward``, and every helper that forward calls, were
    exactly the book's when the model ran: the last definition of each in a cell up to
    ``upto`` (the model's cell; None: the whole notebook). A later redefinition of an
    unrelated ``softmax``, or of the class itself, does not change what the model ran.
    ``book`` maps a class name to the book's source of its forward and helpers."""
    functions, methods = _definitions(c for c in codes if upto is None or c.cell.index <= upto)
    verified = set()
    for cls, source in book.items():
        reference = _reference(source)
        forwards = methods.get((cls, "forward"), [])
        if not forwards or forwards[-1] != reference.get("forward"):
            continue
        helpers = [name for name in reference if name != "forward"]
        if all(functions.get(h) and functions[h][-1] == reference[h] for h in helpers):
            verified.add(cls)
    return frozenset(verified)


NET_FORWARD = _reference("def forward(self, X):\n    return self.net(X)\n")["forward"]
NET_FORWARD_CHECKED = _reference("def forward(self, X):\n    assert hasattr(self, 'net'), 'Neural network is defined'\n"
                                 "    return self.net(X)\n")["forward"]


def net_forward_classes(codes: Sequence[CellCode], upto: int | None = None) -> frozenset[str]:
    """Notebook classes whose forward, when the model ran, was ``return self.net(X)``: their
    own, or (with none of their own) that of a notebook base class (the 3.2 ``Module``)."""
    cells = [c for c in codes if (upto is None or c.cell.index <= upto) and c.tree is not None]
    _, methods = _definitions(cells)
    bases: dict[str, list[str]] = {}
    for code in cells:
        for node in code.tree.body:  # type: ignore[union-attr]
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]

    def is_net(cls: str, seen: frozenset[str] = frozenset()) -> bool:
        forwards = methods.get((cls, "forward"))
        if forwards:
            return forwards[-1] in (NET_FORWARD, NET_FORWARD_CHECKED)
        return any(b in bases and b not in seen and is_net(b, seen | {cls}) for b in bases.get(cls, []))
    return frozenset(cls for cls in bases if is_net(cls))


# -- measuring ------------------------------------------------------------------------

def activations_of(module: ModuleValue) -> list[str]:
    """Activation layers in the model's layer tree, in order, without repeats."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("class") in ACTIVATION_CLASSES and node["class"] not in found:
            found.append(node["class"])
        for _, child in node.get("children", []):
            walk(child)
    walk(module.tree)
    return found


_TEST_CACHE: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def _test_images(data_root: Path, side: int) -> tuple[np.ndarray, np.ndarray]:
    key = (str(data_root), side)
    if key not in _TEST_CACHE:
        _TEST_CACHE[key] = test_set(data_root, side)
    return _TEST_CACHE[key]


def _rebuild_net(module: ModuleValue, net_classes: frozenset[str]) -> Any:
    """``self.net`` of a class whose forward is ``return self.net(X)``, rebuilt when standard layers."""
    children = dict(module.tree.get("children", []))
    if module.class_name not in net_classes or "net" not in children:
        return None
    params = {k[4:]: v for k, v in module.params.items() if k.startswith("net.")}
    return rebuild(ModuleValue(tree=children["net"], params=params), frozenset())


UNTRUSTED = ("kernel predictions (untrusted: the kernel's copy of Fashion-MNIST holds the test labels, so the "
             "notebook could have looked them up; not scored)")


def _measure(entry: dict[str, Any], module: ModuleValue, book: frozenset[str], data_root: Path,
             labels: np.ndarray, net_classes: frozenset[str] = frozenset()) -> tuple[float | None, str, str]:
    """Accuracy on the test set, the kind of evidence, and why (when not rebuilt)."""
    side, shape = entry.get("side"), entry.get("shape")
    forward = rebuild(module, book) or _rebuild_net(module, net_classes)
    reason = ""
    if forward is not None and side and shape:
        try:
            images, _ = _test_images(data_root, int(side))
            low = float(entry.get("low") or 0.0)
            high = float(entry.get("high") if entry.get("high") is not None else 1.0)
            prepared = (images * (high - low) + low).reshape(len(images), *[int(n) for n in shape]).astype(np.float32)
            return accuracy(forward, prepared, labels), "rebuilt", ""
        except (ValueError, RuntimeError, KeyError) as exc:
            reason = f"could not rebuild it ({type(exc).__name__}: {str(exc)[:80]})"
    elif forward is None:
        reason = "its forward is the notebook's own code, so the grader cannot rebuild it"
    preds = entry.get("predictions")
    if isinstance(preds, ArrayValue) and preds.array.shape == labels.shape:
        return float(np.mean(preds.array == labels)), UNTRUSTED, reason
    return None, "none", entry.get("prediction_error") or reason or "no predictions on the test images"


def measure_models(entries: Any, part: int, cell_of: dict[int, int], book: Any,
                   data_root: Path) -> list[MeasuredModel]:
    """Every model the runtime sent back for notebook ``part``, measured.

    ``cell_of`` maps the runtime's model number to the cell that first trained (else
    first called) it. ``book``: the verified book classes, or a function of the model's
    cell giving (book classes, classes whose forward is ``self.net(X)``) as they were then."""
    if not isinstance(entries, list):
        return []
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls: one thread beats two contending ones
    try:
        return _measure_all(entries, part, cell_of, book, data_root)
    finally:
        torch.set_num_threads(threads)


def trainable_matrices(module: ModuleValue) -> list[list[int]]:
    """Shapes of the model's 2-D parameters and of the 2-D tensors it holds that require
    grad (a from-scratch model's ``W1 = torch.randn(..., requires_grad=True)``), in order."""
    found = [*module.params.values(), *(t for t in module.tensors.values()
                                        if isinstance(t, ArrayValue) and t.requires_grad)]
    return [list(v.shape) for v in found if isinstance(v, ArrayValue) and len(v.shape) == 2]


def _measure_all(entries: list[Any], part: int, cell_of: dict[int, int], book: Any,
                 data_root: Path) -> list[MeasuredModel]:
    labels: np.ndarray | None = None
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("module"), ModuleValue):
            continue
        module: ModuleValue = entry["module"]
        fmnist = bool(entry.get("side"))
        model = MeasuredModel(part=part, number=int(entry.get("id", 0)), cls=str(entry.get("class", "?")),
                              cell=cell_of.get(int(entry.get("id", 0))), architecture=architecture(module),
                              trained=bool(entry.get("updated")), fmnist=fmnist,
                              hparams={k: v for k, v in (entry.get("hparams") or {}).items()
                                       if isinstance(v, (int, float, str, bool))},
                              fits=[_fit_summary(f) for f in entry.get("fits") or [] if isinstance(f, dict)],
                              activations=activations_of(module), weights=trainable_matrices(module))
        if fmnist:
            if labels is None:
                labels = _test_images(data_root, 28)[1]
            classes, nets = book(model.cell) if callable(book) else (book, frozenset())
            model.accuracy, model.evidence, model.reason = _measure(entry, module, classes, data_root, labels, nets)
            if model.accuracy is not None:
                model.accuracy = round(model.accuracy, 4)
        else:
            model.reason = "not trained on Fashion-MNIST images: no test accuracy to measure"
        out.append(model)
    return out


def _number(value: Any) -> Any:
    if isinstance(value, ArrayValue):
        arr = value.array
        return arr.tolist() if arr.size <= 16 else f"tensor of shape {arr.shape}"
    return value if isinstance(value, (int, float, str, bool, list)) or value is None else str(value)


def _fit_summary(fit: dict[str, Any]) -> dict[str, Any]:
    """A fit's settings as plain JSON, keeping the small start/end parameters."""
    out = {k: _number(v) for k, v in fit.items() if k not in ("start", "end")}
    for key in ("start", "end"):
        if isinstance(fit.get(key), dict):
            out[key] = {k: _number(v) for k, v in fit[key].items()}
    return out


# -- what the notebook printed ---------------------------------------------------------

ACCURACY = re.compile(r"(?P<label>(?:[A-Za-z가-힣_]+[\s_-]*){0,2}?(?:acc(?:uracy)?|정확도)[^\n\d]{0,40}?)"
                      r"(?P<value>\d+(?:\.\d+)?\s*%|\d*\.\d+)", re.IGNORECASE)
HELD_OUT = re.compile(r"test|val|valid|held|검증|테스트", re.IGNORECASE)
BARE_TENSOR = re.compile(r"^\s*(?:tensor\()?(0?\.\d+|1\.0+)\)?\s*$")


def _value(text: str) -> float | None:
    text = text.strip()
    try:
        value = float(text.rstrip("%").strip()) / (100 if text.endswith("%") else 1)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def printed_accuracies(text: str, source: str = "") -> list[float]:
    """Accuracies a cell printed: numbers after 'acc'/'accuracy'/'정확도' (test or
    validation ones when a line has several), or bare numbers when the code names accuracy."""
    found: list[float] = []
    for line in text.splitlines():
        matches = [(m.group("label"), _value(m.group("value"))) for m in ACCURACY.finditer(line)]
        matches = [(label, v) for label, v in matches if v is not None]
        if not matches:
            bare = BARE_TENSOR.match(line)
            if bare and re.search(r"acc", source, re.IGNORECASE):
                value = _value(bare.group(1))
                if value is not None:
                    found.append(value)
            continue
        held = [v for label, v in matches if HELD_OUT.search(label)]
        found += held or [v for _, v in matches]
    return found
