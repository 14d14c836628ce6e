"""Rebuild a student's trained model in the grader's process and measure it.

The kernel sends a model as data (:class:`~grader.values.ModuleValue`: its layer tree
with each standard layer's configuration, and its parameters). This module turns that
back into a torch function *here*, from the parameters alone, for

* any stack of standard ``torch.nn`` layers (Sequential, Linear and materialised
  LazyLinear, Flatten, the usual activations, Softmax/LogSoftmax, Dropout, Identity),
  also when wrapped in a d2l ``Module`` whose ``forward`` is d2l's own (``self.net(X)``);
* the book's from-scratch models ``SoftmaxRegressionScratch`` and ``MLPScratch``, which
  students define in their own notebooks: trusted only when the caller has checked that
  the notebook's class has the book's ``forward`` (``book_classes``).

Anything else (a student's own ``forward``) cannot be rebuilt faithfully: callers then
ask the kernel for logits on unlabelled images and mark that as weaker evidence
(:func:`evaluate` does both, in that order). Weights returned as plain tensors (softmax
regression's ``W``, ``b``) become a function with :func:`linear_forward`.
Accuracy is always computed here, on labels that never enter the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.values import ArrayValue, ModuleValue

__all__ = ["rebuild", "architecture", "accuracy", "test_set", "input_size", "linear_forward", "logits_accuracy",
           "layer_classes", "evaluate", "Evaluation", "REBUILT", "KERNEL_LOGITS", "layer_sequence", "stack_problems",
           "Layer"]

REBUILT = "rebuilt from parameters"
KERNEL_LOGITS = "logits from the kernel"

Forward = Callable[[Any], Any]
ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "GELU": "gelu", "SiLU": "silu",
               "ELU": "elu", "LeakyReLU": "leaky_relu", "Softplus": "softplus", "Mish": "mish"}
PASS_THROUGH = {"Dropout", "Identity", "Dropout1d", "AlphaDropout"}
BOOK_MODULE = "d2l.torch"


def _torch() -> Any:
    import torch

    return torch


def _tensor(value: Any) -> Any:
    if not isinstance(value, ArrayValue):
        raise ValueError("missing parameter")
    return _torch().from_numpy(np.array(value.array, dtype=np.float32))


def _is_standard(node: dict[str, Any]) -> bool:
    return str(node.get("module", "")).startswith("torch.nn.modules")


def _layer(node: dict[str, Any], params: dict[str, Any], prefix: str) -> Forward | None:
    """One standard layer (or a Sequential of them) as a function, or None if unknown."""
    torch = _torch()
    F = torch.nn.functional
    cls, cfg = node.get("class"), node.get("config", {})
    if cls == "Sequential":
        steps = []
        for name, child in node.get("children", []):
            step = _layer(child, params, f"{prefix}{name}.")
            if step is None:
                return None
            steps.append(step)

        def run(x: Any) -> Any:
            for step in steps:
                x = step(x)
            return x
        return run
    if cls == "Linear":
        weight = _tensor(params.get(f"{prefix}weight"))
        bias = _tensor(params[f"{prefix}bias"]) if f"{prefix}bias" in params else None
        return lambda x: F.linear(x, weight, bias)
    if cls == "Flatten":
        start, end = int(cfg.get("start_dim", 1)), int(cfg.get("end_dim", -1))
        return lambda x: torch.flatten(x, start, end)
    if cls in ACTIVATIONS:
        fn = getattr(F, ACTIVATIONS[cls])
        if cls == "LeakyReLU":
            slope = float(cfg.get("negative_slope", 0.01))
            return lambda x: fn(x, slope)
        if cls == "ELU":
            alpha = float(cfg.get("alpha", 1.0))
            return lambda x: fn(x, alpha)
        return fn
    if cls in ("Softmax", "LogSoftmax"):
        dim = cfg.get("dim")
        fn = F.softmax if cls == "Softmax" else F.log_softmax
        return lambda x: fn(x, dim=-1 if dim is None else int(dim))
    if cls in PASS_THROUGH:
        return lambda x: x
    return None


def _scratch(module: ModuleValue) -> Forward | None:
    """The book's from-scratch classifiers, recognised by class and parameter names."""
    torch = _torch()
    tensors = {**module.tensors, **module.params}
    cls = module.class_name
    if cls == "SoftmaxRegressionScratch" and {"W", "b"} <= tensors.keys():
        W, b = _tensor(tensors["W"]), _tensor(tensors["b"])
        return lambda x: x.reshape(-1, W.shape[0]) @ W + b
    if cls == "MLPScratch" and {"W1", "b1", "W2", "b2"} <= tensors.keys():
        W1, b1, W2, b2 = (_tensor(tensors[k]) for k in ("W1", "b1", "W2", "b2"))
        return lambda x: torch.relu(x.reshape(-1, W1.shape[0]) @ W1 + b1) @ W2 + b2
    return None


