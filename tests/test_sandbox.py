"""Run folders left by a grader that was killed are swept by the next one; cgroups are
made only where their limits can be written, and memory kills are counted; the allow-list,
the launch spec, the detection's fallbacks and the jail itself (without a kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.config import Options
from grader.engine import cgroups, sandbox
from grader.errors import SandboxUnavailableError

REPO = Path(__file__).resolve().parents[1]


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


def test_the_allow_list_is_python_the_data_store_and_system_files_only(tmp_path: Path) -> None:
    data = tmp_path / "store"
    data.mkdir()
    allowed = sandbox.allowed_paths(data)
    for needed in (sys.prefix, sys.base_prefix, str(data)):
        real = os.path.realpath(needed)
        assert any(real == p or real.startswith(p + "/") for p in allowed), needed
    assert "/usr" in allowed and "/etc/ld.so.cache" in allowed
    for secret in (REPO / ".git", REPO / "solutions", REPO / "tests", REPO / "grader", Path.home() / ".ssh"):
        assert not any(str(secret) == p or str(secret).startswith(p + "/") for p in allowed), secret
    for folder in ("/", "/root", "/home", "/tmp", "/etc", "/run", "/var", tempfile.gettempdir(), str(REPO)):
        assert folder not in allowed
    nested = [(a, b) for a in allowed for b in allowed if b.startswith(a.rstrip("/") + "/")]
    assert nested == []   # the jail binds each once


def test_with_namespaces_the_kernel_works_in_its_own_root(tmp_path: Path) -> None:
    options = Options(disk_limit=5 * 2**20, data_dir=str(tmp_path / "store"))
    box = sandbox.Sandbox(options, sandbox.Isolation(namespaces=True, user_namespace=True))
    try:
        connection = str(box.root / "kernel-1.json")
        spec = box.launch_spec(files=[(connection, connection)], fonts=False)
        assert (spec["env"]["HOME"], spec["env"]["TMPDIR"], spec["workdir"]) == (
            "/home/student", "/tmp", "/home/student/work")
        assert not any(str(box.root) in v or str(REPO) in v for v in spec["env"].values())
        assert spec["disk_limit"] == 5 * 2**20 and "nproc" not in spec["rlimits"]
        assert [path for path, _ in spec["writable"]] == [
            "/tmp", "/dev/shm", "/home/student", "/home/student/work", str(box.root / "ipc")]
        assert spec["files"] == [[connection, connection]]
        assert not (box.root / "ipc").exists()   # the jail links it into the kernel's tmpfs
        report = box.describe()
        assert report["namespaces"] and report["user_namespace"]
        assert report["note"] == "the jail did not confirm its set-up (the kernel did not start)"
        (box.root / "jail.json").write_text(json.dumps({
            "uid": 1000, "gid": 1000, "groups": [], "capabilities": "none", "proc": "fresh (this PID namespace only)",
            "proc_sys": "read-only"}))
        report = box.describe()
        assert (report["kernel_uid"], report["kernel_groups"], report["capabilities"], report["proc_sys"]) == (
            1000, [], "none", "read-only")
        assert "note" not in report
    finally:
        box.cleanup()


@pytest.mark.parametrize("root, refusals, expected", [
    (True, ["", ""], (True, True, "")),
    (True, ["EPERM", ""], (True, False, "no user namespace (EPERM); the kernel runs as an unprivileged host uid")),
    (True, ["EPERM", "EINVAL"], (False, False, "no user namespace (EPERM); no namespaces: files are not confined")),
    (False, ["EPERM"], (False, False, "no user namespace (EPERM); no namespaces: files are not confined")),
])
def test_detection_takes_the_strongest_confinement_that_works(monkeypatch: pytest.MonkeyPatch, root: bool,
                                                               refusals: list[str], expected: tuple) -> None:
    asked = iter(refusals)
    monkeypatch.setattr(sandbox, "_probe", lambda user_namespace: next(asked))
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
    sandbox.detect_isolation.cache_clear()
    try:
        found = sandbox.detect_isolation("auto")
        assert (found.namespaces, found.user_namespace, found.note) == expected
        if not found.namespaces:
            assert found.describe(Options())["filesystem"] == "not confined"
            asked = iter(refusals)
            sandbox.detect_isolation.cache_clear()
            with pytest.raises(SandboxUnavailableError, match="isolation = strict, but this machine cannot"):
                sandbox.detect_isolation("strict")
    finally:
        sandbox.detect_isolation.cache_clear()


def test_the_jail_confines_a_process(tmp_path: Path) -> None:
    """Without a kernel: the jail's set-up, seen from a plain Python process inside it."""
    isolation = sandbox.detect_isolation("auto")
    if not isolation.namespaces:
        pytest.skip(f"no namespaces on this machine ({isolation.note}); see docs/SECURITY.md")
    box = sandbox.Sandbox(Options(disk_limit=4 * 2**20), isolation)
    inside = ("import errno, json, os\n"
              "try:\n    os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY)); core = 'opened'\n"
              "except OSError:\n    core = 'refused'\n"
              "fd, error = os.open('/tmp/fill', os.O_WRONLY | os.O_CREAT), ''\n"
              "try:\n    [os.write(fd, b'x' * 2**20) for _ in range(8)]\n"
              "except OSError as exc:\n    error = errno.errorcode[exc.errno]\n"
              "print(json.dumps([os.getuid(), os.getpid(), sorted(os.listdir('/')), core, error,"
              " os.path.exists(os.path.join(os.environ['HOME'], 'work'))]))")
    try:
        spec = box.launch_spec(fonts=False)
        done = subprocess.run([sys.executable, "-I", "-S", sandbox.JAIL, "launch", json.dumps(spec), "--",
                               sys.executable, "-I", "-S", "-c", inside],
                              capture_output=True, text=True, timeout=60, cwd=box.root)
        assert done.returncode == 0, done.stderr
        uid, pid, top, core, error, home = json.loads(done.stdout)
        assert uid != 0 and pid == 1 and core == "refused" and error in ("ENOSPC", "EFBIG") and home
        assert {"proc", "dev", "etc", "tmp", "home", "usr"} <= set(top)
        assert not {"var", "run", "mnt", "srv", "boot", "opt", "media"} & set(top)
        link = os.readlink(box.root / "ipc")
        assert link.startswith("/proc/") and link.endswith(f"/root{box.root}/ipc")
        assert box.jail_report()["capabilities"] == "none"
    finally:
        box.cleanup()
