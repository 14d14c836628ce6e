"""What ``grade batch`` and ``grade NOTEBOOK`` show while they run, and the summaries.

On a terminal: a rich progress bar with counts, elapsed time, ETA and the latest
failures. Elsewhere (CI logs, pipes): one plain line per finished submission, which a
log keeps and a bar would not. Colours follow ``NO_COLOR``. After a batch, the class's
totals come from the gradebook (every student's newest attempt, not only this run's);
after Ctrl-C, how many submissions are saved and that rerunning resumes. A single
notebook gets a spinner with the elapsed time on a terminal only.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.classroom.batch import BatchSummary
from grader.classroom.gradebook import Record, open_gradebook
from grader.rounding import round_percent, round_points
from grader.classroom.submissions import Submission
from grader.report.escape import terminal_text

__all__ = ["RichProgress", "print_summary", "class_totals", "print_class_totals", "grading_status"]


def escape(text: str) -> str:
    """Student-controlled text for the console: control characters shown, rich markup inert."""
    return escape_markup(terminal_text(text))


SHOWN_FAILURES = 3


def _line(sub: Submission, record: Record) -> str:
    if record.status == "graded" and record.result is not None:
        what = f"{round_points(record.result.score):g}/{round_points(record.result.max_score):g}"
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

    def interrupted(self, db: Path, command: str) -> None:
        """After Ctrl-C: what is saved, and how to go on."""
        if self.task is not None:
            self.progress.stop()
        count = self.count
        say = lambda text: self.console.print(escape(text), soft_wrap=True)  # noqa: E731 - paths stay on one line
        say(f"interrupted: {count} submission{'s' * (count != 1)} graded in this run {'are' if count != 1 else 'is'} "
            f"saved in {db}; the ones in progress are not.")
        with contextlib.suppress(Exception):  # a gradebook that cannot be read must not hide the advice
            say(f"the gradebook holds {class_totals(db)['students']} students.")
        say(f"rerun the same command to grade the rest (finished ones are skipped): {command}")


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
        console.print(f"mean score {round_percent(mean):g}% over the {len(summary.percents)} submissions graded in "
                      "this run")
    for student, why in summary.failures[:20]:
        console.print(f"  [red]{escape(student)}[/]: {escape(why)}")
    if len(summary.failures) > 20:
        console.print(f"  ... and {len(summary.failures) - 20} more (see `grade stats`)")
    rate = summary.processed / summary.seconds * 60 if summary.seconds else 0.0
    pool = summary.pool
    warm = f"; kernels warm {pool['warm']}, cold {pool['cold']}" if pool else ""
    console.print(f"{summary.processed} submissions in {summary.seconds:.1f} s ({rate:.1f}/min){warm}")


def class_totals(db: Path) -> dict[str, object]:
    """The class as the gradebook has it: students, graded, invalid, errors and the mean
    percentage of every student's newest graded attempt (not only this run's)."""
    with open_gradebook(db) as book:
        subs = book.submissions(with_results=False)
    graded = [s for s in subs if s.status == "graded" and s.max_score]
    scores = [100.0 * (s.score or 0.0) / (s.max_score or 1.0) for s in graded]
    return {"students": len(subs), "graded": len(graded), "invalid": sum(s.status == "invalid" for s in subs),
            "errors": sum(s.status == "error" for s in subs),
            "points": sum(s.score or 0.0 for s in graded), "max": sum(s.max_score or 0.0 for s in graded),
            "mean_percent": round_percent(sum(scores) / len(scores)) if scores else None,
            "full_marks": sum(1 for s in graded if (s.score or 0.0) >= (s.max_score or 0.0) - 1e-9)}


def print_class_totals(db: Path, console: Console) -> None:
    """One line of class totals from the gradebook."""
    t = class_totals(db)
    mean = f"mean {t['mean_percent']:g}%" if t["mean_percent"] is not None else "no graded submission yet"
    console.print(escape(f"class in {db}: {t['students']} students, {t['graded']} graded ({mean}, {t['full_marks']} "
                         f"with full marks), {t['invalid']} invalid, {t['errors']} grader errors"), soft_wrap=True)


@contextlib.contextmanager
def grading_status(what: str, *, console: Console | None = None,
                   enabled: bool = True) -> Iterator[Callable[[str], None] | None]:
    """A spinner ``grading WHAT ... cell 5 ... 12 s`` on a terminal while a notebook is
    graded; nothing elsewhere. Yields the hook that tells it which cell runs (None when
    quiet), to pass as ``grade(..., on_cell=...)``."""
    console = console or Console(stderr=True, highlight=False)
    if not (enabled and console.is_terminal):
        yield None
        return
    started = time.monotonic()
    running = {"cell": ""}

    def line() -> str:
        cell = f" ... {escape(running['cell'])}" if running["cell"] else ""
        return f"grading {escape(what)}{cell} ... {time.monotonic() - started:.0f} s"

    def on_cell(label: str) -> None:
        running["cell"] = label

    with console.status(line()) as status:
        with _ticker(lambda: status.update(line())):
            yield on_cell


@contextlib.contextmanager
def _ticker(tick: object) -> Iterator[None]:
    """Call ``tick`` every second in a thread until the block ends."""
    import threading

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(1.0):
            tick()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
