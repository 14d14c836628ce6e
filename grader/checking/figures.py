"""Checks on the figures a notebook drew (captured in the kernel as line data)."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from grader.checking.checks import Check, failed, passed
from grader.values import FigureValue

__all__ = ["figure_lines", "check_line_matches"]


def figure_lines(figures: Iterable[FigureValue | dict[str, Any]]) -> list[dict[str, Any]]:
    """Every line of every axes of ``figures``, with finite x/y arrays. A line without a
    label of its own (matplotlib's ``_child0``) takes the legend entry at its position,
    as ``ax.legend(["a", "b"])`` and ``d2l.plot(..., legend=[...])`` label lines."""
    lines = []
    for fig in figures:
        data = fig.data if isinstance(fig, FigureValue) else fig
        for ax in data.get("axes", []):
            legend = [str(t) for t in ax.get("legend", [])]
            for position, line in enumerate(ax.get("lines", [])):
                label = str(line.get("label", ""))
                if label.startswith("_") and position < len(legend):
                    label = legend[position]
                x = np.asarray([np.nan if v is None else v for v in line.get("x") or []], dtype=float)
                y = np.asarray([np.nan if v is None else v for v in line.get("y") or []], dtype=float)
                if x.size and x.size == y.size:
                    lines.append({"label": label, "x": x, "y": y})
    return lines


def check_line_matches(name: str, figures: Iterable[FigureValue | dict[str, Any]],
                       reference: Callable[[np.ndarray], np.ndarray], *, atol: float = 1e-3,
                       min_points: int = 10) -> Check:
    """Some plotted line's y-data equals ``reference(x)`` on its own x-data."""
    lines = figure_lines(figures)
    if not lines:
        return failed(f"no line plot found for {name}: plot it with matplotlib (plt.plot or d2l.plot)")
    best = math.inf
    for line in lines:
        ok = np.isfinite(line["x"]) & np.isfinite(line["y"])
        if ok.sum() < min_points:
            continue
        err = float(np.max(np.abs(line["y"][ok] - reference(line["x"][ok]))))
        if err <= atol:
            return passed(f"the figure shows {name}")
        best = min(best, err)
    if best is math.inf:
        return failed(f"no plotted line has at least {min_points} points for {name}")
    return failed(f"none of the {len(lines)} plotted lines shows {name}",
                  f"closest line is off by up to {best:.3g} (allowed {atol:g})")
