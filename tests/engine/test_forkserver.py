"""The fork server's parts without a kernel: the template's environment, the process
handle, the jail's exec replaced in the child, and how a kernel start is described."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grader.engine import forkserver
from grader.engine.forked import FORKED, FRESH, describe_start, notebook_preload
from grader.engine.forkserver import ForkedProcess, template_env
from grader.engine.sandbox import JAIL


def test_the_template_environment_holds_nothing_of_the_graders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    monkeypatch.setenv("GRADER_CONFIG", "/somewhere/d2l-grade.toml")
    monkeypatch.setenv("HOME", "/root")
    env = template_env()
    assert not [k for k in env if k.startswith("GRADER_")]
    assert "s3cret" not in " ".join(env.values()) and env["HOME"] != "/root"
    # read once at start or at library load, so they must be the kernel's values already
    assert env["PYTHONHASHSEED"] == "0" and env["PYTHONNOUSERSITE"] == "1"
    # BLAS/OpenMP pools would start threads at import: the template stays single-threaded
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    # libgomp reads its spin count when the template imports torch: a forked kernel keeps it
    assert env["GOMP_SPINCOUNT"] == "1000"


def test_a_forked_process_is_watched_and_killed_through_its_pidfd() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = ForkedProcess(sleeper.pid, os.pidfd_open(sleeper.pid))
        assert process.poll() is None
        process.kill()
        sleeper.wait(10)  # reap it as its parent would (the template does for kernels)
        assert process.wait(10) == -signal.SIGKILL
        assert process.poll() == -signal.SIGKILL
        process.kill()  # a second kill of an ended kernel is harmless
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_jails_final_exec_can_be_replaced_so_a_fork_continues_in_process(tmp_path: Path) -> None:
    # Without namespaces the jail applies the limits and execs the kernel at once: with
    # exec_kernel given, that exec is a call (what forktemplate does after the full steps).
    probe = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('jail', {JAIL!r})\n"
        "jail = importlib.util.module_from_spec(spec); spec.loader.exec_module(jail)\n"
        "def become(path, argv, env):\n"
        "    print(json.dumps([path, argv, env])); sys.exit(0)\n"
        f"launch = {{'namespaces': False, 'workdir': {str(tmp_path)!r}, 'env': {{'HOME': '/h'}}, 'rlimits': {{}}}}\n"
        "jail.main(['launch', json.dumps(launch), '--', '/usr/bin/python3', '-m', 'ipykernel_launcher'],"
        " exec_kernel=become)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["/usr/bin/python3", ["/usr/bin/python3", "-m", "ipykernel_launcher"],
                                      {"HOME": "/h"}]


def test_the_kernel_start_is_described_for_the_report() -> None:
    class Fresh:
        pass

    class Forked:
        start_note = {"kernel_process": FORKED}

    class FellBack:
        start_note = {"kernel_process": FRESH, "fork_failed": "the kernel template has 3 threads"}

    assert describe_start(Fresh()) == {"kernel_process": FRESH}
    assert describe_start(Forked()) == {"kernel_process": FORKED}
    assert describe_start(FellBack())["fork_failed"] == "the kernel template has 3 threads"


def test_a_template_that_exits_while_importing_is_a_fork_error(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    broken = tmp_path / "template.py"
    broken.write_text("import sys\nsys.exit(3)\n")
    monkeypatch.setattr(forkserver, "TEMPLATE", str(broken))
    server = forkserver.ForkServer()
    try:
        with pytest.raises(forkserver.ForkError, match="kernel template did not start"):
            server.fork({"stage": "launch", "spec": {}, "cmd": [], "cwd": "/", "log": "/dev/null", "threads": 1})
    finally:
        server.close()


def test_a_forked_kernel_preloads_the_notebooks_heavy_imports_except_hidden_ones(tmp_path: Path) -> None:
    from nbfactory import code, notebook, write

    from grader.config import Options
    from grader.notebook.load import read_notebook

    nb = read_notebook(write(notebook([code("import torch\nfrom d2l import torch as d2l"),
                                       code("import matplotlib.pyplot as plt")]), tmp_path / "n.ipynb"))
    assert notebook_preload(nb, Options(fork_kernels="on")) == ("torch", "matplotlib.pyplot", "d2l.torch")
    assert notebook_preload(nb, Options(fork_kernels="on", hide_modules=("d2l",))) == \
        ("torch", "matplotlib.pyplot")
    assert notebook_preload(nb, Options(fork_kernels="off")) == ()  # a fresh kernel imports as it goes
