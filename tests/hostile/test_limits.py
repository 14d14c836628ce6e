"""Resource limits and confinement: memory, processes, output, network, files
(the privileges and the allow-listed filesystem have their own file, test_isolation.py).

Each attack cell ends by raising ``Exception(<what it observed>)``, so what the kernel saw
comes back as the cell's error record (the same record the student's report shows).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

import pytest

from grader.config import Options
from grader.pipeline import grade_async
from grader.engine.sandbox import detect_isolation
from hostile_kit import assert_broadcast_only, graded
from nbfactory import code, notebook, write

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]


def cell(result, index):  # type: ignore[no-untyped-def]
    """The record of submitted cell ``index`` (0-based)."""
    (record,) = [c for c in result.executions[0].cells if c.index == index]
    return record


def test_memory_limit_keeps_earlier_results(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells(graded("blob = bytearray(30 * 2**30)", "after = 1"))
    summary = result.executions[0]
    assert summary.outcome == "memory_limit"
    assert summary.message == "memory limit exceeded in code cell 2"
    assert [(c.index, c.status, c.ename) for c in summary.cells] == [
        (0, "ok", ""), (1, "memory", "MemoryError"), (2, "not_run", "")]
    assert_broadcast_only(result)  # probed right after cell 1, before the allocation


def test_memory_limit_counts_the_kernels_children_together(grade_cells, options: Options) -> None:  # type: ignore[no-untyped-def]
    if not detect_isolation(options.isolation).memory_root:
        pytest.skip("no writable memory cgroup on this machine: the limit is per process only (see docs/SECURITY.md)")
    # Each child stays under the per-process limit (1 GiB); together they do not.
    children = ("import multiprocessing, time\n"
                "def hold():\n    blob = b'x' * (800 * 2**20)\n    time.sleep(5)\n"
                "kids = [multiprocessing.Process(target=hold) for _ in range(2)]\n"
                "for kid in kids:\n    kid.start()\n"
                "for kid in kids:\n    kid.join(60)\n"
                "raise Exception([kid.exitcode for kid in kids])")
    result = grade_cells(graded(children, "after = 1"), memory_limit=2**30, disk_limit=64 * 2**20)
    summary = result.executions[0]
    assert summary.isolation["memory_scope"].startswith("the kernel and its children together")
    record = cell(result, 1)
    assert (record.status, record.ename) == ("memory", "MemoryError")
    assert record.evalue.startswith("a process it started was killed at the memory limit (")
    assert "-9" in record.evalue  # the child the cgroup's OOM killer chose
    assert (summary.outcome, summary.message) == ("memory_limit", "memory limit exceeded in code cell 2")
    assert cell(result, 2).status == "not_run"


def test_processes_are_limited_and_reaped(grade_cells, options: Options) -> None:  # type: ignore[no-untyped-def]
    if not detect_isolation(options.isolation).cgroup_root:
        pytest.skip("no writable pids cgroup on this machine: the process limit is not enforced (see docs/SECURITY.md)")
    pool = ("import multiprocessing\n"
            "with multiprocessing.Pool(64) as pool:\n"
            "    total = sum(pool.map(abs, range(-100, 0)))")
    bomb = ("import os\nforks, error = 0, ''\n"
            "for _ in range(500):\n"
            "    try:\n        pid = os.fork()\n"
            "    except OSError as exc:\n        error = type(exc).__name__\n        break\n"
            "    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '613.25'])\n"
            "    forks += 1\n"
            "raise Exception(forks < 40, error)")
    result = grade_cells(graded(pool, bomb), max_processes=40)
    assert result.executions[0].isolation["process_limit"] == 40
    assert (cell(result, 1).status, cell(result, 1).ename) == ("error", "BlockingIOError")
    assert (cell(result, 2).ename, cell(result, 2).evalue) == ("Exception", "(True, 'BlockingIOError')")
    assert result.executions[0].outcome == "completed"
    assert_broadcast_only(result)
    sleepers = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "cmdline").read_bytes() == b"sleep\x00613.25\x00":
                sleepers.append(proc.name)
        except OSError:
            pass
    assert sleepers == [], "the fork bomb's children outlived the kernel"


def test_huge_prints_are_capped(grade_cells) -> None:  # type: ignore[no-untyped-def]
    prints = "for _ in range(1000):\n    print('x' * 100_000)"
    bypass = "import sys\nraw = sys.stdout._stream\nfor _ in range(100):\n    raw.write('y' * 100_000)\nraw.flush()"
    result = grade_cells(graded(prints, bypass), output_limit=50_000)
    printed, bypassed = cell(result, 1), cell(result, 2)
    assert printed.status == "ok" and printed.truncated
    assert printed.output_bytes < 50_000 + 200, "the kernel's own cap stops the stream"
    assert bypassed.status == "ok" and bypassed.truncated, "the grader's backstop caps a kernel whose cap was removed"
    assert result.executions[0].outcome == "completed"
    assert_broadcast_only(result)


def test_network_is_blocked_and_reported(grade_cells) -> None:  # type: ignore[no-untyped-def]
    attempt = ("import socket, urllib.request\nerrors = []\n"
               "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
               "except OSError as exc:\n    errors.append(type(exc).__name__)\n"
               "try:\n    urllib.request.urlopen('http://example.com/', timeout=2)\n"
               "except OSError as exc:\n    errors.append(type(exc).__name__)\n"
               "raise Exception(errors)")
    result = grade_cells(graded(attempt))
    record = cell(result, 1)
    assert (record.ename, record.evalue) == ("Exception", "['OSError', 'URLError']")
    assert result.executions[0].network_attempts == [
        "lookup of 192.0.2.1", "connect to ('192.0.2.1', 80)", "request of http://example.com/",
        "lookup of example.com"]
    assert_broadcast_only(result)


def _allow_list(options: Options) -> None:
    if not detect_isolation(options.isolation).namespaces:
        pytest.skip("no namespaces on this machine: files are not confined (see docs/SECURITY.md)")


def test_secrets_and_other_students_are_out_of_reach(tmp_path: Path, options: Options,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _allow_list(options)
    config = tmp_path / "grader-config" / "d2l-grade.toml"
    config.parent.mkdir()
    config.write_text('secret = "s3cr3t-config"\n')
    (config.parent / "d2l-grade.toml~").write_text('secret = "s3cr3t-backup"\n')   # an editor's backup
    monkeypatch.setenv("GRADER_SECRET", "s3cr3t-env")
    monkeypatch.setenv("GRADER_CONFIG", str(config))
    submissions = tmp_path / "submissions"
    bob = write(notebook([code("answer = 'bob-private'")]), submissions / "bob" / "bob.ipynb")
    calibrations = sorted((REPO / "grader" / "exercises").glob("*.calibration.json"))
    assert calibrations, "the repository ships calibration files"
    targets = [str(REPO / "solutions" / "broadcasting.ipynb"), str(calibrations[0]), str(config),
               str(config) + "~", str(bob), str(REPO / "grader" / "exercises" / "broadcasting.py")]
    probe = ("import os\nseen = []\n"
             f"for path in {targets!r}:\n"
             "    try:\n        with open(path) as fh:\n            seen.append(len(fh.read()))\n"
             "    except OSError as exc:\n        seen.append(type(exc).__name__)\n"
             "seen.append(sorted(k for k in os.environ if 'GRADER' in k or 'SECRET' in k))\n"
             "raise Exception(seen)")
    alice = write(notebook(graded(probe), exercises=["broadcasting"]), submissions / "alice" / "alice.ipynb")
    opts = dataclasses.replace(options, secret="s3cr3t-env", config_path=str(config), show_hidden=True)
    result = asyncio.run(grade_async([alice], options=opts, hide=[submissions]))  # as `grade batch` does
    record = cell(result, 1)
    # An allow-list: none of these exists in the kernel's root, not even the grader's source.
    assert (record.ename, record.evalue) == ("Exception", str(["FileNotFoundError"] * len(targets) + [[]]))
    assert result.seed_policy == "secret" and result.score == 7.0


def test_writes_outside_the_sandbox_fail_or_vanish(tmp_path: Path, grade_cells, options: Options) -> None:  # type: ignore[no-untyped-def]
    _allow_list(options)
    outside = [str(tmp_path / "planted.txt"), str(REPO / "planted.txt"), "/tmp/planted.txt", "/etc/planted.txt",
               "../../planted.txt", str(options.data_path / "planted.txt"), sys.prefix + "/planted.txt"]
    inside = ["planted.txt", "../planted.txt", os.path.join("~", "planted.txt"), "/dev/shm/planted.txt"]
    attack = ("import os\nresults = []\n"
              f"for path in {outside + inside!r}:\n"
              "    try:\n        with open(os.path.expanduser(path), 'w') as fh:\n            fh.write('x')\n"
              "        results.append('written')\n"
              "    except OSError as exc:\n        results.append(type(exc).__name__)\n"
              "raise Exception(results)")
    result = grade_cells(graded(attack))
    record = cell(result, 1)
    # Host folders are absent, or belong to nobody the kernel is (and the binds are read-only
    # too); /tmp is the kernel's private tmpfs, gone after the run.
    expected = ["FileNotFoundError", "PermissionError", "written", "PermissionError", "PermissionError",
                "PermissionError", "PermissionError"]
    assert record.evalue == str(expected + ["written"] * len(inside))
    for path in [*outside[:4], *outside[5:]]:
        assert not Path(path).exists(), path
    assert_broadcast_only(result)


def test_the_kernel_holds_no_capabilities(grade_cells, options: Options) -> None:  # type: ignore[no-untyped-def]
    if not detect_isolation(options.isolation).namespaces:
        pytest.skip("no namespaces on this machine: the fallback does not drop capabilities (see docs/SECURITY.md)")
    caps = ("import os, subprocess\nstatus = open('/proc/self/status').read().splitlines()\n"
            "caps = [line.split()[1] for line in status if line.startswith(('CapEff', 'CapPrm', 'CapBnd'))]\n"
            "remount = subprocess.run(['mount', '-o', 'remount,rw', '/'], capture_output=True).returncode\n"
            "raise Exception(caps, remount != 0)")
    result = grade_cells(graded(caps))
    assert cell(result, 1).evalue == "(['0000000000000000', '0000000000000000', '0000000000000000'], True)"
    assert_broadcast_only(result)
