"""The terminal report: each test with points and message, then what happened when the
notebook ran (lines not run, cell errors, timeouts), then the total.

Uses rich; colours follow ``NO_COLOR`` and are off when the output is not a terminal.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..results import ExecutionSummary, SubmissionResult, TestResult

__all__ = ["render", "print_report"]

MAX_MESSAGE_LINES = 12


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


def _test_line(console: Console, test: TestResult) -> None:
    mark, style = {"passed": ("PASS", "green"), "failed": ("FAIL", "red"), "error": ("ERROR", "magenta")}[test.status]
    if test.status == "failed" and test.score > 0:
        mark, style = "PART", "yellow"
    # A zero-point test is a gate (forbidden calls): it scores nothing itself but can zero others.
    points = "gate" if test.max_score == 0 else f"{_points(test.score)}/{_points(test.max_score)}"
    console.print(Text.assemble((f" {mark:<5}", f"bold {style}"), f" {points:>9} ",
                                test.name.split(": ", 1)[-1]))
    lines = test.message.splitlines()
    for line in lines[:MAX_MESSAGE_LINES]:
        console.print(Text(" " * 17 + line, style="dim" if test.status == "passed" else ""))
    if len(lines) > MAX_MESSAGE_LINES:
        console.print(Text(" " * 17 + f"... {len(lines) - MAX_MESSAGE_LINES} more lines (use --json to see all)",
                           style="dim"))


def _execution(console: Console, run: ExecutionSummary, many: bool) -> None:
    head = f"Ran {run.source_file}" if many else "Ran the notebook"
    outcome = {"completed": "completed", "timeout": "stopped: time limit", "dead_kernel": "stopped: the kernel died",
               "memory_limit": "stopped: memory limit", "startup_failed": "could not start"}[run.outcome]
    console.print(f"[bold]{escape(head)}[/] in {run.seconds:.1f} s: {outcome}"
                  + (f" ({escape(run.message)})" if run.message else ""))
    for edit in run.edits:
        console.print(f"  not run while grading: cell {edit.cell + 1}, line {edit.line}: {escape(edit.original)}")
    for cell in run.cells:
        if cell.status not in ("ok", "not_run"):
            console.print(f"  cell {cell.index + 1}: {escape(cell.ename)}: {escape(cell.evalue.splitlines()[0] if cell.evalue else '')}")
    not_run = [c.index + 1 for c in run.cells if c.status == "not_run"]
    if not_run:
        console.print(f"  cells not run: {', '.join(map(str, not_run))}")
    truncated = [c.index + 1 for c in run.cells if c.truncated]
    if truncated:
        console.print(f"  output cut at the limit in cells {', '.join(map(str, truncated))}")
    if run.network_attempts:
        console.print(f"  network access attempted (blocked): {escape('; '.join(run.network_attempts[:3]))}")


def render(result: SubmissionResult, console: Console) -> None:
    """Print ``result`` on ``console``."""
    console.print(f"[bold]{escape(', '.join(result.sources))}[/]"
                  + (f"  (student {escape(result.student)})" if result.student else ""))
    for unit in result.units:
        section = unit.extra.get("section", "")
        console.print(Text.assemble("\n", (unit.id, "bold cyan"), f"  {unit.title}",
                                    f" (d2l {section})" if section else "",
                                    f"   {_points(unit.score)} / {_points(unit.max_score)}"))
        for test in unit.tests:
            _test_line(console, test)
        for note in unit.notes:
            console.print(Text(f"  note: {note}", style="yellow"))
    console.print()
    for run in result.executions:
        _execution(console, run, len(result.executions) > 1)
    pct = 100 * result.score / result.max_score if result.max_score else 0.0
    console.print(f"\n[bold]Total: {_points(result.score)} / {_points(result.max_score)} ({pct:.0f}%)[/]"
                  f"   seeds: {result.seed_policy}")


def print_report(result: SubmissionResult, file: TextIO | None = None) -> None:
    """Render to ``file`` (default stdout), honouring NO_COLOR and non-terminals."""
    render(result, Console(file=file, highlight=False, soft_wrap=True))
