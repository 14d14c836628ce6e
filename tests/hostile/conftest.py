"""Fixtures of the hostile-notebook tests (helpers live in ``hostile_kit``)."""

from hostile_kit import grade_cells  # noqa: F401
