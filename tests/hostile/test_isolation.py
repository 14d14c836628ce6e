"""The kernel is unprivileged and sees an allow-listed filesystem (issue 14, items 1, 2, 5).

One probing notebook (A) runs while a second kernel (B) is alive, so that A can look for
B's connection file and sockets. Each probing cell ends with ``raise Exception(<what it
observed>)``: the observation comes back as the cell's error record. Cells only *open*
kernel settings for writing and never write to them, so a regression cannot change
this machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from grader.config import Options
from grader.engine.sandbox import RUN_PREFIX, detect_isolation
from grader.pipeline import grade_async
from hostile_kit import BROADCAST, TAG, TENSORS, assert_broadcast_only, graded
from nbfactory import code, notebook, write

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
DISK_LIMIT = 32 * 2**20

# B waits until the test connects to a socket in B's ipc folder through the host's RUN/ipc link.
WAIT_FOR_GO = '''
import os, socket
from ipykernel.connect import get_connection_file
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
    server.bind(os.path.join(os.path.dirname(get_connection_file()), 'ipc', 'go'))
    server.listen(1)
    server.settimeout(240)
    connection, _ = server.accept()
    raise Exception(connection.recv(16))
'''

PRIVILEGES = '''
import os
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())
raise Exception([os.getuid() != 0, os.getgid() != 0, os.getgroups(), status['CapEff'].strip(),
                 status['CapBnd'].strip(), status['NoNewPrivs'].strip(), os.getpid(),
                 os.path.exists('/proc/{grader_pid}')])
'''

# Only opened for writing, never written: a regression must not change this machine.
HOST_SETTINGS = '''
import os
refused = []
for path in ['/proc/sys/kernel/core_pattern', '/proc/sys/kernel/hostname', '/proc/sys/vm/drop_caches',
             '/sys/power/state', '/proc/sysrq-trigger']:
    try:
        os.close(os.open(path, os.O_WRONLY))
        refused.append('OPENED ' + path)
    except OSError:
        refused.append('refused')
raise Exception(refused)
'''

VISIBLE = '''
import os
from ipykernel.connect import get_connection_file
run = os.path.basename(os.path.dirname(get_connection_file()))
visible = [p for p in {paths!r} if os.path.lexists(p)]
runs = [n for n in os.listdir('/tmp') if n.startswith({prefix!r})]
raise Exception([visible, runs == [run], sorted(os.listdir('/home'))])
'''

SOCKETS = '''
import socket
errors = []
for address in [{path!r}, {abstract!r}]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(address)
            s.sendall(b'hello from the kernel')
            errors.append('CONNECTED')
        except OSError as exc:
            errors.append(type(exc).__name__)
raise Exception(errors)
'''

FILL_DISK = '''
import errno, os
from ipykernel.connect import get_connection_file
ipc = os.path.join(os.path.dirname(get_connection_file()), 'ipc')
written, error, made = 0, '', []
chunk = b'x' * 2**20
try:
    for i in range(200):   # 4 MiB per file, taking turns in every private folder
        path = os.path.join([ipc, '/tmp', '/dev/shm', os.path.expanduser('~')][i % 4], f'fill{{i}}')
        made.append(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for _ in range(4):
                written += os.write(fd, chunk)
        finally:
            os.close(fd)
except OSError as exc:
    error = errno.errorcode.get(exc.errno, str(exc.errno))
for path in made:
    os.remove(path)
raise Exception([{limit} // 2 < written <= {limit}, error])
'''

DATA_AND_PYTHON = '''
import os, torch, torchvision
test = torchvision.datasets.FashionMNIST(root='../data', train=False, download=True)
image, label = test[0]
try:
    open(os.path.join({store!r}, 'planted.txt'), 'w').close()
    store = 'written'
except OSError:
    store = 'refused'
raise Exception([len(test), type(image).__name__, int(label), store, int(torch.ones(3).sum())])
'''


def cell(result: Any, index: int) -> Any:
    """The record of submitted cell ``index`` (0-based)."""
    (record,) = [c for c in result.executions[0].cells if c.index == index]
    return record


def observed(result: Any, index: int) -> str:
    record = cell(result, index)
    assert record.ename == "Exception", (record.ename, record.evalue)
    return record.evalue


def hidden_host_paths(tmp_path: Path, planted: Path, socket_path: Path) -> list[str]:
    """Host paths no kernel may see: the checkout, home folders, other temporary files."""
    paths = [REPO / ".git", REPO / "solutions", REPO / "tests", REPO / "grader", REPO / "README.md",
             planted, socket_path, tmp_path, Path("/run"), Path("/var"), Path("/mnt"), Path("/srv")]
    # Folders of /root and /home except the chain leading to Python and the data store.
    needed = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Options().data_path.resolve()}
    for home in (Path("/root"), Path("/home"), Path.home() / ".cache"):
        if home.is_dir() and os.access(home, os.R_OK):
            paths += [p for p in home.iterdir() if not any(p == n or p in n.parents for n in needed)]
    return sorted({str(p) for p in paths if p.exists()})


async def _own_new_run(before: set[Path]) -> Path:
    """The run folder this process creates next, once its jail has confirmed the set-up."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for run in set(Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*")) - before:
            try:
                if (run / "grader.pid").read_text() == str(os.getpid()) and (run / "jail.json").exists():
                    return run
            except OSError:
                continue
        await asyncio.sleep(0.2)
    raise AssertionError("the waiting kernel did not start")


