"""The kernel template: imports what every kernel needs once, then forks kernels on request.

Run as a script by :mod:`grader.engine.forkserver` (``python -s forktemplate.py FD JAIL``)
with the kernels' scrubbed baseline environment, so it never holds the grader's secret or
options. It imports only the standard library and the kernel's own modules (ipykernel at
start; torch, numpy, pandas, matplotlib on Agg, torchvision, d2l when a fork request needs
them or the grader asks it to warm up), never the grader package, and
never runs student code, starts a thread, or touches CUDA: a fork copies only the calling
thread, so a thread pool (OpenBLAS, OpenMP) or a lock held by another thread would be
copied half-way. ``OPENBLAS_NUM_THREADS=1`` in its environment keeps numpy's BLAS from
starting workers at import; each kernel sets its own thread counts.

For every fork request on the control socket it imports the modules the request names
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
The template exits when the grader closes the control socket; every kernel dies with it
(``PR_SET_PDEATHSIG``), as every kernel dies with its grader when started by the jail.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import signal
import socket
import sys
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


def child(request_fd: int, status_fd: int, jail: Any, template: int, base_data: int) -> None:
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
        jail.main([request["stage"], json.dumps(request["spec"]), "--", *cmd], exec_kernel=become)
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


def _fork(conn: socket.socket, jail: object, base_data: int) -> None:
    """Fork a child; reply with its pidfd, the read end of its status pipe and the write
    end of its request pipe."""
    threads = _thread_count()
    if threads != 1:
        conn.send(json.dumps({"error": f"the template has {threads} threads; a fork would copy them half-way"}).encode())
        return
    status_r, status_w = os.pipe()
    request_r, request_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        conn.close()
        os.close(status_r)
        os.close(request_w)
        child(request_r, status_w, jail, os.getppid(), base_data)
    os.close(status_w)
    os.close(request_r)
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(conn, [json.dumps({"pid": pid}).encode()], [pidfd, status_r, request_w])
    finally:
        for fd in (pidfd, status_r, request_w):
            os.close(fd)


def main(argv: list[str]) -> None:
    """``forktemplate.py FD JAIL``: serve the grader's messages on the socket FD until it
    closes: ``{"warm": [modules]}`` (import them when idle, no reply) or ``{"fork": true,
    "preload": [modules]}`` (import them, fork, reply with the child's handles)."""
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the grader's folder is no kernel's import path
    conn = socket.socket(fileno=int(argv[0]))
    jail = _load_jail(argv[1])
    hello = json.loads(conn.recv(MESSAGE_MAX) or b"{}")
    failed: dict = {}
    _preload(hello.get("runtime", ""), failed)
    base_data = _vm_data()
    conn.send(json.dumps({"pid": os.getpid(), "failed": failed, "threads": _thread_count()}).encode())
    warm: list[str] = []
    while True:
        _reap()
        conn.settimeout(0.01 if warm else 1.0)
        try:
            data = conn.recv(MESSAGE_MAX)
        except TimeoutError:
            if warm:
                _import(warm.pop(0), failed)
            continue
        if not data:
            return  # the grader is gone: so are we, and (pdeathsig) every kernel we forked
        try:
            message = json.loads(data)
            if "warm" in message:
                warm += [str(m) for m in message["warm"] if m not in warm]
                continue
            for name in message.get("preload", []):
                _import(str(name), failed)
            _fork(conn, jail, base_data)
        except Exception as exc:
            conn.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())


if __name__ == "__main__":
    main(sys.argv[1:])
