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
    """The points an accuracy test should give for what it measured: full from the band's
    lower edge, linear to 0 at chance (recomputed from the test's details)."""
    from grader.checking.calibration import credit

    details = test.details  # type: ignore[attr-defined]
    (measured,) = [v for k, v in details["measured"].items() if "@" not in k]
    share = credit(measured, details["reference"]["full_at"], details["chance"])
    return round(test.max_score * share, 4)  # type: ignore[attr-defined]
