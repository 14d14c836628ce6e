"""Helpers for hostile and messy notebooks: a torch-free broadcasting solution and a grader call.

Most notebooks here grade the ``broadcasting`` exercise with ``broadcast_shape`` written in
plain Python and no torch import, so a kernel run takes about two seconds. Without
``x3``/``y3``/``z3`` such a notebook scores 7 of 9 points: the three ``broadcast_shape``
tests pass and the tensor test fails with :data:`NO_X3`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

from grader.config import Options
from grader.pipeline import grade
from grader.results import SubmissionResult
from nbfactory import code, notebook, write

BROADCAST = '''
def broadcast_shape(shape_a, shape_b):
    a, b = tuple(shape_a), tuple(shape_b)
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + a
    b = (1,) * (rank - len(b)) + b
    result = []
    for axis, (p, q) in enumerate(zip(a, b)):
        if p == q or q == 1:
            result.append(p)
        elif p == 1:
            result.append(q)
        else:
            raise ValueError(f"sizes {p} and {q} do not broadcast")
    return tuple(result)
'''

TENSORS = '''
import torch
x3 = torch.arange(6).reshape((2, 3, 1))
y3 = torch.arange(6).reshape((2, 1, 3))
z3 = x3 + y3
'''

TAG = "exercise:broadcasting"
EXAMPLES = "broadcast_shape on the example pairs"
COMPATIBLE = "hidden pairs that broadcast"
INCOMPATIBLE = "raises ValueError on hidden pairs"
TENSOR_TEST = "x3 and y3 are 3-D tensors"
FORBIDDEN = "forbidden calls"
NO_X3 = "`x3` is not defined: the notebook must define it at the top level"
ALL_EXAMPLES = "all 8 example shape pairs correct"
ALL_COMPATIBLE = "all 13 hidden compatible pairs correct"
ALL_INCOMPATIBLE = "all 12 hidden incompatible pairs correct"


def graded(*extra: Any, tag: bool = True) -> list[Any]:
    """The torch-free graded cell followed by ``extra`` cells (strings become code cells)."""
    first = code(BROADCAST, TAG) if tag else code(BROADCAST)
    return [first, *(code(c) if isinstance(c, str) else c for c in extra)]


def statuses(result: SubmissionResult) -> list[tuple[str, float, str]]:
    """(short name, score, status) of every test, names cut after the exercise id."""
    return [(t.name.split(": ", 1)[1], t.score, t.status) for t in result.tests]


def messages(result: SubmissionResult) -> dict[str, str]:
    """Test message by a unique fragment of the test name."""
    out = {}
    for t in result.tests:
        for key in (EXAMPLES, COMPATIBLE, INCOMPATIBLE, TENSOR_TEST, FORBIDDEN):
            if key in t.name:
                out[key] = t.message
    return out


def assert_broadcast_only(result: SubmissionResult) -> None:
    """The torch-free solution's exact result: 7 of 9, only the tensor test failed."""
    assert result.score == 7.0 and result.max_score == 9.0
    assert messages(result) == {EXAMPLES: ALL_EXAMPLES, COMPATIBLE: ALL_COMPATIBLE,
                                INCOMPATIBLE: ALL_INCOMPATIBLE, TENSOR_TEST: NO_X3,
                                FORBIDDEN: "no forbidden calls"}


@pytest.fixture
def grade_cells(tmp_path: Path, options: Options) -> Callable[..., SubmissionResult]:
    """Write ``cells`` as a broadcasting notebook in ``tmp_path`` and grade it."""
    def run(cells: Sequence[Any], name: str = "submission.ipynb", exercises: Sequence[str] = ("broadcasting",),
            metadata: dict[str, Any] | None = None, **overrides: Any) -> SubmissionResult:
        path = write(notebook(cells, exercises=exercises, metadata=metadata), tmp_path / "student" / name)
        return grade(path, options=dataclasses.replace(options, **overrides))
    return run
