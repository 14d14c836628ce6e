"""The kernel runtime's data store access: a missing file names itself and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.datastore import FIX_HINT
from grader.engine.runtime import load_namespace


def test_missing_store_file_names_the_file_and_the_command(tmp_path: Path) -> None:
    runtime = load_namespace()
    runtime._CONFIG["data_dir"] = str(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        runtime._abalone_frame()
    message = str(info.value)
    assert f"{tmp_path} has no abalone/abalone.data" in message
    assert "grade data import" in message and "grade data fetch" in message


def test_kernel_hint_matches_the_grader_hint() -> None:
    assert load_namespace()._STORE_FIX_HINT == FIX_HINT


def test_present_store_file_is_returned(tmp_path: Path) -> None:
    runtime = load_namespace()
    runtime._CONFIG["data_dir"] = str(tmp_path)
    (tmp_path / "abalone").mkdir()
    (tmp_path / "abalone" / "abalone.data").write_text("M,0.4,0.3,0.1,0.5,0.2,0.1,0.15,7\n")
    assert runtime._abalone_frame().shape == (1, 9)
