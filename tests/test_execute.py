"""The execute stage on real sandboxed kernels: what happens is recorded, never raised."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader.config import Options
from grader.engine.execute import execute
from grader.protocol import KernelCall
from grader.notebook.load import read_notebook
from grader.engine.prepare import prepare
from grader.checking.probe import Value, build_request, read_answer
from grader.values import Missing
from nbfactory import code, md, notebook, write

pytestmark = pytest.mark.kernel


def run(tmp_path: Path, options: Options, cells: list, calls: list | None = None, **overrides):  # type: ignore[no-untyped-def]
    prepared = prepare(read_notebook(write(notebook(cells), tmp_path / "n.ipynb")))
    return execute(prepared, calls or [], dataclasses.replace(options, **overrides), seed=7)


def value_call(name: str, after: int | None) -> KernelCall:
    return KernelCall(name, build_request(Value(name), 0), 20, after)


def test_errors_do_not_stop_the_run_and_each_is_recorded(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [
        md("# 한국어 제목"), code("!pip install d2l==1.0.3\n%matplotlib inline\na = 1"),
        code("raise ValueError('on purpose')"), code("b = a + 1  # 주석"), code("import sys; sys.exit(3)"),
        code("c = b + 1"),
    ], [value_call("c", None)])
    statuses = [(c.index, c.status, c.ename) for c in r.summary.cells]
    assert statuses == [(1, "ok", ""), (2, "error", "ValueError"), (3, "ok", ""), (4, "error", "SystemExit"),
                        (5, "ok", "")]
    assert r.summary.outcome == "completed"
    assert [(e.cell, e.kind) for e in r.summary.edits] == [(1, "install"), (1, "matplotlib magic")]
    assert read_answer(Value("c"), r.answers["c"]) == 3


def test_timeout_interrupts_the_cell_and_keeps_earlier_answers(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [code("x = 41"), code("while True:\n    pass"), code("y = x + 1")],
            [value_call("x", 0), value_call("y", None)], cell_timeout=2.0)
    assert [c.status for c in r.summary.cells] == ["ok", "timeout", "ok"]
    assert r.summary.cells[1].evalue == "interrupted after 2 s"
    assert read_answer(Value("x"), r.answers["x"]) == 41 and read_answer(Value("y"), r.answers["y"]) == 42


def test_total_deadline_stops_the_notebook(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [code("x = 1"), code("import time\ntime.sleep(60)"), code("y = 2")],
            [value_call("x", 0), value_call("y", None)], total_timeout=4.0, cell_timeout=60.0)
    assert r.summary.outcome == "timeout"
    assert [c.status for c in r.summary.cells] == ["ok", "timeout", "not_run"]
    assert read_answer(Value("x"), r.answers["x"]) == 1
    assert r.answers["y"].status == "not_run" and "time limit" in r.answers["y"].message


def test_ignored_interrupt_gets_the_kernel_killed(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [
        code("x = 5"),
        code("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        code("y = 1")], [value_call("x", 0), value_call("y", None)], cell_timeout=1.0)
    assert r.summary.outcome == "timeout"
    assert [c.status for c in r.summary.cells] == ["ok", "killed", "not_run"]
    assert read_answer(Value("x"), r.answers["x"]) == 5
    assert isinstance(read_answer(Value("y"), r.answers["y"]), Missing)


def test_dead_kernel_is_an_outcome(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [code("x = 1"), code("import os\nos._exit(0)"), code("y = 2")],
            [value_call("x", 0), value_call("y", None)])
    assert r.summary.outcome == "dead_kernel" and r.summary.message == "the kernel died in code cell 2"
    assert [c.status for c in r.summary.cells] == ["ok", "error", "not_run"]
    assert read_answer(Value("x"), r.answers["x"]) == 1
    assert read_answer(Value("y"), r.answers["y"]) == Missing("the kernel died in code cell 2")


def test_output_is_capped_per_cell(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [code("for _ in range(200):\n    print('x' * 100_000)"), code("print('small')")],
            output_limit=50_000)
    big, small = r.nb.cells
    text = "".join(o.get("text", "") for o in big.outputs)
    assert len(text) < 60_000 and "output beyond 50000 bytes in this cell was dropped" in text
    assert r.summary.cells[0].truncated and not r.summary.cells[1].truncated
    assert small.outputs[0]["text"] == "small\n"


def test_seeds_are_fixed_and_network_attempts_reported(tmp_path: Path, options: Options) -> None:
    cells = [code("import random, numpy\nr = (random.random(), numpy.random.rand())"),
             code("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError as e:\n    err = type(e).__name__")]
    first = run(tmp_path, options, cells, [value_call("r", None)])
    second = run(tmp_path, options, cells, [value_call("r", None)])
    assert read_answer(Value("r"), first.answers["r"]) == read_answer(Value("r"), second.answers["r"])
    assert first.summary.network_attempts == ["lookup of 192.0.2.1", "connect to ('192.0.2.1', 80)"]
    assert first.summary.environment["seed"] == 7 and first.summary.environment["cpu_count"] >= 1


def test_figures_are_captured_per_cell_like_inline(tmp_path: Path, options: Options) -> None:
    r = run(tmp_path, options, [
        code("import matplotlib.pyplot as plt\nplt.plot([0, 1], [2, 3], label='a')\nplt.show()\nplt.plot([5], [6])"),
        code("fig, ax = plt.subplots()\nax.bar(['x', 'y'], [1, 2])\nax.set_title('bars')"),
    ], figures=True)
    figs = r.figures()
    assert [f["cell"] for f in figs] == [0, 0, 1]
    assert figs[0]["axes"][0]["lines"][0] | {"label": "a"} == {"label": "a", "x": [0.0, 1.0], "y": [2.0, 3.0],
                                                               "linestyle": "-", "marker": "None"}
    assert len(figs[1]["axes"][0]["lines"]) == 1, "show() closed the first figure, as inline does"
    assert figs[2]["axes"][0]["title"] == "bars" and len(figs[2]["axes"][0]["bars"]) == 2
    assert figs[2]["png"].startswith("iVBOR")
