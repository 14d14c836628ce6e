"""The kernel template: imports what every kernel needs once, then forks kernels on request.

Started by :mod:`grader.engine.forkserver` (``python -s forktemplate.py SOCKET JAIL IDLE``,
the runtime's source on stdin) with the kernels' scrubbed baseline environment, so it never holds the grader's secret or
options. It imports only the standard library and the kernel's own modules (ipykernel at
start; torch, numpy, pandas, matplotlib on Agg, torchvision, d2l when a fork request needs
them or the grader asks it to warm up), never the grader package, and
never runs student code, starts a thread, or touches CUDA: a fork copies only the calling
thread, so a thread pool (OpenBLAS, OpenMP) or a lock held by another thread would be
copied half-way. ``OPENBLAS_NUM_THREADS=1`` in its environment keeps numpy's BLAS from
starting workers at import; each kernel sets its own thread counts.

It is shared: every grader of the same user and the same build (Python, installed
packages, grader runtime, jail: all in the socket's name) connects to its Unix socket, in a
folder only that user can enter, and the template checks the peer's uid. It serves until
no grader has been connected for IDLE seconds, then removes its socket and exits; a lock
file keeps two templates from serving one socket.

For every fork request on a grader's connection it imports the modules the request names
(if not yet done) and forks a child that

1. runs the jail's own code (``jail.main``, the same steps as the fresh kernel's launcher:
   limits, cgroups, namespaces, the forked PID 1, the allow-listed root, the dropped ids
   and capabilities), with the jail's final ``exec`` of the kernel command replaced by what
   an exec does to a process (capabilities, environment, signal dispositions);
2. reseeds, sets its thread counts and the ``fork`` start method for multiprocessing;
3. reports ``ok`` on a status pipe (the jail's error goes to the kernel log) and becomes
   an ipykernel on its connection file, in the jail's working directory.

The reply carries a pidfd of the child, the read end of its status pipe and the write end
of its request pipe (SCM_RIGHTS): the grader writes the kernel's request (the jail's stage
and spec, the kernel command, log file, thread count) straight to the child, so no
submission's paths ever pass through the template's memory, which every later fork copies.
The child keeps that grader's connection as its lifeline: the jail kills the kernel when
the connection hangs up (the grader is gone), as a fresh kernel dies with its grader
through ``PR_SET_PDEATHSIG``; and every kernel dies with the template.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

# What every kernel imports: ipykernel and what its start-up imports (its debugger loads
# debugpy: 0.7 s). The course's libraries are imported on demand: before a fork that needs
# them, or in the background when the grader asks (a batch), one module at a time.
BASE = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "IPython.core.history",
        "IPython.core.completer", "sqlite3", "pdb", "pydoc", "mimetypes", "faulthandler", "multiprocessing",
        "threadpoolctl")
PR_SET_DUMPABLE, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 4, 47, 4
CAPS_V3 = 0x20080522
MESSAGE_MAX = 1 << 20
_SET_BY_IMPORTS: dict[str, str] = {}  # environment variables the template's imports set

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _load_jail(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("_d2lgrade_jail", path)
    assert spec is not None and spec.loader is not None
    jail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(jail)
    return jail


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


# ---- the child: the jail's steps in-process --------------------------------------------

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _close_on_exec(keep: int) -> None:
    """Close what an exec closes: every descriptor marked close-on-exec (such as the jail's
    handle on the host's run folder, which would lead out of the kernel's root)."""
    import fcntl
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd != keep and fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                os.close(fd)
        except OSError:
            pass  # the descriptor of the listing itself, closed by now


def _as_after_exec(env: dict[str, str] | None, keep: int) -> None:
    """What ``exec`` of the kernel command would have done: no capabilities, a dumpable
    process, only inheritable descriptors (and ``keep``), the jail's environment, default
    signal dispositions."""
    # An exec recomputes capabilities from the (emptied) bounding set: none are left.
    _check(_libc.capset(ctypes.byref(_CapHeader(CAPS_V3, 0)), (_CapData * 2)()), "capset")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    # The jail's uid change made the process non-dumpable; an exec of the kernel (not
    # set-user-ID) makes it dumpable again, so its /proc files belong to the student.
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    _close_on_exec(keep)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
        os.environ.update(_SET_BY_IMPORTS)  # as the kernel's own imports of these modules would
        inductor = sys.modules.get("torch._inductor.runtime.cache_dir_utils")
        if inductor is not None and "TORCHINDUCTOR_CACHE_DIR" in _SET_BY_IMPORTS:
            # named after the user who imported torchvision: the kernel's user, not the template's
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]
            inductor.cache_dir()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _as_fresh_interpreter(threads: int, hidden: list[str]) -> None:
    """The per-kernel state a fresh interpreter would have: modules the grader hides not
    loaded, fresh seeds, the kernel's thread counts, the ``fork`` start method."""
    for name in list(sys.modules):  # modules the grader hides must be imported to be refused
        if any(name == h or name.startswith(h + ".") for h in hidden):
            del sys.modules[name]
    import random
    import tempfile
    tempfile.tempdir = None  # recomputed from TMPDIR
    random.seed()
    sys.dont_write_bytecode = os.environ.get("PYTHONDONTWRITEBYTECODE", "") != ""
    import multiprocessing
    # Explicit: Python 3.14 makes forkserver the default, which cannot pickle datasets
    # defined in a notebook for DataLoader workers.
    multiprocessing.set_start_method("fork", force=True)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.seed()
        torch.set_num_threads(threads)
    if "threadpoolctl" in sys.modules:
        # BLAS was loaded single-threaded in the template; a fresh kernel reads the count from the env
        sys.modules["threadpoolctl"].threadpool_limits(limits=threads, user_api="blas")