def test_a_kernel_is_unprivileged_and_sees_only_what_it_needs(tmp_path: Path, options: Options) -> None:
    isolation = detect_isolation(options.isolation)
    if not (isolation.namespaces and isolation.user_namespace):
        pytest.skip(f"no user namespace on this machine ({isolation.note}); see docs/SECURITY.md")
    planted = Path(tempfile.mkstemp(prefix="d2lg-planted-", dir=tempfile.gettempdir())[1])
    planted.write_text("host secret")
    socket_path = tmp_path / "host.sock"
    abstract = f"\0d2lg-test-{uuid.uuid4().hex}"
    listeners = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    for listener, address in zip(listeners, (str(socket_path), abstract)):
        listener.bind(address)
        listener.listen(1)
        listener.setblocking(False)
    waiting = write(notebook(graded(WAIT_FOR_GO), exercises=["broadcasting"]), tmp_path / "b" / "b.ipynb")
    slow = dataclasses.replace(options, cell_timeout=300.0, total_timeout=400.0)

    async def both() -> tuple[Any, Any, Path, bool]:
        before = set(Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"))
        task_b = asyncio.create_task(grade_async([waiting], options=slow))
        run_b = await _own_new_run(before)
        secrets = hidden_host_paths(tmp_path, planted, socket_path)
        secrets += [str(p) for p in run_b.glob("kernel-*.json")] + [str(run_b / "ipc"), str(run_b)]
        cells = [code(BROADCAST, TAG), code(PRIVILEGES.format(grader_pid=os.getpid())), code(HOST_SETTINGS),
                 code(VISIBLE.format(paths=secrets, prefix=RUN_PREFIX)),
                 code(SOCKETS.format(path=str(socket_path), abstract=abstract)),
                 code(FILL_DISK.format(limit=DISK_LIMIT)),
                 code(DATA_AND_PYTHON.format(store=str(options.data_path))), code(TENSORS)]
        probing = write(notebook(cells, exercises=["broadcasting"]), tmp_path / "a" / "a.ipynb")
        result_a = await grade_async([probing], options=dataclasses.replace(options, disk_limit=DISK_LIMIT))
        b_alive = (run_b / "jail.json").exists()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as go:  # B's tmpfs, through RUN/ipc
            go.connect(str(run_b / "ipc" / "go"))
            go.sendall(b"go")
        return result_a, await task_b, run_b, b_alive

    try:
        result_a, result_b, run_b, b_alive = asyncio.run(both())
        connections = []
        for listener in listeners:
            try:
                connections.append(listener.accept())
            except BlockingIOError:
                pass
    finally:
        for listener in listeners:
            listener.close()
        planted.unlink()
    assert b_alive, "B must still run while A looks for it"
    assert observed(result_a, 1) == str([True, True, [], "0000000000000000", "0000000000000000", "1", 1, False])
    assert observed(result_a, 2) == str(["refused"] * 5)
    assert observed(result_a, 3) == str([[], True, ["student"]])
    assert observed(result_a, 4) == str(["FileNotFoundError", "ConnectionRefusedError"])
    assert connections == []
    assert observed(result_a, 5) == str([True, "ENOSPC"])
    assert observed(result_a, 6) == str([10000, "Image", 9, "refused", 3])
    assert result_a.score == 9.0 and result_a.executions[0].isolation["kernel_uid"] != 0
    assert observed(result_b, 1) == "b'go'"
    assert_broadcast_only(result_b)
    assert not run_b.exists()
