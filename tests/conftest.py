"""Shared fixtures: grading options on the real data store, and a one-call grader."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from grader.config import Options, load_options  # noqa: E402
from grader.pipeline import grade  # noqa: E402
from grader.results import SubmissionResult  # noqa: E402


@pytest.fixture(scope="session")
def options() -> Options:
    """Default options (public seed, no secret), with short timeouts for tests, one thread per kernel,
    kernels forked as in a batch (a test run grades hundreds of notebooks; fresh kernels are
    covered by tests/engine); `make test` sets GRADER_TEMPLATE_IDLE=0, so the template
    leaves with the test processes."""
    base = load_options(env={k: v for k, v in __import__("os").environ.items() if k != "GRADER_SECRET"})
    return dataclasses.replace(base, cell_timeout=60.0, total_timeout=300.0, probe_timeout=60.0, threads=1,
                               fork_kernels="on")


@pytest.fixture
def grade_file(options: Options) -> Callable[..., SubmissionResult]:
    """Grade one or more notebook paths with ``options`` plus overrides."""
    def run(*paths: Path, exercise_ids: tuple[str, ...] = (), homework_id: str | None = None,
            **overrides: Any) -> SubmissionResult:
        return grade(list(paths), options=dataclasses.replace(options, **overrides),
                     exercise_ids=exercise_ids, homework_id=homework_id)
    return run
