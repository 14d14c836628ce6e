"""The one rounding rule for points shown to people (terminal, review page, CSV, HTML,
Gradescope's text): points to 2 decimals, percentages to 1, halves rounded away from zero
on the decimal value as written (so 0.125 -> 0.13, not the binary float's 0.12). The
gradebook and JSON keep full precision."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["POINT_DECIMALS", "PERCENT_DECIMALS", "round_points", "percent", "round_percent", "show_points"]

POINT_DECIMALS = 2
PERCENT_DECIMALS = 1


def _round(value: float, decimals: int) -> float:
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def round_points(value: float) -> float:
    """Points as shown and exported: 2 decimals, halves away from zero."""
    return _round(value, POINT_DECIMALS)


def percent(score: float, max_score: float) -> float | None:
    """``score`` as a percentage of ``max_score`` (None when there is nothing to score)."""
    return 100.0 * score / max_score if max_score else None


def round_percent(value: float | None) -> float | None:
    """Percentages as shown and exported: 1 decimal, halves away from zero."""
    return None if value is None else _round(value, PERCENT_DECIMALS)


def show_points(score: float, max_score: float) -> str:
    """``13.69 / 17 (80.5%)``: the one way points are written for people."""
    pct = round_percent(percent(score, max_score))
    return f"{round_points(score):g} / {round_points(max_score):g}" + ("" if pct is None else f" ({pct:g}%)")


