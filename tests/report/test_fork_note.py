"""The terminal and HTML reports say when a kernel meant to be forked started fresh, and why (kernel-free)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from grader.report.terminal import render
from grader.results import ExecutionSummary, SubmissionResult

FORKED = "forked from the grader's pre-imported kernel template"
FRESH = "a fresh Python process"
NOTE = "kernel started fresh: the kernel template could not fork"


def _report(isolation: dict[str, Any]) -> list[str]:
    result = SubmissionResult(sources=["hw.ipynb"], executions=[ExecutionSummary(seconds=1.0, isolation=isolation)])
    out = io.StringIO()
    render(result, Console(file=out, width=300, highlight=False, color_system=None))
    return out.getvalue().splitlines()


def test_a_failed_fork_is_one_line_under_the_run_with_its_reason() -> None:
    lines = _report({"namespaces": True, "kernel_process": FRESH,
                     "fork_failed": "the kernel template did not start in time"})
    ran = next(i for i, line in enumerate(lines) if line.startswith("Ran the notebook"))
    assert lines[ran + 1] == f"  {NOTE} (the kernel template did not start in time)"
    assert sum(NOTE in line for line in lines) == 1


@pytest.mark.parametrize("isolation", [
    {"namespaces": True, "kernel_process": FORKED},
    {"namespaces": True, "kernel_process": FRESH},   # fresh by choice (fork_kernels = off): nothing to say
    {},
])
def test_no_line_when_the_fork_did_not_fail(isolation: dict[str, Any]) -> None:
    assert not [line for line in _report(isolation) if "started fresh" in line]


def test_a_long_reason_stays_one_short_line() -> None:
    lines = _report({"kernel_process": FRESH, "fork_failed": "x" * 500 + "\nsecond line"})
    note = [line for line in lines if NOTE in line]
    assert len(note) == 1 and note[0].endswith("...)") and len(note[0]) < 250
    assert not [line for line in lines if "second line" in line]


def test_the_html_page_says_it_too_escaped() -> None:
    from grader.report.html import render_html
    reason = "the kernel template has 3 threads <script>"
    result = SubmissionResult(sources=["hw.ipynb"], executions=[
        ExecutionSummary(seconds=1.0, isolation={"kernel_process": FRESH, "fork_failed": reason})])
    page = render_html([result])
    assert f"{NOTE} (the kernel template has 3 threads &lt;script&gt;)" in page
    assert "<script>" not in page.split("<body", 1)[-1]
    quiet = render_html([SubmissionResult(sources=["hw.ipynb"], executions=[
        ExecutionSummary(seconds=1.0, isolation={"kernel_process": FORKED})])])
    assert NOTE not in quiet
