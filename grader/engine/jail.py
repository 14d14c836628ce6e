"""Launch a kernel confined by Linux namespaces, limits and a read-only filesystem.

Run as a script by the kernel manager (``python -I -S jail.py outer SPEC -- CMD``),
so it uses the standard library only and imports nothing from the grader package.

* ``outer`` (in the grader's namespaces): resource limits, a pids cgroup, then
  ``unshare`` into new network, mount and PID namespaces, re-running this file as
  ``inner``. When the kernel (PID 1 in its namespace) dies, every process it started
  dies with it.
* ``inner`` (inside the namespaces): a private tmpfs as the working area, the paths the
  grader hides covered up, every other mount read-only, all capabilities dropped, then
  ``exec`` of the kernel command.

Without ``unshare`` the outer stage still applies the limits and execs the kernel
directly (isolation "off" or unavailable); ``docs/SECURITY.md`` states what that means.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
KEEP_WRITABLE_TYPES = {"proc", "devtmpfs", "devpts", "mqueue", "sysfs", "cgroup", "cgroup2"}

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _limits(spec: dict) -> None:
    for name, value in spec.get("rlimits", {}).items():
        which = getattr(resource, f"RLIMIT_{name.upper()}")
        resource.setrlimit(which, (value, value))


def _join_cgroups(spec: dict) -> None:
    for procs in spec.get("cgroup_procs", []):
        try:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        except OSError:
            pass  # the grader reports cgroup limits only when it created the cgroups itself


def outer(spec: dict, cmd: list[str]) -> None:
    # If the grader dies (even by SIGKILL), the kernel and all it started die too.
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    _limits(spec)
    _join_cgroups(spec)
    if spec.get("unshare"):
        inner_cmd = [sys.executable, "-I", "-S", os.path.abspath(__file__), "inner", json.dumps(spec), "--", *cmd]
        os.execvp(spec["unshare"][0], [*spec["unshare"], "--", *inner_cmd])
    os.chdir(spec["workdir"])
    os.execve(cmd[0], cmd, spec["env"])


def _mount_points() -> list[tuple[str, str]]:
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, right = line.split(" - ", 1)
            point = left.split()[4].replace("\\040", " ")
            points.append((point, right.split()[0]))
    return points


def _cover(path: str) -> None:
    if os.path.isdir(path):
        _mount("none", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    elif os.path.exists(path):
        _mount("/dev/null", path, None, MS_BIND)


def _read_only_everywhere(keep: set[str]) -> None:
    for point, fstype in _mount_points():
        if fstype in KEEP_WRITABLE_TYPES or point in keep or any(point.startswith(k + "/") for k in keep):
            continue
        try:
            _mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except OSError:
            pass  # mounts locked by an outer namespace stay as they are


def _drop_capabilities() -> None:
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _only_this_run(runs_dir: str, run_root: str, size: int) -> None:
    """Cover the folder of all runs with an empty tmpfs and bind this run back into it."""
    fd = os.open(run_root, os.O_PATH | os.O_DIRECTORY)
    _mount("none", runs_dir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    os.mkdir(run_root, 0o755)
    _mount(f"/proc/self/fd/{fd}", run_root, None, MS_BIND | MS_REC)
    os.close(fd)


def inner(spec: dict, cmd: list[str]) -> None:
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    root = spec["sandbox"]
    run_root = os.path.dirname(root)
    if spec.get("runs_dir"):
        _only_this_run(spec["runs_dir"], run_root, spec["disk_limit"])
    _mount("none", root, "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['disk_limit']},mode=0777")
    for sub in ("work", "tmp", "home"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for src, rel in spec.get("copy", []):
        dest = os.path.join(root, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(src, dest)
    for path in spec.get("hide", []):
        _cover(path)
    if os.path.isdir("/dev/shm"):
        _mount("none", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=268435456,mode=1777")
    if os.path.isdir("/sys/fs/cgroup"):
        _mount("none", "/sys/fs/cgroup", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    # The kernel's sockets live in ipc_dir: keep it writable on its own bind mount.
    _mount(spec["ipc_dir"], spec["ipc_dir"], None, MS_BIND)
    writable = {root, spec["ipc_dir"], "/dev/shm", "/proc", "/dev", "/sys/fs/cgroup"}
    _read_only_everywhere(writable | ({spec["runs_dir"]} if spec.get("runs_dir") else set()))
    if spec.get("runs_dir"):
        # The runs tmpfs is the kernel's scratch /tmp; the run's own folder (logs) is not.
        _mount("none", run_root, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    _drop_capabilities()
    os.chdir(os.path.join(root, "work"))
    os.execve(cmd[0], cmd, spec["env"])


def main(argv: list[str]) -> None:
    stage, raw_spec, sep, *cmd = argv
    assert sep == "--", "usage: jail.py outer|inner SPEC -- CMD..."
    spec = json.loads(raw_spec)
    (outer if stage == "outer" else inner)(spec, cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
