"""Launch a kernel unprivileged, in its own namespaces, on an allow-listed root filesystem.

Run as a script by the kernel manager (``python -I -S jail.py launch SPEC -- CMD``), so
it uses the standard library only and imports nothing from the grader package. The
spec (plain JSON, built by ``sandbox.py``) says what the kernel may see; this file only
carries it out, as a fixed sequence of steps:

``launch`` (the process the grader started, "P", in the grader's namespaces):
  1. parent-death signal, resource limits, join the run's cgroups;
  2. :func:`enter_namespaces`: a new user namespace (the grader's root is not mapped in
     it; the kernel gets uid/gid 1000 inside, a per-run unprivileged id outside), then
     new mount, PID, network, IPC and UTS namespaces;
  3. fork the kernel-to-be ("G", PID 1 of the new PID namespace), report what G
     confirmed into ``RUN/jail.json``, wait for it and exit with its status. A kernel
     forked from the shared template (whose parent is the template, not the grader) also
     watches a ``lifeline``, the grader's connection to the template: when it hangs up,
     the grader is gone and G is killed, as the parent-death signal kills it otherwise.

:func:`confine` (G, which becomes the kernel):
  4. publish the ipc folder: ``RUN/ipc`` on the host becomes a symlink into G's root, so
     the grader reaches the kernel's sockets while they live in the kernel's tmpfs;
  5. :func:`open_sources` (what is taken from the host, opened while our ids still reach
     it), :func:`mount_new_root` (a tmpfs of ``disk_limit`` bytes) and :func:`build_root`:
     only the spec's read-only paths bound in, a fresh ``/proc`` (``/proc/sys``
     read-only), a minimal ``/dev`` and ``/etc``, and the private writable folders;
  6. :func:`pivot` into it and detach the host's tree;
  7. :func:`drop_privileges`: no supplementary groups, the kernel's uid/gid, every
     capability set empty (bounding and ambient included), ``no_new_privs``;
  8. report, re-arm the parent-death signal, ``exec`` the kernel command.

Every step runs in-process (no other program is executed before the kernel), so a child
forked from a pre-imported kernel template can run :func:`main` itself with the final
``exec`` replaced by its ``exec_kernel`` argument (``forktemplate.py`` does). The template must be single-threaded:
``unshare(CLONE_NEWUSER)`` refuses a process with threads. Without namespaces
(``isolation = off`` or a machine that refuses them) ``launch`` applies the limits and
execs the kernel directly.
"""

from __future__ import annotations

# Everything is imported up front: after the id change the namespace's root may no longer
# read the standard library (a root grader's Python lives under /root).
import ctypes
import json
import os
import re
import resource
import select
import signal
import sys
from collections.abc import Callable

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAPS_V3 = 0x20080522     # capset's header version with two 32-bit words per set
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
KERNEL_ID = 1000         # the kernel's uid and gid inside its user namespace
HOST_ID_BASE = 1 << 30   # outside ids of a root grader's kernels: BASE + 2 * pid (+ 1 for the kernel)
DEVICES = ("null", "zero", "full", "random", "urandom")
SETUP_FAILED = 121       # exit status of a jail that could not confine the kernel
GRADER_GONE = 122        # exit status of a jail whose grader hung up its lifeline
ExecKernel = Callable[[str, list[str], dict[str, str]], None]  # os.execve's shape

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                       ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


# ---- steps 1-3: the launching process ----------------------------------------------

def _limits(rlimits: dict) -> None:
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (value, value))


def _join_cgroups(spec: dict) -> None:
    for procs in spec.get("cgroup_procs", []):
        try:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        except OSError:
            pass  # the grader reports cgroup limits only when the kernel joined them


