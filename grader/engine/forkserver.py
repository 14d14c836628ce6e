"""The kernel template that imported everything once, and a grader's connection to it.

Starting a kernel costs seconds of CPU: Python, ipykernel, and torch with its friends, paid
again for every submission. A template process (``forktemplate.py``) does those imports
once and then waits, shared by every grader of the same user and build on a private Unix
socket (:func:`template_address`) and kept ``template_idle`` seconds after its last
grader left, so that the next ``grade`` finds it warm; :class:`ForkServer` is one
grader's connection to it, starting it when none runs. Each kernel is a
fork of it that runs the jail's own steps in-process before any student code runs, then
becomes an ipykernel on its own connection file (see ``forktemplate.py`` for what the child
does and why the template stays single-threaded).

The template imports ipykernel at once and the course's libraries on demand: the heavy
modules a notebook imports (``preload``) before its kernel is forked, and all of them in
the background when a batch's pool asks (:meth:`ForkServer.warm`). ``forked.py`` holds
the kernel manager that asks for forks.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import signal
import site
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.config import Options
from grader.engine.runtime import runtime_source
from grader.engine.sandbox import JAIL, OPENMP_ENV, PASS_ENV, font_cache_files

__all__ = [
    "ForkError",
    "ForkServer",
    "ForkedProcess",
    "fork_server",
    "spawn_template",
    "template_address",
    "template_dir",
    "template_env",
    "template_serving",
]

TEMPLATE = str(Path(__file__).with_name("forktemplate.py"))
MESSAGE_MAX = 1 << 20
TEMPLATE_START_TIMEOUT = 300.0  # importing torch on a loaded 2-core machine can take a minute

class ForkError(RuntimeError):
    """A kernel could not be forked from the template; the caller starts a fresh one."""


def template_env() -> dict[str, str]:
    """The template's environment: the kernels' fixed baseline, nothing of the grader's.

    Variables read once at interpreter start or library load must already hold the value a
    fresh kernel gets (hash seed, user site, bytecode); thread pools stay single-threaded
    until a child sets its own counts."""
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    fonts = font_cache_files()
    env.update({
        "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1", "TQDM_MININTERVAL": "5",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **OPENMP_ENV,
    })
    if fonts:
        env["MPLCONFIGDIR"] = str(Path(fonts[0]).parent)  # the font list, built once, loaded once
    return env


class ForkedProcess:
    """The forked kernel as jupyter_client's provisioner sees a ``Popen``: through a pidfd,
    since it is the template's child, not ours."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None
        self._signal = 0

    def poll(self) -> int | None:
        """None while the kernel runs, else its (approximate) exit code."""
        if self.returncode is None and self.pidfd >= 0 and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = -self._signal if self._signal else 0
            os.close(self.pidfd)
            self.pidfd = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until the kernel has exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("forked kernel", timeout or 0)
            select.select([self.pidfd], [], [], 0.1)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the kernel (never another process that reused its pid)."""
        if self.poll() is None:
            self._signal = signum if signum in (signal.SIGKILL, signal.SIGTERM) else self._signal
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


LOG_MAX = 1 << 20
SOCKET_PATH_MAX = 100  # a Unix socket's path holds 107 bytes; the socket's name takes 30


def template_dir() -> Path:
    """The private folder of this user's kernel templates' sockets (created 0700; refused
    when it is not ours alone, since whoever connects may fork kernels)."""
    bases = [b for b in (os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir()) if b]
    fitting = [b for b in bases if len(os.fsencode(b)) + 40 <= SOCKET_PATH_MAX]
    if not fitting:
        raise ForkError(f"the temporary folder's path ({bases[-1]}) is too long for a Unix socket; kernels start fresh")
    folder = Path(fitting[0]) / f"d2l-grade-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ForkError(f"{folder} is not a folder of this user's alone; kernels start fresh")
    return folder


def template_address(python: str = sys.executable, jail: str = JAIL) -> Path:
    """The socket of the template for this build: a change of Python, installed packages,
    runtime, template or jail code, or kernel environment names another template."""
    key = hashlib.sha256()
    for part in (python, Path(TEMPLATE).read_text(), Path(jail).read_text(), runtime_source(),
                 json.dumps(template_env(), sort_keys=True)):
        key.update(part.encode() + b"\0")
    for folder in sorted(set(site.getsitepackages())):  # pip install and uninstall touch it
        with contextlib.suppress(OSError):
            key.update(str(os.stat(folder).st_mtime_ns).encode())
    return template_dir() / f"template-{key.hexdigest()[:16]}.sock"


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def spawn_template(path: Path, python: str = sys.executable, jail: str = JAIL, idle: float = 0) -> subprocess.Popen:
    """Start a template serving ``path`` in its own session (it outlives this grader when
    ``idle`` > 0); it exits at once if another one serves ``path`` already."""
    log_path = path.with_suffix(".log")
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > LOG_MAX:  # what templates print: import warnings, crashes
            log_path.unlink()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [python, "-s", TEMPLATE, str(path), jail, str(idle)], env=template_env(), stdin=subprocess.PIPE,
            stdout=log, stderr=log, cwd=tempfile.gettempdir(), start_new_session=True)
    assert process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.write(runtime_source().encode())
        process.stdin.close()
    return process


class ForkServer:
    """This grader's connection to the shared kernel template, which it starts when none
    serves this build (thread-safe, one fork at a time)."""

    def __init__(self, python: str = sys.executable, jail: str = JAIL, idle: float = 0) -> None:
        self._lock = threading.Lock()
        self.owner = os.getpid()
        self.python, self.jail, self.idle = python, jail, idle
        self.path = template_address(python, jail)
        self.sock = _connect(self.path)
        self.process = None if self.sock is not None else spawn_template(self.path, python, jail, idle)
        self.hello: dict[str, Any] | None = None
        self.problem = ""

    def _reach(self, deadline: float) -> socket.socket:
        """The connection, once the template we started listens (a template that lost the
        race for the socket to another exits at once: we connect to the winner)."""
        spawned = 1
        while self.sock is None:
            self.sock = _connect(self.path)
            if self.sock is not None:
                break
            if self.process is not None and self.process.poll() is not None:
                if spawned == 3:
                    raise ForkError(f"the kernel template did not start (it exited with {self.process.returncode})")
                spawned += 1
                self.process = spawn_template(self.path, self.python, self.jail, self.idle)
            if time.monotonic() > deadline:
                raise ForkError("the kernel template did not start in time")
            time.sleep(0.02)
        return self.sock

    def ready(self, timeout: float = TEMPLATE_START_TIMEOUT) -> dict[str, Any]:
        """Wait for the template's imports; its greeting (imports that failed, threads)."""
        with self._lock:
            if self.hello is None and not self.problem:
                try:
                    sock = self._reach(time.monotonic() + timeout)
                    sock.settimeout(timeout)
                    data = sock.recv(MESSAGE_MAX)
                except ForkError as exc:
                    data, self.problem = b"", str(exc)
                except OSError as exc:
                    data, self.problem = b"", f"the kernel template did not start ({exc})"
                if data:
                    self.hello = _message(data)
                    if self.hello.get("threads") != 1:
                        self.problem = f"the kernel template has {self.hello.get('threads')} threads"
                elif not self.problem:
                    self.problem = "the kernel template did not start (it exited while importing)"
            if self.problem:
                raise ForkError(self.problem)
            assert self.hello is not None
            return self.hello

    def warm(self, modules: Sequence[str]) -> None:
        """Have the template import ``modules`` while it has nothing else to do (a batch:
        every later kernel shares them). Returns at once."""
        def send() -> None:
            try:
                self.ready()
                assert self.sock is not None
                self.sock.send(json.dumps({"warm": list(modules)}).encode())
            except (OSError, ForkError):
                pass  # its kernels will say why they were not forked
        # In a thread: the template may still be importing. A message without a reply
        # cannot break the pairing of a fork request with its reply.
        threading.Thread(target=send, daemon=True).start()

    def fork(self, request: dict[str, Any], timeout: float = 60.0) -> ForkedProcess:
        """A kernel forked into its sandbox (``request``: the jail's ``stage`` and ``spec``, the
        kernel ``cmd``, its ``cwd``, ``log`` file, ``threads``, and the modules to ``preload``
        into the template first, if not there yet); raises :class:`ForkError`
        when the fork or any sandbox step in the child failed (the child is then gone)."""
        self.ready()
        with self._lock:
            assert self.sock is not None
            self.sock.settimeout(timeout)
            try:
                self.sock.send(json.dumps({"fork": True, "preload": list(request.get("preload", []))}).encode())
                data, fds, _, _ = socket.recv_fds(self.sock, MESSAGE_MAX, 3)
            except OSError as exc:
                self.problem = f"the kernel template stopped answering ({exc})"
                raise ForkError(self.problem) from None
        try:
            reply = _message(data or b'{"error": "the kernel template exited"}')
            if "error" in reply or len(fds) != 3:
                raise ForkError(reply.get("error", "no process handle from the template"))
        except ForkError:
            for fd in fds:
                os.close(fd)
            raise
        process = ForkedProcess(int(reply["pid"]), fds[0])
        _write_request(fds[2], request)
        status = _read_status(fds[1], timeout)
        if status != "ok":
            process.kill()
            raise ForkError("the forked kernel could not enter its sandbox: "
                            + (status.removeprefix("error ") or "it exited"))
        return process

    def close(self) -> None:
        """Hang up: the kernels forked for us die; the template serves others, or exits
        when idle."""
        if os.getpid() != self.owner:
            return  # a forked copy of the grader: the connection is its parent's
        with self._lock:
            if self.sock is not None:
                self.sock.close()
                self.sock = None
                self.problem = self.problem or "closed"


