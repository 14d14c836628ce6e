"""`check()` where students call it: in a running Jupyter kernel, which has an event loop."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from helpers import SOLUTIONS
from nbclient import NotebookClient
from nbfactory import from_solution

from grader.config import Options
from grader.pipeline import grade

pytestmark = pytest.mark.kernel
NO_DERIVATIVE_LINE = {"plt.plot(x, sin_derivative(x), \"--\", label=\"f'(x) by autograd\")\n": ""}


def test_check_in_a_running_kernel_prints_the_same_score_as_grade(tmp_path: Path, options: Options,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # a notebook that loses the figure's 2 points, saved, with the student's check cell at the end
    path = from_solution(SOLUTIONS / "sin_derivative.ipynb", NO_DERIVATIVE_LINE, tmp_path / "mine.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('from grader import check\n\ncheck("sin_derivative")'))
    nbformat.write(nb, path)
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    client = NotebookClient(nbformat.read(path, as_version=4), timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    executed = client.execute()
    outputs = executed.cells[-1].outputs
    assert [o.get("ename") for o in outputs if o.output_type == "error"] == []
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs if o.output_type == "execute_result")

    direct = grade(path, options=options)
    assert (direct.score, direct.max_score) == (6, 8)
    total = re.search(r"Total: ([\d.]+) / ([\d.]+)", printed)
    assert total and (float(total.group(1)), float(total.group(2))) == (direct.score, direct.max_score), printed
    for test in direct.tests:  # each test with its message
        assert test.message.splitlines()[0][:40] in printed
    assert shown == "<d2l-grade check: 6 / 8>"
