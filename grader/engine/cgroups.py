"""Per-kernel cgroups: find a hierarchy whose child cgroups get a limit, make a kernel's
cgroup with its limits, count its out-of-memory kills, and empty and remove it.

cgroup v1 and v2 differ in file names (``memory.limit_in_bytes`` vs ``memory.max``,
``memory.oom_control`` vs ``memory.events``) and in how children get a controller (v2:
the parent's ``cgroup.subtree_control``); everything here tries both and reports what it
could do, so a machine without writable cgroups simply gets no cgroup limits.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
from pathlib import Path
from typing import Sequence

__all__ = ["find_root", "pids_root", "memory_root", "make", "empty", "oom_kills"]

CGROUP_V2 = Path("/sys/fs/cgroup")
PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), CGROUP_V2)
MEMORY_V1 = Path("/sys/fs/cgroup/memory")


def find_root(roots: Sequence[Path], limit_file: str) -> str:
    """A ``d2l-grade`` folder in the first cgroup hierarchy of ``roots`` whose child
    cgroups have ``limit_file``, under which each kernel gets a cgroup of its own."""
    controller = limit_file.split(".")[0]
    for root in roots:
        if not (root / "cgroup.procs").exists():
            continue  # not a cgroup (on cgroup v1, /sys/fs/cgroup itself is a plain tmpfs)
        base = root / "d2l-grade"
        probe = base / f"probe-{os.getpid()}"
        try:
            base.mkdir(exist_ok=True)
            if (base / "cgroup.subtree_control").exists():  # v2: children get a controller only if asked
                (base / "cgroup.subtree_control").write_text(f"+{controller}")
            probe.mkdir(exist_ok=True)
            usable = (probe / limit_file).exists()
            probe.rmdir()
        except OSError:
            continue
        if usable:
            return str(base)
    return ""


def pids_root() -> str:
    """Where each kernel gets a pids cgroup (v1 or v2)."""
    return find_root(PIDS_ROOTS, "pids.max")


def _own_memory_cgroup() -> list[Path]:
    """This process's cgroup in a v1 memory hierarchy: kernels' cgroups made under it stay
    inside whatever limit the grader itself runs under."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return [MEMORY_V1 / path.lstrip("/")]
    return []


def memory_root() -> str:
    """Where each kernel gets a memory cgroup: v1 under our own, else v2 (needs the memory
    controller enabled for the children of /sys/fs/cgroup)."""
    return (find_root(_own_memory_cgroup(), "memory.limit_in_bytes")
            or find_root([CGROUP_V2], "memory.max"))


def empty(cgroup: Path, wait: float = 2.0) -> None:
    """SIGKILL every process of ``cgroup`` until none is left, then remove it. Killed
    processes leave the cgroup only once they have exited, so this waits up to ``wait``
    seconds (a cgroup still busy then is removed by the next grader's sweep)."""
    procs = cgroup / "cgroup.procs"
    deadline = time.monotonic() + wait
    while True:
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            pids = []  # gone already, or never a cgroup
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not pids:
            try:
                os.rmdir(cgroup)
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return  # gone already, or not a cgroup
                # EBUSY: the last processes are still exiting
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)


def make(root: str, name: str, limits: dict[str, int]) -> str:
    """The cgroup ``root/name`` with each of ``limits`` its hierarchy has (one at least);
    "" if it cannot be made."""
    if not root:
        return ""
    cgroup = Path(root) / name
    existed = cgroup.exists()  # on cgroup v2 one cgroup carries both the pids and the memory limit
    try:
        cgroup.mkdir(exist_ok=True)
        present = [f for f in limits if (cgroup / f).exists()]
        if not present:
            raise OSError(f"{cgroup} has none of {sorted(limits)}")
        for limit_file in present:
            (cgroup / limit_file).write_text(str(limits[limit_file]))
    except OSError:
        if not existed:
            empty(cgroup)
        return ""
    return str(cgroup)


def oom_kills(cgroup: str) -> int:
    """Processes of ``cgroup`` killed so far for going over its memory limit (0 without one)."""
    if not cgroup:
        return 0
    for name in ("memory.events", "memory.oom_control"):  # v2, v1
        try:
            text = (Path(cgroup) / name).read_text()
        except OSError:
            continue
        found = re.search(r"^oom_kill (\d+)$", text, re.M)
        if found:
            return int(found.group(1))
    return 0