def _map_ids_by_helper(uid_map: str, gid_map: str) -> None:
    """Enter a new user namespace whose id maps a helper child writes: only a process with
    CAP_SETUID outside the namespace (the grader's root) may map ids other than its own."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    helper = os.fork()
    if helper == 0:
        os.close(write_end)
        if os.read(read_end, 1) != b"u":
            os._exit(1)  # the parent could not create the namespace
        try:
            for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
                with open(f"/proc/{parent}/{name}", "w") as fh:
                    fh.write(text)
        except OSError:
            os._exit(1)
        os._exit(0)
    os.close(read_end)
    try:
        _check(_libc.unshare(CLONE_NEWUSER), "unshare(user)")
        os.write(write_end, b"u")
    finally:
        os.close(write_end)
        _, status = os.waitpid(helper, 0)
    if status != 0:
        raise OSError("could not write the user namespace's id maps")


def _map_own_ids() -> None:
    """Enter a new user namespace mapping only our own (unprivileged) uid and gid."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(CLONE_NEWUSER), "unshare(user)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{KERNEL_ID} {uid} 1\n"),
                       ("gid_map", f"{KERNEL_ID} {gid} 1\n")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def enter_namespaces(spec: dict) -> dict:
    """Step 2. Returns the kernel's identity: ``uid``/``gid`` to run as, ``setup_root``
    (switch to the namespace's root for the set-up), ``drop_groups``."""
    host_id = HOST_ID_BASE + 2 * os.getpid()
    if not spec.get("user_namespace"):
        if os.geteuid() != 0:
            raise OSError("namespaces without a user namespace need root")
        ident = {"uid": host_id + 1, "gid": host_id + 1, "setup_root": False, "drop_groups": True}
    elif os.geteuid() == 0:
        maps = f"0 {host_id} 1\n{KERNEL_ID} {host_id + 1} 1\n"
        _map_ids_by_helper(maps, maps)
        ident = {"uid": KERNEL_ID, "gid": KERNEL_ID, "setup_root": True, "drop_groups": True}
    else:
        _map_own_ids()
        ident = {"uid": KERNEL_ID, "gid": KERNEL_ID, "setup_root": False, "drop_groups": False}
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare(mount, pid, net, ipc, uts)")
    return ident


def _wait_readable(fd: int, lifeline: int | None, kernel: int) -> None:
    """Block until ``fd`` is readable. If the ``lifeline`` hangs up first, the grader is
    gone: kill G (and with PID 1 its whole namespace) and exit."""
    if lifeline is None:
        return
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(lifeline, 0)  # hang-up and error are always reported; its data is not ours
    while True:
        for ready, _ in poller.poll():
            if ready == lifeline:
                os.kill(kernel, signal.SIGKILL)
                os._exit(GRADER_GONE)
            if ready == fd:
                return


