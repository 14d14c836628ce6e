"""The batch tests' fixtures live in ``classroom`` beside their helpers (one module name per
folder: a second ``conftest`` module would shadow the top-level one's helpers)."""

from classroom import graded_class  # noqa: F401  (a session fixture)
