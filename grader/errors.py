"""Exceptions, in two families that are reported differently.

* Bad input (exit code 2): the user's files, flags or data store are wrong. The CLI
  prints the one-line message and no traceback.
* Grader faults (exit code 4): an exercise module or the grader itself is broken.
  Shown as "internal grading error" so a student never takes it for their mistake.

What a *submission* does wrong (a cell raises, times out, kills its kernel, calls a
forbidden function) is not an exception here: it is a result, recorded and scored.
"""

from __future__ import annotations

__all__ = [
    "GraderError", "InputError", "NotebookError", "UnknownExerciseError", "ConfigError",
    "DataStoreError", "SandboxUnavailableError", "GradebookError", "InternalError", "SpecError",
]


class GraderError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 4


class InputError(GraderError, ValueError):
    """The input given to the grader cannot be used."""

    exit_code = 2


class NotebookError(InputError):
    """A file is missing, is not JSON, or is not an nbformat-4 notebook."""

    @classmethod
    def from_path(cls, path: object, reason: str) -> NotebookError:
        """Build the one-line message naming the file."""
        return cls(f"{path}: {reason}")


class UnknownExerciseError(InputError, LookupError):
    """An exercise or homework id that no module declares."""

    def __init__(self, wanted: str, known: list[str], what: str = "exercise") -> None:
        self.wanted, self.known = wanted, known
        super().__init__(f"unknown {what} {wanted!r}; known: {', '.join(sorted(known))}")

    @classmethod
    def no_match(cls, path: str, known: list[str]) -> UnknownExerciseError:
        """A notebook with no exercise marker whose code matches no exercise or homework."""
        error = cls.__new__(cls)
        error.wanted, error.known = "", known
        InputError.__init__(error, f"{path}: no exercise found (no metadata, tags or known function names); "
                            f"use --exercise ID or --homework ID. Known: {', '.join(known)}")
        return error


class ConfigError(InputError):
    """An option has a wrong name, type or value."""


class DataStoreError(InputError):
    """A dataset file is missing or corrupt; the message names the fixing command."""


class SandboxUnavailableError(InputError):
    """``isolation = strict`` was asked for on a machine without namespaces."""


class GradebookError(InputError):
    """The gradebook file is corrupt, foreign or from a newer grader; never overwritten."""


class InternalError(GraderError):
    """The grader itself failed (a probe protocol violation it cannot blame on the student)."""


class SpecError(InternalError):
    """An exercise or homework module is malformed; names module, test and field."""

    def __init__(self, module: str, detail: str, test: str | None = None) -> None:
        where = f"{module}.{test}" if test else module
        super().__init__(f"bad exercise spec {where}: {detail}")
