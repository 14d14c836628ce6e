"""What ``grade batch`` shows while it runs, and the summary at the end.

On a terminal: a rich progress bar with counts, elapsed time, ETA and the latest
failures. Elsewhere (CI logs, pipes): one plain line per finished submission, which a
log keeps and a bar would not. Colours follow ``NO_COLOR``.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.classroom.batch import BatchSummary
from grader.classroom.gradebook import Record
from grader.classroom.submissions import Submission

__all__ = ["RichProgress", "print_summary"]

SHOWN_FAILURES = 3


def _line(sub: Submission, record: Record) -> str:
    if record.status == "graded" and record.result is not None:
        what = f"{record.result.score:g}/{record.result.max_score:g}"
        if record.outcome != "completed":
            what += f" ({record.outcome})"
    else:
        what = record.status.upper()
    return f"{sub.student}: {what}"


class RichProgress:
    """The batch's display: a live bar on a terminal, a line per submission otherwise."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.live = self.console.is_terminal
        self.progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[failures]}"),
                                 console=self.console, transient=False)
        self.task = None
        self.total = 0
        self.count = 0

    def begin(self, total: int, summary: BatchSummary) -> None:
        """Start showing ``total`` submissions to grade."""
        self.total = total
        skipped = summary.done_before + summary.stale
        self.console.print(f"{summary.found} submissions, {skipped} already in the gradebook"
                           + (f" ({summary.stale} graded with other exercise versions: use --regrade)"
                              if summary.stale else "")
                           + f"; grading {total} with {summary.workers} {summary.backend} workers")
        if self.live and total:
            self.progress.start()
            self.task = self.progress.add_task("grading", total=total, failures="")

    def finished(self, sub: Submission, record: Record, summary: BatchSummary) -> None:
        """One more submission is in the gradebook."""
        self.count += 1
        if self.task is not None:
            recent = ", ".join(f"{s} ({why.split(':')[0]})" for s, why in summary.failures[-SHOWN_FAILURES:])
            failed = len(summary.failures)
            self.progress.update(self.task, advance=1,
                                 failures=f"[red]{failed} failed: {escape(recent)}[/]" if failed else "")
        else:
            self.console.print(f"[{self.count}/{self.total}] {escape(_line(sub, record))}")

    def end(self, summary: BatchSummary) -> None:
        """Stop the bar and print the summary."""
        if self.task is not None:
            self.progress.stop()
        print_summary(summary, self.console)


def print_summary(summary: BatchSummary, console: Console) -> None:
    """The counts of a batch, its failures and how fast it went."""
    table = Table(title="batch summary", box=None, show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    outcomes = summary.outcomes
    rows = [("graded", summary.graded), ("  completed", outcomes.get("completed", 0)),
            ("  a cell interrupted at its time limit", outcomes.get("cell_timeout", 0)),
            ("  stopped: notebook time limit", outcomes.get("timeout", 0)),
            ("  stopped: the kernel died", outcomes.get("dead_kernel", 0)),
            ("  stopped: memory limit", outcomes.get("memory_limit", 0)), ("invalid notebooks", summary.invalid),
            ("grader errors (retried next run)", summary.errors),
            ("already in the gradebook", summary.done_before),
            ("graded with other exercise versions (use --regrade)", summary.stale)]
    for label, value in rows:
        if value or label == "graded":
            table.add_row(str(value), label)
    console.print(table)
    if summary.percents:
        mean = sum(summary.percents) / len(summary.percents)
        console.print(f"mean score {mean:.1f}% over {len(summary.percents)} graded submissions")
    for student, why in summary.failures[:20]:
        console.print(f"  [red]{escape(student)}[/]: {escape(why)}")
    if len(summary.failures) > 20:
        console.print(f"  ... and {len(summary.failures) - 20} more (see `grade stats`)")
    rate = summary.processed / summary.seconds * 60 if summary.seconds else 0.0
    pool = summary.pool
    warm = f"; kernels warm {pool['warm']}, cold {pool['cold']}" if pool else ""
    console.print(f"{summary.processed} submissions in {summary.seconds:.1f} s ({rate:.1f}/min){warm}")
