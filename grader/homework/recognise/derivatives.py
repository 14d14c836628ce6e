"""Recognisers of exercises answered by a derivative: the chain rule for
f(x) = log(x^2) sin x + 1/x (2.5, exercise 6) and the derivatives of pReLU and Swish
(5.1, exercises 2 and 3), and the shape of a gradient with respect to a matrix (5.3,
exercise 1).

Each is recognised from the code (the function's ingredients and a backward pass) and
judged on the gradient read after the cell, compared with the formula computed here.
A gradient that matches no formula is often one accumulated over two backward passes;
the messages say so.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Sequence

import numpy as np

from grader.homework.recognise.base import (
    MAX_READS,
    Attempt,
    Evidence,
    Measured,
    Recogniser,
    effective_source,
    loaded_globals,
    value_names,
)
from grader.notebook.static import CellCode
from grader.values import ArrayValue

__all__ = ["ChainRuleDerivative", "GradientShape", "PReLUDerivative", "SwishDerivative", "grad_inputs"]

AUTOGRAD = re.compile(r"\.backward\(|autograd\.grad\(")
ACCUMULATED = "; if backward ran more than once, x.grad holds the sum: zero it first (x.grad.zero_())"


def grad_inputs(code: CellCode) -> list[str]:
    """Names the cell makes require grad (``requires_grad=True``, ``x.requires_grad_()``)."""
    names: list[str] = []
    for node in ast.walk(code.tree) if code.tree is not None else []:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and any(k.arg == "requires_grad" for k in node.value.keywords):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "requires_grad_" and isinstance(node.func.value, ast.Name):
            names.append(node.func.value.id)
    return list(dict.fromkeys(names))


def autograd_results(code: CellCode) -> dict[str, str]:
    """input -> the name holding its gradient, for ``(gx,) = torch.autograd.grad(y, x)`` (and ``gx, = ...``,
    ``gx = ...[0]``): the gradient is returned, not kept in ``x.grad``."""
    out: dict[str, str] = {}
    for node in ast.walk(code.tree) if code.tree is not None else []:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        value, target = node.value, node.targets[0]
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant) and value.slice.value == 0:
            value, target = value.value, ast.Tuple(elts=[target], ctx=ast.Store())
        if not (isinstance(value, ast.Call) and ast.unparse(value.func).endswith("autograd.grad")):
            continue
        inputs = value.args[1] if len(value.args) > 1 else next((k.value for k in value.keywords if k.arg == "inputs"), None)
        inputs_list = inputs.elts if isinstance(inputs, (ast.Tuple, ast.List)) else [inputs]
        grads = target.elts if isinstance(target, (ast.Tuple, ast.List)) else []
        for x, g in zip(inputs_list, grads):
            if isinstance(x, ast.Name) and isinstance(g, ast.Name):
                out[x.id] = g.id
    return out


def _with_grad(values: dict[str, Any], names: Sequence[str],
               results: dict[str, str] | None = None) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The first of ``names`` read as a tensor with a gradient of its shape: (name, x, grad); the
    gradient is ``x.grad`` or the name ``results`` says holds what autograd.grad returned."""
    for name in names:
        value = values.get(name)
        if not isinstance(value, ArrayValue):
            continue
        if value.grad is not None and value.grad.array.shape == value.array.shape:
            return name, value.array.astype(float), value.grad.array.astype(float)
        grad = values.get((results or {}).get(name, ""))
        if isinstance(grad, ArrayValue) and grad.array.shape == value.array.shape:
            return name, value.array.astype(float), grad.array.astype(float)
    return None


class _Derivative(Recogniser):
    """Shared: cells whose source matches ``PATTERN`` and run autograd on an input they make require grad."""

    PATTERN = re.compile("$^")
    TENTATIVE = False  # True: the pattern is broad, so a cell it finds keeps its checkpoints
    EXCLUDE: re.Pattern[str] | None = None

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        made: list[str] = []  # names earlier cells made require grad
        for code in codes:
            if code.tree is None:
                continue
            own = grad_inputs(code)
            src = effective_source(code, codes)  # with the helpers it calls: def prelu(...) in the cell before
            if AUTOGRAD.search(src):
                loaded = loaded_globals(code, codes)
                inputs = list(dict.fromkeys(own + [n for n in loaded if n in made]))
                # what the function was applied to, in the cells that computed the names this one reads
                before = [c.cell.source for c in codes if c.cell.index < code.cell.index
                          and set(value_names(codes, [c.cell.index])) & set(loaded)][-2:]
                text = "\n".join([src, *before])
                if inputs and self.PATTERN.search(text) and not (self.EXCLUDE is not None and self.EXCLUDE.search(text)):
                    results = autograd_results(code)
                    reads = tuple(dict.fromkeys(inputs + list(results.values())
                                                + list(value_names(codes, [code.cell.index]))))
                    attempts.append(Attempt(self.id, part, [code.cell.index], reads[:MAX_READS],
                                            {"inputs": inputs, "tentative": self.TENTATIVE, "results": results}))
            made += [n for n in own if n not in made]
        return attempts

    def _read(self, attempt: Attempt, ev: Evidence) -> tuple[str, np.ndarray, np.ndarray] | Measured:
        found = _with_grad(ev.values, attempt.facts.get("inputs", []), attempt.facts.get("results"))
        if found is not None:
            return found
        record = next((r for c in attempt.cells if (r := ev.records.get(c)) is not None and r.status != "ok"), None)
        why = f" (the cell failed: {record.ename}: {record.evalue[:80]})" if record else ""
        return Measured("attempted", "no gradient was found on the input tensor after the cell" + why)


