"""The synthetic class is built and compared once per test session (about two seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from classgen import build_class  # noqa: E402

from grader.classroom.similarity import SimilarityReport, find_similar  # noqa: E402


@pytest.fixture(scope="session")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty homework notebooks, five planted pairs (see classgen.py)."""
    folder = tmp_path_factory.mktemp("class")
    build_class(folder, students=20)
    return folder


@pytest.fixture(scope="session")
def class_report(class_folder: Path) -> SimilarityReport:
    """The class compared from its folder (homework from the notebooks' metadata)."""
    return find_similar(folder=class_folder, workers=1)