def rebuild(module: ModuleValue, book_classes: frozenset[str] = frozenset()) -> Forward | None:
    """A torch function computing the module's outputs from its parameters, or None.

    ``book_classes``: names of notebook-defined classes whose ``forward`` the caller has
    verified to be the book's (e.g. by comparing the class's source with the book's)."""
    tree = module.tree
    try:
        if _is_standard(tree):
            return _layer(tree, module.params, "")
        if module.class_name in book_classes or tree.get("module") == BOOK_MODULE:
            scratch = _scratch(module)
            if scratch is not None:
                return scratch
        children = dict(tree.get("children", []))
        if tree.get("forward_from") == BOOK_MODULE and set(children) == {"net"}:
            return _layer(children["net"], module.params, "net.")
    except (ValueError, KeyError):
        return None
    return None


def architecture(module: ModuleValue) -> str:
    """A one-line description such as ``Sequential(Flatten, Linear(784->256), ReLU, Linear(256->10))``."""
    def describe(node: dict[str, Any]) -> str:
        cfg = node.get("config", {})
        if node.get("class") == "Linear":
            return f"Linear({cfg.get('in_features')}->{cfg.get('out_features')})"
        children = node.get("children", [])
        inner = ", ".join(describe(c) for _, c in children)
        return f"{node.get('class')}({inner})" if children else str(node.get("class"))
    return describe(module.tree)


def input_size(module: ModuleValue) -> int | None:
    """Pixels per image the model expects (784 for 28 x 28, 1024 for 32 x 32), if it tells."""
    def first_linear(node: dict[str, Any]) -> int | None:
        if node.get("class") == "Linear":
            return int(node["config"].get("in_features", 0)) or None
        for _, child in node.get("children", []):
            found = first_linear(child)
            if found:
                return found
        return None
    found = first_linear(module.tree)
    if found:
        return found
    for name in ("W", "W1"):
        value = {**module.tensors, **module.params}.get(name)
        if isinstance(value, ArrayValue) and value.array.ndim == 2:
            return int(value.array.shape[0])
    return None


def test_set(data_root: Path, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 Fashion-MNIST test images (N x 1 x side x side, float32 in [0, 1]) and labels."""
    from grader.datastore import load_fashion_mnist

    images, labels = load_fashion_mnist(data_root, "test")
    if side != 28:
        cached = data_root / f"fashion-mnist/test-images-{side}x{side}.npy"
        if not cached.is_file():
            raise ValueError(f"no {side}x{side} copy of the test images in the data store")
        images = np.load(cached)
    return (np.asarray(images, dtype=np.float32) / 255.0)[:, None], labels


def accuracy(forward: Forward, images: np.ndarray, labels: np.ndarray, batch: int = 2000) -> float:
    """Share of ``images`` whose highest output is the label, computed here."""
    torch = _torch()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out = forward(torch.from_numpy(images[start:start + batch]))
            correct += int((out.argmax(dim=1).numpy() == labels[start:start + batch]).sum())
    return correct / len(images)


def linear_forward(W: Any, b: Any) -> Forward:
    """``x -> x W + b`` (x flattened to rows of ``W.shape[0]``) from the weights as sent
    back by the kernel; ``ValueError`` unless W is 2-D and b has W's column count."""
    if not isinstance(W, ArrayValue) or not isinstance(b, ArrayValue):
        raise ValueError("W and b must be tensors")
    if W.array.ndim != 2 or b.array.reshape(-1).shape[0] != W.array.shape[1]:
        raise ValueError(f"W of shape {W.shape} and b of shape {b.shape} do not make a linear map")
    weight, bias = _tensor(W), _tensor(b).reshape(-1)
    return lambda x: x.reshape(-1, weight.shape[0]) @ weight + bias


def logits_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose largest entry is the label; ``ValueError`` on a shape mismatch
    or non-finite outputs."""
    out = np.asarray(logits)
    if out.ndim != 2 or out.shape[0] != len(labels):
        raise ValueError(f"expected {len(labels)} rows of class scores, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("the outputs contain nan or inf")
    return float(np.mean(out.argmax(axis=1) == np.asarray(labels)))


def layer_classes(module: ModuleValue) -> list[str]:
    """Class names of every layer in the module's tree, depth first (the module itself first)."""
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        names.append(str(node.get("class", "?")))
        for _, child in node.get("children", []):
            walk(child)
    walk(module.tree)
    return names


@dataclass(frozen=True)
class Evaluation:
    """A model's accuracy measured here, and how: :data:`REBUILT` (its parameters,
    standard layers) or :data:`KERNEL_LOGITS` (outputs the kernel computed, weaker)."""

    accuracy: float
    evidence: str
    architecture: str = ""
    kernel_accuracy: float | None = None


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, kernel_logits: Any = None,
             book_classes: frozenset[str] = frozenset()) -> Evaluation:
    """Accuracy of ``model`` (a :class:`ModuleValue`) on ``images``: rebuilt here when
    possible, else from ``kernel_logits`` (an :class:`ArrayValue` the kernel computed on
    the same unlabelled images). ``ValueError`` with the reason when neither works.
    With both, ``kernel_accuracy`` records the kernel's figure as a cross-check."""
    kernel = None
    if isinstance(kernel_logits, ArrayValue):
        kernel = logits_accuracy(kernel_logits.array, labels)
    described = architecture(model) if isinstance(model, ModuleValue) else ""
    forward = rebuild(model, book_classes) if isinstance(model, ModuleValue) else None
    if forward is not None:
        try:
            return Evaluation(accuracy(forward, images, labels), REBUILT, described, kernel)
        except (RuntimeError, ValueError):
            pass  # shapes the rebuilt layers reject: fall back to the kernel's outputs
    if kernel is not None:
        return Evaluation(kernel, KERNEL_LOGITS, described, kernel)
    raise ValueError("the model could not be rebuilt from its parameters and the kernel gave no outputs")