def _message(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise ForkError(f"the kernel template sent {data[:80]!r}")
    return message


def _write_request(fd: int, request: dict[str, Any]) -> None:
    """Send the child its request (it reads to the end); a child already gone reads nothing."""
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(json.dumps(request).encode())
    except OSError:
        pass  # its status pipe says what happened


def _read_status(fd: int, timeout: float) -> str:
    """The child's one status line: "ok" once in its sandbox, else its error."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data and time.monotonic() < deadline:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return "the forked kernel did not enter its sandbox in time"
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip()


_servers: dict[int, ForkServer] = {}
_servers_lock = threading.Lock()
_started: dict[Path, subprocess.Popen] = {}  # templates this process started in the background


def fork_server(idle: float = 0) -> ForkServer:
    """This process's connection to the shared template, made on first use (again in a
    forked worker process); a template it starts exits after ``idle`` seconds unused."""
    with _servers_lock:
        server = _servers.get(os.getpid())
        if server is None:  # a template that died is not restarted: its kernels start fresh
            server = _servers[os.getpid()] = ForkServer(idle=idle)
            atexit.register(server.close)
        return server


def template_serving(options: Options) -> bool:
    """For ``fork_kernels = auto`` on one notebook: whether a shared template has done its
    imports already, so that a fork costs nothing to start. When none is running, one is
    started in the background for the next grades (``template_idle`` > 0), and this
    kernel starts fresh."""
    if options.fork_kernels != "auto" or options.template_idle <= 0 or not sys.platform.startswith("linux"):
        return False
    with _servers_lock:
        if os.getpid() in _servers:
            return True
    try:
        path = template_address()
    except (OSError, ForkError):
        return False
    sock = _connect(path)
    if sock is None:
        # Asked again before it listens (the same grade asks twice: kernel, then preload):
        # one template is on its way, do not start another that would find the lock taken.
        starting = _started.get(path)
        if starting is None or starting.poll() is not None:
            with contextlib.suppress(OSError):
                _started[path] = spawn_template(path, idle=options.template_idle)
        return False
    with sock:  # a template that has done its imports greets at once; one still importing does not
        return bool(select.select([sock], [], [], 0.05)[0])