def _start_kernel(cmd: list[str]) -> None:
    """Become ``python -m ipykernel_launcher ARGS`` (the command the jail would exec)."""
    import atexit

    import ipykernel_launcher
    from ipykernel import kernelapp
    sys.argv = [ipykernel_launcher.__file__, *cmd[3:]]
    code = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()  # to the kernel's log, where the grader reads crash messages
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _read_request(fd: int, base_data: int) -> dict:
    """The kernel's request, written by the grader straight into this child's pipe (the
    template never holds one submission's paths for the next fork to find in its memory)."""
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    os.close(fd)
    request = json.loads(data)
    rlimits = request["spec"].get("rlimits", {})
    if "data" in rlimits:
        # The modules imported for sharing are the template's data, not the student's:
        # the kernel may allocate as much as a fresh kernel that imported only ipykernel.
        rlimits["data"] += max(0, _vm_data() - base_data)
    return request


def child(request_fd: int, status_fd: int, jail: Any, template: int, base_data: int, lifeline: int) -> None:
    """The forked kernel: its request, the jail's steps, then the kernel. Never returns."""
    try:
        request = _read_request(request_fd, base_data)
        cmd = request["cmd"]
    except BaseException as exc:
        os.write(status_fd, f"error {type(exc).__name__}: {exc}\n".encode()[:2000])
        os._exit(70)

    def become(path: str, argv: list[str], env: dict[str, str] | None) -> None:
        """The jail's final exec of the kernel command, continued in this process."""
        if list(argv) != cmd:
            raise RuntimeError(f"the forked kernel cannot reproduce the jail's exec of {list(argv)[:1]}")
        _as_after_exec(dict(env) if env is not None else None, status_fd)
        _as_fresh_interpreter(max(1, int(request["threads"])), request.get("hide_modules", []))
        os.write(status_fd, b"ok\n")
        os.close(status_fd)
        _start_kernel(cmd)
        raise RuntimeError("a forked kernel returned")  # _start_kernel never returns

    try:
        os.setsid()  # as jupyter_client's launcher: the kernel and its children form one group
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        if os.getppid() != template:
            os._exit(1)
        os.chdir(request["cwd"])
        if cmd[1:3] != ["-m", "ipykernel_launcher"]:
            raise RuntimeError(f"not a kernel command: {cmd[:3]}")
        jail.main([request["stage"], json.dumps(request["spec"]), "--", *cmd], exec_kernel=become, lifeline=lifeline)
        raise RuntimeError("the jail returned without starting the kernel")
    except BaseException as exc:
        try:
            os.write(status_fd, f"error {type(exc).__name__}: {exc}\n".encode()[:2000])
        finally:
            os._exit(70)


# ---- the template ------------------------------------------------------------------------

def _vm_data() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmData:"))


def _import(name: str, failed: dict) -> None:
    """Import ``name`` (a module the kernel would import itself); note what fails."""
    if name in sys.modules or name in failed:
        return
    import importlib
    before = dict(os.environ)
    try:
        importlib.import_module(name)
    except Exception as exc:  # a missing optional module (d2l): the kernel fails the same way itself
        failed[name] = f"{type(exc).__name__}: {exc}"
    _SET_BY_IMPORTS.update({k: v for k, v in os.environ.items() if before.get(k) != v})


