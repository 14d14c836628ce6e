"""The kernel template shared by graders: found again by the next grader, private to its
user, gone when idle, replaced when stale, and a kernel dies with the grader it was
forked for even though the template lives on."""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import Options
from grader.engine import forked, forkserver
from grader.engine.forkserver import ForkError, ForkServer, template_address, template_serving

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_templates(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime folder of this test alone, so its templates are not the suite's shared one
    (short: a socket's path must fit in 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="tpl", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.setattr(forkserver, "_servers", {})
    monkeypatch.setattr(forkserver, "_started", {})
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _gone(pid: int, timeout: float = 15.0) -> bool:
    """Whether process ``pid`` exits (or is already gone) within ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_the_next_grader_finds_the_template_warm_and_it_leaves_when_idle() -> None:
    first = ForkServer(idle=2)
    pid = first.ready()["pid"]
    first.close()
    second = ForkServer(idle=2)
    assert second.process is None  # connected to the running template: nothing started
    assert second.ready()["pid"] == pid
    path = second.path
    second.close()
    assert _gone(pid), "the template outstayed its idle time"
    assert not path.exists()


def test_a_template_without_idle_time_leaves_with_its_last_grader() -> None:
    server = ForkServer(idle=0)
    hello = server.ready()
    pid = hello["pid"]
    assert hello["failed"] == {} and hello["threads"] == 1  # every import worked, no thread started
    assert server.path.exists()
    server.close()
    assert _gone(pid, 10.0)
    assert not server.path.exists()


def test_the_socket_folder_is_private_and_a_shared_folder_is_refused(private_templates: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = forkserver.template_dir()
    assert folder.parent == private_templates
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.getuid()
    folder.chmod(0o755)
    with pytest.raises(ForkError, match="not a folder of this user's alone"):
        forkserver.template_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp/" + "x" * 80)  # too long for a socket: the temp folder
    assert forkserver.template_dir().parent == Path(tempfile.gettempdir())


def _connect_as(uid: int, path: Path) -> str:
    """What connecting to ``path`` does for a process of user ``uid`` (a forked child)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
                sock.connect(str(path))
            outcome = "connected"
        except OSError as exc:
            outcome = type(exc).__name__
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        outcome = pipe.read()
    os.waitpid(pid, 0)
    return outcome


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_user_cannot_reach_the_template() -> None:
    server = ForkServer(idle=0)
    try:
        server.ready()
        assert _connect_as(65534, server.path) == "PermissionError"
    finally:
        server.close()


def test_a_stale_socket_of_a_dead_template_is_replaced() -> None:
    path = template_address()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: as after a template killed with SIGKILL
    server = ForkServer(idle=0)
    try:
        assert server.process is not None
        assert server.ready()["threads"] == 1
    finally:
        server.close()


def test_auto_forks_a_single_notebook_only_once_a_template_is_warm() -> None:
    auto = dataclasses.replace(Options(), fork_kernels="auto", template_idle=3)
    assert not template_serving(dataclasses.replace(auto, template_idle=0))
    assert not template_address().exists()  # no idle time: nothing started in the background
    assert not template_serving(auto)  # none yet: this kernel starts fresh, a template starts
    [starting] = forkserver._started.values()
    assert not template_serving(auto)  # asked again while it imports: the same one, no second start
    assert list(forkserver._started.values()) == [starting]
    deadline = time.monotonic() + 120
    while not template_serving(auto):
        assert time.monotonic() < deadline, "the background template never became ready"
        time.sleep(0.2)
    assert forked.forks(auto)
    assert not forked.forks(dataclasses.replace(auto, fork_kernels="off"))


GRADER = """
import asyncio, dataclasses, sys
from grader.config import Options
from grader.engine.kernel import Kernel
async def main():
    kernel = Kernel(dataclasses.replace(Options(), fork_kernels="on", template_idle=30))
    await kernel.start(preload=())
    print(kernel.km.provisioner.pid, flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""


def _sockets(pid: int) -> set[str]:
    """The socket inodes process ``pid`` holds (read as root from the host)."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def test_a_kernel_dies_with_the_grader_it_was_forked_for() -> None:
    grader = subprocess.Popen([sys.executable, "-c", GRADER], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert grader.stdout is not None
        line = grader.stdout.readline()
        assert line.strip().isdigit(), "the grader did not start a forked kernel"
        kernel = int(line)
        assert not _gone(kernel, 0.5)
        template = ForkServer(idle=30)
        template_pid = template.ready()["pid"]
        with Path(f"/proc/{kernel}/status").open() as status:
            assert f"PPid:\t{template_pid}\n" in status.read()  # forked by the shared template
        # The kernel (the launcher's child) holds none of the template's sockets: not its
        # listening socket, not a grader's connection (the launcher keeps its own lifeline).
        [child] = Path(f"/proc/{kernel}/task/{kernel}/children").read_text().split()
        assert _sockets(template_pid) and not _sockets(int(child)) & _sockets(template_pid)
        assert _sockets(kernel) & _sockets(template_pid)  # the lifeline, seen from both sides
        template.close()
        grader.kill()  # no clean shutdown: only the lifeline tells the kernel
        assert _gone(kernel), "the kernel outlived its grader"
    finally:
        grader.kill()
        grader.wait()
    os.kill(template_pid, 15)
    assert _gone(template_pid)

