"""Submissions made from a reference solution by replacing source text (each replacement must apply)."""

from __future__ import annotations

import json
from pathlib import Path

from nbfactory import from_solution

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def variant(exercise_id: str, replace: dict[str, str], tmp_path: Path, name: str = "submission") -> Path:
    """``solutions/<id>.ipynb`` with every ``old`` replaced by ``new``; fails if an ``old`` is absent,
    so a test cannot silently grade the unchanged solution."""
    solution = SOLUTIONS / f"{exercise_id}.ipynb"
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in json.loads(solution.read_text(encoding="utf-8"))["cells"])
    absent = [old for old in replace if old not in text]
    assert not absent, f"not in {solution.name}: {absent}"
    return from_solution(solution, replace, tmp_path / f"{name}.ipynb")


def band_points(test: object) -> float:
    """The points an accuracy test should give for what it measured, by the documented rule
    written out here (not the grader's ``credit``): full at or above the band's lower edge,
    nothing at or below chance, linear in between."""
    details = test.details  # type: ignore[attr-defined]
    (measured,) = [v for k, v in details["measured"].items() if "@" not in k]
    low, chance = details["reference"]["full_at"], details["chance"]
    share = min(1.0, max(0.0, (measured - chance) / (low - chance)))
    return round(test.max_score * share, 4)  # type: ignore[attr-defined]
