"""Recognisers of chapter 5: comparisons of trained models (activations in 5.1, a
hyperparameter sweep in 5.2), judged on the accuracies the grader measured."""

from __future__ import annotations

import ast
import re
from typing import Sequence

from grader.notebook.static import CellCode
from grader.homework.trained import MeasuredModel
from grader.homework.recognise.base import (Attempt, Evidence, Measured, Recogniser, assigned_names, constant_value,
                                            effective_source, function_defs, notebook_classes, trains)

LOOPS = (ast.For, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

ACTIVATION_WORDS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU", "leaky_relu": "LeakyReLU",
                    "leakyrelu": "LeakyReLU", "elu": "ELU", "silu": "SiLU", "swish": "SiLU", "prelu": "PReLU"}


# -- 5.1 / 5.2: comparisons of trained models -----------------------------------------

def _accuracy_text(model: MeasuredModel) -> str:
    if model.accuracy is None:
        return model.reason or "not measured"
    weak = " (kernel predictions, untrusted)" if model.evidence.startswith("kernel") else ""
    return f"test accuracy {model.accuracy:.3f}{weak}"


class ActivationComparison(Recogniser):
    """Models trained with different activation functions, compared."""

    WORDS = re.compile(r"\b(relu|sigmoid|tanh|gelu|leaky_?relu|elu|silu|swish|prelu)\b", re.IGNORECASE)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts, single = [], []
        for code in codes:
            words = {ACTIVATION_WORDS[w.lower()] for w in self.WORDS.findall(code.cell.source)}
            if not words or not trains(effective_source(code, codes)):  # trained here or by a helper it calls
                continue
            if len(words) >= 2:
                attempts.append(Attempt(self.id, part, [code.cell.index], (), {"activations": sorted(words)}))
            else:
                single.append((code.cell.index, words))
        # one model per cell: cells training with different activations, compared across cells
        if len({w for _, words in single for w in words}) >= 2:
            cells = [c for c, _ in single]
            attempts.append(Attempt(self.id, part, cells, (), {"activations": sorted({w for _, ws in single for w in ws}),
                                                               "separate": True, "tentative": True}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trained = [m for m in ev.models if m.trained]
        if not ev.models:  # names of activations and a backward call, but no model ran: the book's plots, say
            return Measured("none", "no model was trained or evaluated in these cells")
        if attempt.facts.get("separate") and len({tuple(m.activations) for m in trained if m.activations}) < 2:
            return Measured("none", "no two models trained in these cells differ in their activation")
        if len(trained) < 2:
            return Measured("wrong", f"{len(trained)} trained model(s) seen in these cells; a comparison needs two or more")
        lines = [f"{'/'.join(m.activations) or m.cls}: {_accuracy_text(m)}" for m in trained]
        kinds = {tuple(m.activations) for m in trained}
        if len(kinds) < 2 and all(m.activations for m in trained):
            return Measured("wrong", "the models trained here all use the same activation: " + "; ".join(lines))
        return Measured("correct", f"{len(trained)} models trained: " + "; ".join(lines))


class Sweep(Recogniser):
    """One model trained per value of a hyperparameter (``num_hiddens`` or ``lr``)."""

    def __init__(self, id: str, *, section: str, title: str, parameter: str) -> None:
        super().__init__(id, section=section, title=title)
        self.parameter = parameter

    def _loop_values(self, iterable: ast.AST, env: dict[str, ast.AST]) -> list[float] | None:
        source = iterable if not isinstance(iterable, ast.Name) else env.get(iterable.id)
        if isinstance(source, (ast.List, ast.Tuple)):
            values = [constant_value(e) for e in source.elts]
            if values and all(v is not None for v in values):
                return values  # type: ignore[return-value]
        return None

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        env: dict[str, ast.AST] = {}
        for code in codes:
            for stmt in code.tree.body if code.tree is not None else []:
                for name in assigned_names(stmt):
                    env[name] = stmt.value  # type: ignore[attr-defined]
            helpers = self._helpers(codes, code.cell.index)
            classes = self._positions(codes, code.cell.index)
            for loop in (n for n in ast.walk(code.tree) if isinstance(n, LOOPS)) if code.tree is not None else []:
                target, iterable = (loop.target, loop.iter) if isinstance(loop, ast.For) else (
                    loop.generators[0].target, loop.generators[0].iter)  # type: ignore[union-attr]
                var = target.id if isinstance(target, ast.Name) else None
                uses_var = any(isinstance(n, ast.keyword) and n.arg == self.parameter
                               and any(isinstance(x, ast.Name) and x.id == var for x in ast.walk(n.value))
                               for n in ast.walk(loop))
                called = [helpers[f] for f in self._passes(loop, var, helpers)] if var else []
                uses_var = uses_var or bool(var and self._positional(loop, {var}, classes))  # MLP(10, h, 0.1)
                if var and (uses_var or called) and trains(ast.unparse(loop) + "\n".join(map(ast.unparse, called))):
                    attempts.append(Attempt(self.id, part, [code.cell.index], (),
                                            {"values": self._loop_values(iterable, env)}))
                    break
        looped = {c for a in attempts for c in a.cells}
        # one model per cell, no loop: every cell in scope constructing a model with the parameter set
        # (or calling a helper of ours that does)
        separate = [c.cell.index for c in codes if c.cell.index not in looped and c.tree is not None and (any(
            isinstance(n, ast.keyword) and n.arg == self.parameter for n in ast.walk(c.tree)) or any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self._helpers(codes, c.cell.index)
            for n in ast.walk(c.tree)) or self._positional(c.tree, None, self._positions(codes, c.cell.index)))]
        if len(separate) >= 2:
            attempts.append(Attempt(self.id, part, separate, (), {"values": None, "separate": True, "tentative": True}))
        return attempts

    def _helpers(self, codes: Sequence[CellCode], upto: int) -> dict[str, ast.FunctionDef]:
        """Notebook functions that build a model with the parameter set from one of their own
        arguments (``def run(h): model = MLP(num_hiddens=h, ...)``)."""
        out = {}
        for name, fn in function_defs(codes, upto).items():
            args = {a.arg for a in fn.args.args}
            if any(isinstance(n, ast.keyword) and n.arg == self.parameter and any(
                    isinstance(x, ast.Name) and x.id in args for x in ast.walk(n.value)) for n in ast.walk(fn)):
                out[name] = fn
        return out

    def _positions(self, codes: Sequence[CellCode], upto: int) -> dict[str, int]:
        """Notebook classes whose constructor takes the parameter, and its position (``MLP(10, 256, 0.1)``)."""
        out = {}
        for name, cls in notebook_classes(codes, upto).items():
            init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            params = [a.arg for a in init.args.args[1:]] if init is not None else []
            if self.parameter in params:
                out[name] = params.index(self.parameter)
        return out

    @staticmethod
    def _positional(tree: ast.AST, names: set[str] | None, classes: dict[str, int]) -> bool:
        """A constructor call passing the parameter by position (holding one of ``names``, if given)."""
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in classes \
                    and len(n.args) > classes[n.func.id] and not isinstance(n.args[classes[n.func.id]], ast.Starred):
                arg = n.args[classes[n.func.id]]
                if names is None or any(isinstance(x, ast.Name) and x.id in names for x in ast.walk(arg)):
                    return True
        return False

    @staticmethod
    def _passes(loop: ast.AST, var: str, helpers: dict[str, ast.FunctionDef]) -> list[str]:
        """The helpers the loop calls with its variable."""
        return [n.func.id for n in ast.walk(loop) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in helpers and any(isinstance(x, ast.Name) and x.id == var
                                                 for a in [*n.args, *(k.value for k in n.keywords)] for x in ast.walk(a))]

    def _family(self, trained: list[MeasuredModel]) -> list[MeasuredModel]:
        """The largest set of models of one class differing in the parameter (other
        recorded hyperparameters equal): a sweep, in a loop or not."""
        best: list[MeasuredModel] = []
        for cls in {m.cls for m in trained}:
            group = [m for m in trained if m.cls == cls and self.parameter in m.hparams]
            for anchor in group:
                others = {k: v for k, v in anchor.hparams.items() if k != self.parameter}
                same = [m for m in group if {k: v for k, v in m.hparams.items() if k != self.parameter} == others]
                if len({repr(m.hparams[self.parameter]) for m in same}) >= 2 and len(same) > len(best):
                    best = same
        return best

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trained = [m for m in ev.models if m.trained and m.fmnist]
        values = attempt.facts.get("values")
        if attempt.facts.get("separate"):
            trained = self._family(trained)
            if not trained:  # the book's own models (one per class), not a sweep
                return Measured("none", f"no two models of one class trained with different {self.parameter}")
        if not trained:
            return Measured("attempted", "no model trained on Fashion-MNIST was seen in the sweep's cell")
        rows = [f"{self.parameter}={m.hparams.get(self.parameter, '?')}: {_accuracy_text(m)}" for m in trained]
        measured = [m for m in trained if m.accuracy is not None]
        best = max(measured, key=lambda m: m.accuracy or 0.0) if measured else None
        text = f"{len(trained)} models measured: " + "; ".join(rows)
        if best is not None:
            text += f"; best {self.parameter}={best.hparams.get(self.parameter, '?')}"
        if values and len(trained) < len(values):
            return Measured("wrong", f"{len(values)} values swept but only {len(trained)} models trained: {text}")
        if len(measured) < 2:
            return Measured("attempted", text)
        return Measured("correct", text, {"models": [m.number for m in trained]})