def launch(spec: dict, cmd: list[str], exec_kernel: ExecKernel = os.execve, lifeline: int | None = None) -> None:
    """Steps 1-3 (see the module docstring); never returns. ``exec_kernel`` replaces the
    final ``execve`` of the kernel command (a forked kernel continues in-process);
    ``lifeline`` is a socket whose hang-up means the grader is gone."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader dies: so does the kernel
    _limits(spec.get("rlimits", {}))
    _join_cgroups(spec)
    if not spec.get("namespaces"):
        os.chdir(spec["workdir"])
        exec_kernel(cmd[0], cmd, spec["env"])
    run_fd = os.open(spec["run_root"], os.O_RDONLY | os.O_DIRECTORY)  # still reachable after pivot_root
    try:
        ident = enter_namespaces(spec)
    except OSError as exc:
        sys.stderr.write(f"d2l-grade jail: {exc}\n")
        os._exit(SETUP_FAILED)
    report_read, report_write = os.pipe()
    kernel = os.fork()
    if kernel == 0:
        os.close(report_read)
        try:
            confine(spec, ident, cmd, report_write, exec_kernel)
        except BaseException as exc:  # noqa: BLE001 - any failure must stop the kernel, loudly
            sys.stderr.write(f"d2l-grade jail: {type(exc).__name__}: {exc}\n")
        os._exit(SETUP_FAILED)
    os.close(report_write)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    report = b""
    while True:
        _wait_readable(report_read, lifeline, kernel)
        chunk = os.read(report_read, 65536)
        if not chunk:
            break
        report += chunk
    if report:
        fd = os.open("jail.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=run_fd)
        os.write(fd, report)
        os.close(fd)
    if lifeline is not None:
        _wait_readable(os.pidfd_open(kernel), lifeline, kernel)
    _, status = os.waitpid(kernel, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


# ---- steps 4-8: the kernel-to-be ----------------------------------------------------

def publish_ipc(spec: dict) -> None:
    """Step 4: RUN/ipc -> /proc/<our host pid>/root/<ipc dir>. Done while our ids are
    still the grader's (owner of RUN) and /proc is still the host's."""
    host_pid = os.readlink("/proc/self")
    os.symlink(f"/proc/{host_pid}/root{spec['ipc_dir']}", spec["ipc_dir"])


def open_sources(spec: dict) -> dict:
    """Everything build_root takes from the host, opened while our ids can still reach it
    (a root grader's folders such as /root are closed to the namespace's root): bind
    sources as O_PATH descriptors, symlinks as their text, copied files as open files."""
    binds, links = [], []
    for path in spec["read_only"]:  # no entry lies inside another (sandbox.py sees to it)
        if os.path.islink(path):  # e.g. /lib -> usr/lib: the same link (its target is listed too)
            links.append((path, os.readlink(path)))
        elif os.path.exists(path):
            binds.append((path, os.open(path, os.O_PATH), os.path.isdir(path)))
    devices = [(f"/dev/{name}", os.open(f"/dev/{name}", os.O_PATH), False) for name in DEVICES]
    files = [(dest, os.open(src, os.O_RDONLY)) for src, dest in spec.get("files", [])]
    return {"binds": binds, "links": links, "devices": devices, "files": files}


def _mount_flags(path: str) -> int:
    """The flags a bind mount of ``path`` must keep (a user namespace may not clear them)."""
    found = os.statvfs(path).f_flag
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
             (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
    return sum(ms for st, ms in pairs if found & st)


def _mounts_under(staging: str, target: str) -> list[str]:
    """Mount points at or below ``target`` (relative to the new root, which is mounted at
    ``staging``), as paths relative to the current directory (the new root)."""
    top = staging.rstrip("/") + target[1:].rstrip("/")
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == top or point.startswith(top + "/"):
                points.append("." + point[len(staging.rstrip("/")):])
    return points


def _bind_read_only(staging: str, fd: int, is_dir: bool, target: str, devices: bool = False) -> None:
    """Bind the host object open as ``fd`` (and what is mounted below it) at ``target`` of
    the new root (the current directory), every mount read-only."""
    local = "." + target
    if is_dir:
        os.makedirs(local, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(local), exist_ok=True)
        os.close(os.open(local, os.O_WRONLY | os.O_CREAT, 0o644))
    _mount(f"/proc/self/fd/{fd}", local, None, MS_BIND | MS_REC)
    os.close(fd)
    for point in _mounts_under(staging, target):
        extra = 0 if devices else MS_NOSUID | MS_NODEV
        _mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra | _mount_flags(point))


def _cover(local: str) -> None:
    if os.path.isdir(local):
        _mount("none", local, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    elif os.path.exists(local):
        _mount("/dev/null", local, None, MS_BIND)


def _write(local: str, data: bytes, owner: tuple[int, int] | None = None) -> None:
    os.makedirs(os.path.dirname(local), exist_ok=True)
    fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    if owner:
        os.fchown(fd, *owner)
    os.close(fd)


def _mount_proc(found: dict) -> None:
    """A /proc of the new PID namespace only; /proc/sys read-only on top."""
    os.makedirs("./proc", exist_ok=True)
    try:
        _mount("proc", "./proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as exc:
        found["proc"] = f"absent ({exc.strerror})"
        return
    found["proc"] = "fresh (this PID namespace only)"
    try:
        _mount("./proc/sys", "./proc/sys", None, MS_BIND | MS_REC)
        _mount("none", "./proc/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        found["proc_sys"] = "read-only"
    except OSError as exc:
        found["proc_sys"] = f"writable mount, root-owned files ({exc.strerror})"


def mount_new_root(spec: dict, ident: dict) -> None:
    """Step 5a: a tmpfs of ``disk_limit`` bytes at ``spec['staging']``, the current
    directory from now on (mounted with our first ids: they can reach the staging folder)."""
    owner = ",uid=0,gid=0" if ident["setup_root"] else ""  # the namespace's root, not ours
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("none", spec["staging"], "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['disk_limit']},mode=0755{owner}")
    os.chdir(spec["staging"])


def build_root(spec: dict, sources: dict, ident: dict, found: dict) -> None:
    """Step 5b: fill the new root (the current directory) from ``sources``."""
    kernel = (ident["uid"], ident["gid"])
    for path, mode in spec["writable"]:  # in the tmpfs: counted against disk_limit
        os.makedirs("." + path, exist_ok=True)
        os.chmod("." + path, mode)
        if not mode & 0o7000:  # sticky folders (/tmp) stay the namespace root's
            os.chown("." + path, *kernel)
    for path, target in sources["links"]:
        os.makedirs(os.path.dirname("." + path), exist_ok=True)
        os.symlink(target, "." + path)
    for path, fd, is_dir in sources["binds"]:
        _bind_read_only(spec["staging"], fd, is_dir, path)
    for path in spec.get("hide", []):
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p, _, _ in sources["binds"]):
            _cover("." + path)
    home = spec["home"].rstrip("/") + "/"
    for dest, fd in sources["files"]:
        with os.fdopen(fd, "rb") as fh:
            _write("." + dest, fh.read(), kernel if dest.startswith(home) else None)
    for folder, _, _ in os.walk("." + spec["home"]):  # folders made for the copies
        os.chown(folder, *kernel)
    etc = dict(spec.get("etc", {}))
    etc["passwd"] = f"root:x:0:0::/:/bin/false\nstudent:x:{kernel[0]}:{kernel[1]}::{spec['home']}:/bin/sh\n"
    etc["group"] = f"root:x:0:\nstudent:x:{kernel[1]}:\n"
    for name, text in etc.items():
        _write(f"./etc/{name}", text.encode())
    for path, fd, _ in sources["devices"]:
        _bind_read_only(spec["staging"], fd, False, path, devices=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"./dev/{name}")
    _mount_proc(found)


def pivot() -> None:
    """Step 6: make the current directory the root; detach the host's filesystem."""
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {os.uname().machine}")
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def drop_privileges(ident: dict, nproc: int) -> None:
    """Step 7: the kernel's ids, no capabilities (bounding, ambient, effective, permitted,
    inheritable), no way to regain any (``no_new_privs``)."""
    if ident["drop_groups"]:
        os.setgroups([])
    os.setresgid(ident["gid"], ident["gid"], ident["gid"])
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setresuid(ident["uid"], ident["uid"], ident["uid"])
    # A uid change from the namespace's root clears the rest; without one (a non-root
    # grader's namespace) clear them here, not trusting a later exec to (a fork has none).
    header = (ctypes.c_uint32 * 2)(CAPS_V3, 0)
    _check(_libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _status_field(name: str) -> str:
    try:
        with open("/proc/self/status") as fh:
            return next((line.split()[1] for line in fh if line.startswith(name + ":")), "")
    except OSError:
        return ""


def confine(spec: dict, ident: dict, cmd: list[str], report_fd: int, exec_kernel: ExecKernel = os.execve) -> None:
    """Steps 4-8 (see the module docstring); never returns."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # not inherited through fork
    os.umask(0o022)
    publish_ipc(spec)
    sources = open_sources(spec)
    mount_new_root(spec, ident)
    if ident["setup_root"]:
        os.setresgid(0, 0, 0)  # the namespace's root: files we create get a mapped owner
        os.setresuid(0, 0, 0)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a uid change clears it
    found: dict = {"user_namespace": bool(spec.get("user_namespace")), "root": "allow-list"}
    build_root(spec, sources, ident, found)
    pivot()
    _libc.sethostname(b"sandbox", 7)
    drop_privileges(ident, spec.get("nproc", 0))
    caps = {f: _status_field(f) for f in ("CapEff", "CapPrm", "CapBnd", "CapAmb")}
    found.update(uid=os.getuid(), gid=os.getgid(), groups=os.getgroups(),
                 capabilities="none" if set(caps.values()) <= {"0000000000000000", ""} else caps,
                 no_new_privs=_status_field("NoNewPrivs") in ("1", ""))
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the uid change cleared it
    os.write(report_fd, json.dumps(found).encode())  # fails (EPIPE) if the launcher is gone
    os.close(report_fd)
    os.chdir(spec["workdir"])
    exec_kernel(cmd[0], cmd, spec["env"])


def main(argv: list[str], exec_kernel: ExecKernel = os.execve, lifeline: int | None = None) -> None:
    stage, raw_spec, sep, *cmd = argv
    if stage != "launch" or sep != "--" or not cmd:
        raise SystemExit("usage: jail.py launch SPEC -- CMD...")
    launch(json.loads(raw_spec), cmd, exec_kernel, lifeline)


if __name__ == "__main__":
    main(sys.argv[1:])