def _preload(runtime: str, failed: dict) -> None:
    """Import what every kernel needs; build the grader's runtime once to import its parts."""
    for name in BASE:
        _import(name, failed)
    if runtime:
        try:
            scratch: dict = {"get_ipython": None, "__name__": "_d2lgrade_runtime_template"}
            exec(compile(runtime, "<d2l-grade runtime>", "exec"), scratch)
        except Exception as exc:
            failed["runtime"] = f"{type(exc).__name__}: {exc}"


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork(conn: socket.socket, others: list[int], jail: object, base_data: int) -> None:
    """Fork a child; reply with its pidfd, the read end of its status pipe and the write
    end of its request pipe. The child closes ``others`` (the listening socket, its lock,
    the other graders' connections) and keeps ``conn`` as its lifeline."""
    threads = _thread_count()
    if threads != 1:
        conn.send(json.dumps({"error": f"the template has {threads} threads; a fork would copy them half-way"}).encode())
        return
    status_r, status_w = os.pipe()
    request_r, request_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (*others, status_r, request_w):
            os.close(fd)
        child(request_r, status_w, jail, os.getppid(), base_data, conn.fileno())
    os.close(status_w)
    os.close(request_r)
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(conn, [json.dumps({"pid": pid}).encode()], [pidfd, status_r, request_w])
    finally:
        for fd in (pidfd, status_r, request_w):
            os.close(fd)


def _lock(path: str) -> int | None:
    """Hold the template's lock file for ``path``; None when another template holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _listen(path: str) -> socket.socket:
    """The socket graders connect to (a stale one of a template that died is replaced)."""
    if os.path.lexists(path):
        os.unlink(path)  # we hold the lock: no live template serves it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    return listener


def _same_user(conn: socket.socket) -> bool:
    """Whether the peer runs as our user (the folder is private too; this is the second lock)."""
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid == os.getuid()


class _Template:
    """The serving loop's state: the listening socket, the graders' connections, modules to
    import while idle."""

    def __init__(self, path: str, lock: int, listener: socket.socket, jail: object, idle: float) -> None:
        self.path, self.lock, self.jail, self.idle = path, lock, jail, idle
        self.listener: socket.socket | None = listener
        self.conns: list[socket.socket] = []
        self.failed: dict = {}
        self.warm: list[str] = []
        self.base_data = 0
        self.idle_since = time.monotonic()

    def serve(self) -> None:
        """Until idle for ``idle`` seconds with no grader connected (then it retires: a
        later grader starts a new template) and every connection has closed."""
        while self.listener is not None or self.conns:
            _reap()
            watched = [s for s in (self.listener, *self.conns) if s is not None]
            ready = select.select(watched, [], [], 0.01 if self.warm else 1.0)[0]
            if not ready and self.warm:
                _import(self.warm.pop(0), self.failed)
            for sock in ready:
                if sock is self.listener:
                    self.accept()
                else:
                    self.answer(sock)
            if self.conns:
                self.idle_since = time.monotonic()
            elif self.listener is not None and time.monotonic() - self.idle_since >= self.idle:
                self.retire()

    def accept(self) -> bool:
        """Take one connection from the queue (greeted, or closed when the peer is another
        user); False when the queue is empty."""
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return False
        if not _same_user(conn):
            conn.close()
            return True
        hello = {"pid": os.getpid(), "failed": self.failed, "threads": _thread_count()}
        try:
            conn.send(json.dumps(hello).encode())
        except OSError:
            conn.close()
            return True
        self.conns.append(conn)
        return True

    def answer(self, conn: socket.socket) -> None:
        """One grader's message: ``{"warm": [modules]}`` (import them when idle, no reply)
        or ``{"fork": true, "preload": [modules]}`` (import them, fork, reply)."""
        try:
            data = conn.recv(MESSAGE_MAX)
        except OSError:
            data = b""
        if not data:
            self.conns.remove(conn)
            conn.close()
            return
        try:
            message = json.loads(data)
            if "warm" in message:
                self.warm += [str(m) for m in message["warm"] if m not in self.warm]
                return
            for name in message.get("preload", []):
                _import(str(name), self.failed)
            others = [s.fileno() for s in (self.listener, *self.conns) if s is not None and s is not conn]
            _fork(conn, [*others, self.lock] if self.lock >= 0 else others, self.jail, self.base_data)
        except Exception as exc:
            try:
                conn.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            except OSError:
                pass

    def retire(self) -> None:
        """Stop being found (a grader arriving now starts a new template); serve the
        connections already queued until they close."""
        assert self.listener is not None
        os.unlink(self.path)
        os.close(self.lock)
        self.lock = -1
        self.listener.setblocking(False)
        while self.accept():
            pass
        self.listener.close()
        self.listener = None


def main(argv: list[str]) -> None:
    """``forktemplate.py SOCKET JAIL IDLE`` with the runtime's source on stdin: import,
    then serve graders on the Unix socket SOCKET until idle for IDLE seconds."""
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the grader's folder is no kernel's import path
    path, jail_path, idle = argv[0], argv[1], float(argv[2])
    runtime = sys.stdin.read()
    lock = _lock(path + ".lock")
    if lock is None:
        return  # another template serves this socket: the grader that started us connects to it
    template = _Template(path, lock, _listen(path), _load_jail(jail_path), idle)
    _preload(runtime, template.failed)
    template.base_data = _vm_data()
    template.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
