"""Helpers of the batch tests: a small class of submissions and the CLI as a subprocess.

The graded class is built once per test session, even across xdist workers (a lock file
in the shared temporary folder), because grading it runs six kernels.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbfactory import code, from_solution, notebook, write

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
STUBS = REPO / "exercises"
FAST = ["--cell-timeout", "20", "--probe-timeout", "20", "--total-timeout", "120", "--threads", "1"]


def cli_env() -> dict[str, str]:
    """The environment of a `grade` subprocess: this checkout first, no instructor secret."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SECRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["NO_COLOR"] = "1"
    return env


def run_cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `grade ARGS` in a new process (``env``: extra variables) and return what it did."""
    return subprocess.run([sys.executable, "-m", "grader", *args], env={**cli_env(), **env}, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def looping_broadcasting(path: Path) -> Path:
    """The broadcasting solution with a cell that loops forever before Task 2."""
    data = json.loads((SOLUTIONS / "broadcasting.ipynb").read_text(encoding="utf-8"))
    loop = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": "while True:\n    pass"}
    data["cells"].insert(len(data["cells"]) - 1, loop)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@dataclass
class GradedClass:
    """A class graded once by `grade batch`: its folder, gradebook and what the command printed."""

    folder: Path
    db: Path
    stdout: str
    stderr: str
    returncode: int


def make_class(folder: Path) -> Path:
    """alice: broadcasting solution; bob: sin_derivative stub; carol: not JSON;
    dave: a folder of two notebooks (broadcasting with a wrong x3/y3, sin_derivative solution);
    erin: broadcasting solution with an endless loop cell; frank: a notebook that kills its kernel."""
    folder.mkdir(parents=True)
    shutil.copyfile(SOLUTIONS / "broadcasting.ipynb", folder / "alice.ipynb")
    shutil.copyfile(STUBS / "sin_derivative.ipynb", folder / "bob.ipynb")
    (folder / "carol.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "dave").mkdir()
    from_solution(SOLUTIONS / "broadcasting.ipynb", {"reshape((2, 1, 3))": "reshape((2, 3, 1))"},
                  folder / "dave" / "chapter2.ipynb")
    shutil.copyfile(SOLUTIONS / "sin_derivative.ipynb", folder / "dave" / "chapter2_5.ipynb")
    looping_broadcasting(folder / "erin.ipynb")
    write(notebook([code("x3 = 1"), code("import os\nos._exit(1)")], exercises=["broadcasting"]),
          folder / "frank.ipynb")
    return folder


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    """The class of :func:`make_class`, graded with `grade batch --workers 2 --cell-timeout 3`."""
    # Under xdist every worker's base folder sits in the session's: the class is graded once per
    # session. Without xdist the parent is shared by all sessions, so the session's own folder.
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "graded-class"
    with open(str(shared) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "done.json"
        if not done.exists():
            folder = make_class(shared / "class")
            db = shared / "gradebook.sqlite"
            out = run_cli("batch", str(folder), "--db", str(db), "--workers", "2", *FAST, "--cell-timeout", "3")
            done.write_text(json.dumps({"stdout": out.stdout, "stderr": out.stderr, "rc": out.returncode}))
        info = json.loads(done.read_text())
    return GradedClass(shared / "class", shared / "gradebook.sqlite", info["stdout"], info["stderr"], info["rc"])


def tiny(path: Path, value: int) -> Path:
    """A one-cell broadcasting notebook (fast to grade) whose x3 depends on ``value``."""
    return write(notebook([code(f"x3 = {value}")], exercises=["broadcasting"]), path)
