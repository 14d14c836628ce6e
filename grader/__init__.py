"""d2l-grade: grade Dive into Deep Learning notebooks in an isolated kernel.

The library's front door is :func:`grade`; students call :func:`check` from a
notebook to run the public tests of an exercise on the saved notebook.

The names are loaded on first use, so that importing a declaration module
(``grader.exercises.<id>``) never loads the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["grade", "check", "load_options", "Options", "SubmissionResult"]

_HOMES = {"grade": "grader.pipeline", "check": "grader.local", "load_options": "grader.config",
          "Options": "grader.config", "SubmissionResult": "grader.results"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
