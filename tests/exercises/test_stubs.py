"""The stubs in exercises/ are exactly what `grade assign` makes from solutions/."""

from __future__ import annotations

from helpers import SOLUTIONS, STUBS

from grader.course.assign import stale_stubs


def test_stubs_are_fresh() -> None:
    assert stale_stubs(SOLUTIONS, STUBS) == [], "run `grade assign` after editing a solution notebook"
