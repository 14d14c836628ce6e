"""Every checkpoint must agree with what the book's code really yields.

The book's cells run here, in this process (no kernel), one section at a time; right
after each cell, the checkpoints anchored in it read their values through the kernel
runtime's own encoder and the grader's decoder, and are judged as in grading. Sections
that train on Fashion-MNIST or draw figures are verified in the kernel by
``test_grading.py::test_book_code_split_into_chapter_files``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from book import BOOK
from grader.homework.checkpoints import judge, normalise_code
from grader.homeworks.d2l_ch2_5 import CHECKPOINTS
from grader.engine.runtime import load_namespace
from grader.notebook.static import _python_source
from grader.values import decode_outcome

RUNTIME = load_namespace()
IN_PROCESS = ("2.1", "2.2", "2.3", "2.5", "3.1", "3.2", "3.4", "4.3", "4.4", "5.2")


def _read(ns: dict[str, Any], name: str) -> Any:
    parts = name.split(".")
    try:
        value = ns[parts[0]]
        for attr in parts[1:]:
            value = getattr(value, attr)
    except (KeyError, AttributeError) as exc:
        return decode_outcome({"raised": [type(exc).__name__, str(exc)]})
    return decode_outcome({"ok": RUNTIME.encode(value)})


def _call(ns: dict[str, Any], checkpoint: Any) -> Any:
    import torch

    fn = ns
    for i, attr in enumerate(checkpoint.call.function.split(".")):
        fn = fn[attr] if i == 0 else getattr(fn, attr)
    args = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in checkpoint.call.args]
    return decode_outcome({"ok": RUNTIME.encode(fn(*args))})


def _measure(ns: dict[str, Any], checkpoint: Any) -> Any:
    if checkpoint.call is not None:
        values = {"out": _call(ns, checkpoint)}
    else:
        values = {f"r{i}": _read(ns, name) for i, name in enumerate(checkpoint.reads)}
    return judge(checkpoint, values, [])


@pytest.mark.parametrize("section", IN_PROCESS)
def test_checkpoints_agree_with_the_book(section: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "..")  # 2.2 writes ../data/house_tiny.csv
    import matplotlib
    import torch

    matplotlib.use("Agg")
    import d2l.torch
    from matplotlib import pyplot as plt

    RUNTIME._patch_d2l(d2l.torch)  # as in the kernel: live plots are marked, not rendered
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    request_cleanup = lambda: (torch.set_num_threads(threads), plt.close("all"))  # noqa: E731
    wanted = [c for c in CHECKPOINTS if c.section == section and not c.figures]
    ns: dict[str, Any] = {"__name__": "__main__"}
    prelude = {"3.4": "3.2", "4.4": "4.3", "5.2": "4.3"}.get(section)
    sources = (BOOK[prelude] if prelude else []) + BOOK[section]
    measured = {}
    for source in sources:
        if "FashionMNIST" in source or "max_epochs=max_epochs" in source:
            break  # trainings on Fashion-MNIST are verified in the kernel
        exec(compile(_python_source(source), f"<book {section}>", "exec"), ns)
        text = normalise_code(ast.unparse(ast.parse(_python_source(source))))
        for checkpoint in wanted:
            if checkpoint.title not in measured and normalise_code(checkpoint.anchor) in text:
                measured[checkpoint.title] = _measure(ns, checkpoint)
    expected_here = {c.title for c in wanted if section not in ("4.4", "5.2") or c.call or c.anchor.startswith(("X.sum", "y_hat"))}
    assert expected_here <= set(measured), sorted(expected_here - set(measured))
    request_cleanup()
    failures = {t: c.message for t, c in measured.items() if not c.passed}
    assert not failures


def test_the_exp_trap_is_what_the_book_prints() -> None:
    """After ``X[:2, :] = 12``, x (whose storage X shares) starts with eight 12s: every
    real submission prints 162754.7969 eight times, and so must the checkpoint expect."""
    ns: dict[str, Any] = {}
    for source in BOOK["2.1"][:13]:
        exec(compile(source, "<book 2.1>", "exec"), ns)
    import torch

    shown = torch.exp(ns["x"])
    assert [round(float(v), 4) for v in shown[:8]] == [162754.7969] * 8
    checkpoint = next(c for c in CHECKPOINTS if c.anchor == "torch.exp(x)")
    assert _measure(ns, checkpoint).passed
    ns["x"] = torch.arange(12, dtype=torch.float32)  # what a naive reference would assume
    assert not _measure(ns, checkpoint).passed
