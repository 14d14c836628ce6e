"""Recognisers of chapter 5: comparisons of trained models (activations in 5.1, a
hyperparameter sweep in 5.2), judged on the accuracies the grader measured."""

from __future__ import annotations

import ast
import re
from typing import Sequence

from grader.notebook.static import CellCode
from grader.homework.trained import MeasuredModel
from grader.homework.recognise.base import Attempt, Evidence, Measured, Recogniser, assigned_names, constant_value, trains

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

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            words = {ACTIVATION_WORDS[w.lower()] for w in re.findall(r"\b(relu|sigmoid|tanh|gelu|leaky_?relu|elu|silu|swish|prelu)\b",
                                                                     code.cell.source, re.IGNORECASE)}
            if len(words) >= 2 and trains(code.cell.source):
                attempts.append(Attempt(self.id, part, [code.cell.index], (), {"activations": sorted(words)}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        trained = [m for m in ev.models if m.trained]
        if not ev.models:  # names of activations and a backward call, but no model ran: the book's plots, say
            return Measured("none", "no model was trained or evaluated in these cells")
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

    def _loop_values(self, loop: ast.For, env: dict[str, ast.AST]) -> list[float] | None:
        source = loop.iter if not isinstance(loop.iter, ast.Name) else env.get(loop.iter.id)
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
            for loop in (n for n in ast.walk(code.tree) if isinstance(n, ast.For)) if code.tree is not None else []:
                var = loop.target.id if isinstance(loop.target, ast.Name) else None
                uses_var = any(isinstance(n, ast.keyword) and n.arg == self.parameter
                               and any(isinstance(x, ast.Name) and x.id == var for x in ast.walk(n.value))
                               for n in ast.walk(loop))
                if var and uses_var and trains(ast.unparse(loop)):
                    attempts.append(Attempt(self.id, part, [code.cell.index], (),
                                            {"values": self._loop_values(loop, env)}))
                    break
        looped = {c for a in attempts for c in a.cells}
        # one model per cell, no loop: every cell in scope constructing a model with the parameter set
        separate = [c.cell.index for c in codes if c.cell.index not in looped and c.tree is not None and any(
            isinstance(n, ast.keyword) and n.arg == self.parameter for n in ast.walk(c.tree))]
        if len(separate) >= 2:
            attempts.append(Attempt(self.id, part, separate, (), {"values": None, "separate": True, "tentative": True}))
        return attempts

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
