"""A kernel forked from the template behaves as a fresh one: same scores, same sandbox,
nothing left over from the submission before, data-loader workers, and a fresh kernel
(said in the report) when the fork fails."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import SOLUTIONS, STUBS
from nbfactory import code, notebook, write

from grader.checking.probe import Value, build_request, read_answer
from grader.config import Options
from grader.engine import forkserver
from grader.engine.forked import FORKED, FRESH
from grader.engine.execute import execute
from grader.engine.prepare import prepare
from grader.notebook.load import read_notebook
from grader.pipeline import grade
from grader.protocol import ExecutionRun, KernelCall

pytestmark = pytest.mark.kernel

CHEAP = ("broadcasting", "frobenius", "comparison_ops")

# Everything of the process a notebook can observe about its sandbox and interpreter.
FACTS = r'''
import json, os, re, resource, sys, tempfile, multiprocessing, threadpoolctl, torch, torchvision
def _status():
    keep = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
    rows = (line.split(":", 1) for line in open("/proc/self/status"))
    return {k: v.split() for k, v in rows if k in keep}
def _mounts():
    rows = []
    for line in open("/proc/self/mountinfo"):
        left, right = line.split(" - ", 1)
        rows.append(" ".join([left.split()[4], right.split()[0], left.split()[5].split(",")[0]]))
    return sorted(rows)
def _fds():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(re.sub(r"\[\d+\]|d2lg-\w+", "", os.readlink("/proc/self/fd/" + fd)))
        except OSError:
            pass
    return sorted(found)
facts = json.dumps({
    "status": _status(), "mounts": _mounts(), "env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid(),
    "rlimits": {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")},
    "path": sys.path, "flags": str(sys.flags), "hash": hash("d2l"), "tmp": tempfile.gettempdir(),
    "start_method": multiprocessing.get_start_method(), "host": os.uname().nodename, "umask": os.umask(0o22),
    "cgroup": re.sub(r"d2lg-\w+", "RUN", open("/proc/self/cgroup").read()), "fds": _fds(),
    "torch_threads": torch.get_num_threads(),
    "blas_threads": sorted({p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}),
    "executable": sys.executable, "argv0": os.path.basename(sys.argv[0]),
    "dumpable": __import__("ctypes").CDLL(None).prctl(3, 0, 0, 0, 0),
}, sort_keys=True)
'''


def _run(tmp_path: Path, options: Options, cells: list[Any], names: list[str], fork: bool,
         name: str = "n.ipynb") -> tuple[ExecutionRun, dict[str, Any]]:
    prepared = prepare(read_notebook(write(notebook(cells), tmp_path / name)))
    calls = [KernelCall(n, build_request(Value(n), 0), 60, None) for n in names]
    run = execute(prepared, calls, dataclasses.replace(options, fork_kernels=fork), seed=7)
    return run, {n: read_answer(Value(n), run.answers[n]) for n in names}


def test_solutions_and_stubs_score_the_same_in_forked_and_fresh_kernels(options: Options) -> None:
    paths = [folder / f"{ex}.ipynb" for folder in (SOLUTIONS, STUBS) for ex in CHEAP]
    scores = {}
    for fork in (False, True):
        runs = [grade(p, options=dataclasses.replace(options, fork_kernels=fork)) for p in paths]
        assert {r.executions[0].isolation["kernel_process"] for r in runs} == \
            {FORKED if fork else FRESH}
        scores[fork] = [[(t.name, t.score, t.max_score, t.status, t.message) for t in r.tests] for r in runs]
    assert scores[True] == scores[False]
    assert all(t[1] == 0 for stub in scores[True][len(CHEAP):] for t in stub)  # the stubs score nothing
    assert all(t[1] == t[2] for sol in scores[True][:len(CHEAP)] for t in sol)  # the solutions everything


LAZY_FDS = ("anon_inode:[eventfd]", "anon_inode:[eventpoll]", "/.ipython/profile_default/history.sqlite", "socket:")


def _fd_kinds(fds: list[str]) -> dict[str, int]:
    """What a kernel's descriptors point at, with their counts, leaving out what ipykernel's
    threads open when they get to it (present or not, in any number, by timing)."""
    return {fd: fds.count(fd) for fd in fds if not any(lazy in fd for lazy in LAZY_FDS)}


def test_a_forked_kernel_sees_the_same_sandbox_and_interpreter(tmp_path: Path, options: Options) -> None:
    options = dataclasses.replace(options, threads=2)
    facts = {fork: json.loads(_run(tmp_path, options, [code(FACTS)], ["facts"], fork)[1]["facts"])
             for fork in (False, True)}
    fresh, forked = facts[False], facts[True]
    assert forked["torch_threads"] == 2 and forked["blas_threads"] == [2]
    assert forked["start_method"] == "fork"
    assert fresh["env"]["GOMP_SPINCOUNT"] == forked["env"]["GOMP_SPINCOUNT"] == "1000"  # short OpenMP spin
    assert forked["status"]["CapEff"] == ["0000000000000000"] and forked["status"]["NoNewPrivs"] == ["1"]
    # RLIMIT_DATA grows by the template's shared imports (the student allocated none of it)
    assert forked["rlimits"].pop("RLIMIT_DATA")[0] >= fresh["rlimits"].pop("RLIMIT_DATA")[0]
    # Descriptors: the same, except those ipykernel's threads open or accept when they get
    # to it (zmq's event fds and connections, the history database and its journal). A path leaked from the template (its
    # lock) would show here; its sockets are looked for by inode in test_template_sharing.py.
    assert _fd_kinds(forked.pop("fds")) == _fd_kinds(fresh.pop("fds"))
    assert {k for k in fresh if fresh[k] != forked[k]} == set(), {k: (fresh[k], forked[k]) for k in fresh
                                                                   if fresh[k] != forked[k]}


def test_nothing_of_one_submission_is_visible_to_the_next(tmp_path: Path, options: Options) -> None:
    leave = code("""
