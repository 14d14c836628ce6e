"""Run folders left by a grader that was killed are swept by the next one."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from grader import sandbox


def _run_folder(parent: Path, name: str, owner: int | None) -> Path:
    root = parent / f"{sandbox.RUN_PREFIX}{name}"
    (root / "sandbox" / "work").mkdir(parents=True)
    if owner is not None:
        (root / sandbox.OWNER_FILE).write_text(str(owner))
    return root


def test_stale_runs_are_removed_and_live_ones_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sandbox, "_swept", False)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = _run_folder(tmp_path, "dead", gone.pid)
    live = _run_folder(tmp_path, "live", os.getpid())
    fresh = _run_folder(tmp_path, "starting", None)   # created this instant, owner file not yet written
    sandbox.sweep_stale_runs(())
    assert not dead.exists() and live.exists() and fresh.exists()
    other = _run_folder(tmp_path, "later", gone.pid)
    sandbox.sweep_stale_runs(())   # once per process
    assert other.exists()