class ChainRuleDerivative(_Derivative):
    """f(x) = log(x^2) sin x + 1/x: its derivative by the chain rule, checked against autograd."""

    PATTERN = re.compile(r"\blog\b[\s\S]*\bsin\b|\bsin\b[\s\S]*\blog\b")

    @staticmethod
    def formula(x: np.ndarray) -> np.ndarray:
        """df/dx = 2 sin(x) / x + log(x^2) cos(x) - 1 / x^2."""
        return 2 * np.sin(x) / x + np.log(x ** 2) * np.cos(x) - 1 / x ** 2

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        read = self._read(attempt, ev)
        if isinstance(read, Measured):
            return read
        name, x, grad = read
        keep = x != 0
        want = self.formula(x[keep])
        off = float(np.max(np.abs(grad[keep] - want) / (1 + np.abs(want)))) if want.size else 0.0
        if off > 1e-3:
            return Measured("wrong", f"`{name}.grad` differs from the chain-rule derivative 2 sin(x)/x + log(x^2) cos(x) "
                            f"- 1/x^2 by up to {off:.3g} (relative): check f{ACCUMULATED}")
        returned = set(attempt.facts.get("results", {}).values())  # autograd.grad's own result is no formula
        hand = [n for n, v in ev.values.items() if n not in attempt.facts["inputs"] and n not in returned
                and isinstance(v, ArrayValue)
                and v.array.shape == x.shape]
        agree = [n for n in hand if np.allclose(ev.values[n].array.astype(float)[keep], want, rtol=1e-3, atol=1e-4)]
        if agree:
            return Measured("correct", f"`{agree[0]}` (the chain-rule derivative written as code) equals "
                            f"2 sin(x)/x + log(x^2) cos(x) - 1/x^2, and so does autograd's `{name}.grad`, "
                            f"at {int(keep.sum())} points (computed here)")
        if any(re.search(r"\bcos\b", text) for text in ev.prose):
            return Measured("correct", f"autograd's `{name}.grad` equals the derivative computed here, "
                            "and a derivation follows in the text")
        return Measured("attempted", f"autograd's `{name}.grad` is right, but the exercise asks for the derivative "
                        "by the chain rule: write df/dx as code (or in the text) and compare it with the gradient")


class PReLUDerivative(_Derivative):
    """pReLU(x) = max(0, x) + alpha min(0, x): its gradient is 1 for x > 0 and alpha for x < 0."""

    PATTERN = re.compile(r"prelu", re.IGNORECASE)

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        read = self._read(attempt, ev)
        if isinstance(read, Measured):
            return read
        name, x, grad = read
        pos, neg = grad[x > 0], grad[x < 0]
        if not pos.size or not neg.size:
            return Measured("attempted", f"`{name}` needs negative and positive values to show pReLU's two slopes")
        alpha = float(np.median(neg))
        if not np.allclose(pos, 1.0, atol=1e-5) or not np.allclose(neg, alpha, atol=1e-5):
            return Measured("wrong", f"`{name}.grad` is not 1 for x > 0 and one constant alpha for x < 0" + ACCUMULATED)
        return Measured("correct", f"pReLU'(x) = 1 for x > 0 and alpha = {alpha:.4g} for x < 0 "
                        f"({x.size} points, seen on `{name}.grad`)")


class SwishDerivative(_Derivative):
    """swish(x) = x sigmoid(beta x): its gradient is s + beta x s (1 - s), s = sigmoid(beta x);
    beta is fitted here from the gradient (the student picks it)."""

    PATTERN = re.compile(r"swish|silu|\*\s*(?:torch\.|F\.|nn\.functional\.)?sigmoid\(|sigmoid\([^\n]*\)\s*\*",
                         re.IGNORECASE)
    BETAS = np.concatenate([np.linspace(0.05, 10.0, 1991), [1.0, 2.0, 0.5]])

    @staticmethod
    def formula(x: np.ndarray, beta: float) -> np.ndarray:
        s = 1 / (1 + np.exp(-beta * x))
        return s + beta * x * s * (1 - s)

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        read = self._read(attempt, ev)
        if isinstance(read, Measured):
            return read
        name, x, grad = read
        errors = [float(np.max(np.abs(self.formula(x, b) - grad))) for b in self.BETAS]
        best = int(np.argmin(errors))
        beta, error = float(self.BETAS[best]), errors[best]
        if error > 1e-3:
            return Measured("wrong", f"`{name}.grad` is not sigmoid(bx) + bx sigmoid(bx)(1 - sigmoid(bx)) for any "
                            f"beta in [0.05, 10] (closest: beta = {beta:.3g}, off by {error:.3g})" + ACCUMULATED)
        return Measured("correct", f"swish'(x) = s + beta x s (1 - s) with s = sigmoid(beta x), beta = {beta:.3g} "
                        f"(fitted here), within {error:.1e} at {x.size} points")


class GradientShape(_Derivative):
    """5.3, exercise 1: the gradient of a scalar function of an n x m matrix is n x m."""

    PATTERN = re.compile(r"")
    TENTATIVE = True

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        read = self._read(attempt, ev)
        if isinstance(read, Measured):
            return read
        name, x, _ = read
        shape = " x ".join(map(str, x.shape)) or "scalar"
        if x.ndim < 2:
            return Measured("attempted", f"`{name}` is {'a vector' if x.ndim == 1 else 'a scalar'} ({shape}); the "
                            "exercise asks about an n x m matrix input")
        return Measured("correct", f"`{name}` is {shape} and so is `{name}.grad`: the gradient of a scalar with "
                        "respect to a matrix has the matrix's shape")