import os, sys, types, builtins, torch, numpy, pandas
LEFT = 'globals'
sys.modules['left_module'] = types.ModuleType('left_module')
builtins.left_builtin = 1
torch.left_attribute = numpy.left_attribute = 1
os.environ['LEFT'] = '1'
for folder in ('.', os.path.expanduser('~'), '/tmp', '/dev/shm'):
    open(os.path.join(folder, 'left.txt'), 'w').write('x')
left = 'written'
""")
    look = code("""
import os, sys, builtins, torch, numpy
found = sorted(
    [k for k in ('LEFT',) if k in globals()]
    + [m for m in ('left_module',) if m in sys.modules]
    + [n for n in ('left_builtin',) if hasattr(builtins, n)]
    + [m.__name__ for m in (torch, numpy) if hasattr(m, 'left_attribute')]
    + [k for k in ('LEFT',) if k in os.environ]
    + [f for f in ('.', os.path.expanduser('~'), '/tmp', '/dev/shm') if os.path.exists(os.path.join(f, 'left.txt'))])
try:
    import pandas  # imported by the template for the first submission, hidden from this one
except ModuleNotFoundError:
    found.append('pandas refused')
""")
    first, answers = _run(tmp_path, options, [leave], ["left"], True, "first.ipynb")
    assert answers["left"] == "written"
    hiding = dataclasses.replace(options, hide_modules=("pandas",))
    second, answers = _run(tmp_path, hiding, [look], ["found"], True, "second.ipynb")
    assert {r.summary.isolation["kernel_process"] for r in (first, second)} == {FORKED}
    assert answers["found"] == ["pandas refused"]


def test_data_loader_workers_start_in_a_forked_kernel_under_its_limits(tmp_path: Path, options: Options) -> None:
    cells = [code("""
import os, torch
from torch.utils import data
class Squares(data.Dataset):  # defined in the notebook: workers must be forked, not spawned
    def __len__(self):
        return 64
    def __getitem__(self, i):
        return torch.tensor([float(i * i)]), open('/proc/self/cgroup').read()
loader = data.DataLoader(Squares(), batch_size=8, num_workers=4)
batches = list(loader)
total = float(sum(x.sum() for x, _ in batches))
same_cgroup = all(c == open('/proc/self/cgroup').read() for _, cs in batches for c in cs)
""")]
    run, answers = _run(tmp_path, options, cells, ["total", "same_cgroup"], True)
    assert run.summary.isolation["kernel_process"] == FORKED
    assert answers == {"total": float(sum(i * i for i in range(64))), "same_cgroup": True}


def test_a_failed_fork_starts_a_fresh_kernel_and_says_why(monkeypatch: pytest.MonkeyPatch, options: Options) -> None:
    def refuse(self: Any, request: dict[str, Any], timeout: float = 60.0) -> Any:
        raise forkserver.ForkError("the kernel template has 3 threads")

    monkeypatch.setattr(forkserver.ForkServer, "fork", refuse)
    result = grade(SOLUTIONS / "frobenius.ipynb", options=dataclasses.replace(options, fork_kernels="on"))
    isolation = result.executions[0].isolation
    assert isolation["kernel_process"] == FRESH
    assert isolation["fork_failed"].startswith("the kernel template has 3 threads")
    assert result.score == result.max_score


def test_a_fork_that_fails_inside_the_jail_falls_back_cleanly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             options: Options) -> None:
    # A jail that publishes the ipc link, as the real one does first, then fails.
    broken = tmp_path / "jail.py"
    broken.write_text("import json, os\n"
                      "def main(argv, exec_kernel=None, lifeline=None):\n"
                      "    spec = json.loads(argv[1])\n"
                      "    os.symlink('/nonexistent', spec['ipc_dir'])\n"
                      "    raise OSError(1, 'mount /: Operation not permitted')\n")
    server = forkserver.ForkServer(jail=str(broken))
    monkeypatch.setattr(forkserver, "_servers", {os.getpid(): server})
    try:
        result = grade(SOLUTIONS / "frobenius.ipynb", options=dataclasses.replace(options, fork_kernels="on"))
    finally:
        server.close()
    isolation = result.executions[0].isolation
    assert isolation["kernel_process"] == FRESH
    assert isolation["fork_failed"].startswith(
        "the forked kernel could not enter its sandbox: PermissionError: [Errno 1] mount /: Operation not permitted")
    assert result.score == result.max_score
