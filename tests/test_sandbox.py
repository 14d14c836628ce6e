"""Run folders left by a grader that was killed are swept by the next one; cgroups are
made only where their limits can be written, and memory kills are counted."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from grader.engine import cgroups, sandbox
from grader.config import Options


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


def test_a_cgroup_without_its_limit_files_is_not_used(tmp_path: Path) -> None:
    limits = {"memory.limit_in_bytes": 5, "memory.memsw.limit_in_bytes": 5}
    assert cgroups.make(str(tmp_path), "run", limits) == ""   # a plain folder: no limit files
    assert not (tmp_path / "run").exists()
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "memory.limit_in_bytes").write_text("max")   # what a v1 memory cgroup shows
    assert cgroups.make(str(tmp_path), "v1", limits) == str(tmp_path / "v1")
    assert (tmp_path / "v1" / "memory.limit_in_bytes").read_text() == "5"
    assert not (tmp_path / "v1" / "memory.memsw.limit_in_bytes").exists()   # no swap accounting there
    assert cgroups.find_root([tmp_path], "memory.max") == ""   # not a cgroup hierarchy
    (tmp_path / "cgroup.procs").write_text("")
    assert cgroups.find_root([tmp_path], "memory.max") == ""   # children would not get the limit
    assert [p.name for p in (tmp_path / "d2l-grade").iterdir()] == []   # its probe is gone


@pytest.mark.parametrize("file, text", [("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
                                        ("memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n")])
def test_memory_kills_are_read_from_v1_and_v2(tmp_path: Path, file: str, text: str) -> None:
    box = sandbox.Sandbox(Options(), sandbox.Isolation())
    try:
        assert box.memory_kills() == 0   # no memory cgroup
        box.memory_cgroup = str(tmp_path)
        (tmp_path / file).write_text(text)
        assert box.memory_kills() == 2
    finally:
        box.cleanup()


def test_a_cgroup_the_kernel_did_not_join_is_dropped_from_the_report(tmp_path: Path) -> None:
    box = sandbox.Sandbox(Options(), sandbox.Isolation(cgroup_root="/unused", memory_root="/unused"))
    try:
        joined, empty = tmp_path / "joined", tmp_path / "empty"
        for cgroup, procs in ((joined, "4242\n"), (empty, "")):
            cgroup.mkdir()
            (cgroup / "cgroup.procs").write_text(procs)
        box.cgroup, box.memory_cgroup = str(joined), str(empty)
        box.confirm_cgroups()
        assert (box.cgroup, box.memory_cgroup) == (str(joined), "")
        report = box.describe()
        assert report["process_limit"] == Options().max_processes
        assert report["memory_scope"] == "each process (RLIMIT_DATA)"
    finally:
        box.cgroup = box.memory_cgroup = ""
        box.cleanup()