@dataclass(frozen=True)
class Layer:
    """One layer a rebuilt stack applies: its class and, for Linear, its sizes."""

    kind: str
    sizes: tuple[int, int] | None = None

    def __str__(self) -> str:
        return f"Linear({self.sizes[0]}, {self.sizes[1]})" if self.sizes else self.kind


def layer_sequence(module: ModuleValue) -> list[Layer] | None:
    """The layers ``module`` applies, in order, when :func:`rebuild` can rebuild it as a
    stack of standard layers (Sequential flattened, Dropout and Identity left out), else
    None: the order of a model with its own ``forward`` cannot be read from its layers."""
    tree = module.tree
    if not _is_standard(tree):
        children = dict(tree.get("children", []))
        if tree.get("forward_from") != BOOK_MODULE or set(children) != {"net"} or not _is_standard(children["net"]):
            return None
        tree = children["net"]
    out: list[Layer] = []

    def walk(node: dict[str, Any]) -> None:
        cls, cfg = str(node.get("class")), node.get("config", {})
        if cls == "Sequential":
            for _, child in node.get("children", []):
                walk(child)
        elif cls == "Linear":
            out.append(Layer(cls, (int(cfg.get("in_features", 0)), int(cfg.get("out_features", 0)))))
        elif cls not in PASS_THROUGH:
            out.append(Layer(cls))
    walk(tree)
    return out


def stack_problems(layers: list[Layer], *, min_hidden: int, activation: str | None = None) -> list[str]:
    """What keeps ``layers`` from being a classifier with at least ``min_hidden`` hidden
    layers, each followed by a nonlinearity (``activation``, a class name, if given), that
    ends in logits. Each problem is a sentence for the student; none means it is one."""
    problems = []
    linear = [i for i, layer in enumerate(layers) if layer.kind == "Linear"]
    if len(linear) - 1 < min_hidden:
        problems.append(f"it has {max(len(linear) - 1, 0)} hidden layer(s), the exercise asks for at "
                        f"least {min_hidden}: add a Linear layer (and its activation) before the output layer")
    for a, b in zip(linear, linear[1:]):
        between = [layer.kind for layer in layers[a + 1:b]]
        acts = [k for k in between if k in ACTIVATIONS]
        if not acts:
            problems.append(f"no nonlinearity between {layers[a]} and {layers[b]}: two linear layers in a row are "
                            "one linear map, so the hidden layer adds nothing")
        elif activation and any(k != activation for k in acts):
            problems.append(f"the activation after {layers[a]} is {acts[0]}, the exercise asks for {activation}")
    last = layers[-1].kind if layers else ""
    if last in ("Softmax", "LogSoftmax"):
        problems.append(f"it ends in {last}: return the logits (the cross-entropy loss applies the softmax itself)")
    elif last and last != "Linear":
        problems.append(f"it ends in {last} after the output layer: the output layer's scores are the logits")
    return problems
