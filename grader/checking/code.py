"""Checks on the notebook's source, from the static facts of its cells: forbidden calls
and whether a function takes its gradients from autograd."""

from __future__ import annotations

from typing import Iterable, Sequence

from grader.checking.checks import Check, failed, passed
from grader.notebook.static import CellCode, Use, rule_matches, uses_in

__all__ = ["not_allowed", "check_uses_autograd", "AUTOGRAD"]

# How a student's function shows that it takes gradients from autograd.
AUTOGRAD = (".backward", "torch.autograd.grad", "torch.autograd.backward", "torch.func.grad")


def not_allowed(uses: Iterable[Use], rules: Sequence[str], *, labels: dict[int, str] | None = None,
                dynamic: bool = True) -> Check:
    """No use of a forbidden name. ``rules``: ``torch.cos`` (a name and its attributes),
    ``.cos`` (any method or attribute called cos), ``scipy`` (a whole module). With
    ``dynamic``, eval/exec/__import__ and getattr with a computed name count as violations,
    since what they call cannot be checked. Aliases and helper functions are followed;
    strings handed to other programs (a subprocess) are not."""
    found: list[str] = []
    for use in uses:
        dynamic_use = use.name in ("eval", "exec", "compile", "__import__", "builtins.getattr*",
                                   "importlib.import_module")
        if any(rule_matches(r, use.name) for r in rules) or (dynamic and dynamic_use):
            where = (labels or {}).get(use.cell, f"cell {use.cell + 1}")
            shown = "getattr with a computed name" if use.name == "builtins.getattr*" else use.name
            found.append(f"{shown} ({where}, line {use.line})")
    if not found:
        return passed("no forbidden calls")
    unique = list(dict.fromkeys(found))
    return failed(f"uses {unique[0]}, which this exercise does not allow"
                  + (f" (and {len(unique) - 1} more)" if len(unique) > 1 else ""),
                  "forbidden here: " + ", ".join(rules) + "\nfound: " + "; ".join(unique))


def check_uses_autograd(function: str, codes: Sequence[CellCode]) -> Check:
    """The notebook function ``function``, or a helper it calls, takes gradients from
    autograd (``.backward()``, ``torch.autograd.grad``, ``torch.func.grad``)."""
    if not any(function in code.defines for code in codes):
        return failed(f"`{function}` is not defined")
    uses = uses_in(list(codes), roots=(function,))
    if any(rule_matches(rule, u.name) for u in uses for rule in AUTOGRAD):
        return passed(f"{function} uses autograd")
    return failed(f"{function} does not call .backward() or torch.autograd.grad: "
                  "the gradient must come from automatic differentiation")
