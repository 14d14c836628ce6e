"""The terminal report: each test with points and message, then what happened when the
notebook ran (lines not run, cell errors, timeouts), then the total.

Uses rich; colours follow ``NO_COLOR`` and are off when the output is not a terminal.
"""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.homework.result import HomeworkResult, SectionResult
from grader.report.escape import clean_strings
from grader.rounding import round_points, show_points
from grader.results import ExecutionSummary, SubmissionResult, TestResult, UnitResult, from_dict, to_dict

__all__ = ["render", "print_report", "render_homework", "cell_ranges", "ran_and_checks"]

MAX_MESSAGE_LINES = 12
MAX_REASON_CHARS = 160  # of why a kernel started fresh, in its one line
FOUND = {"heading and code": "heading+code", "code (no heading)": "code"}


def _points(value: float) -> str:
    return f"{round_points(value):g}"


def _test_line(console: Console, test: TestResult) -> None:
    mark, style = {"passed": ("PASS", "green"), "failed": ("FAIL", "red"),
                   "error": ("ERROR", "magenta")}.get(test.status, ("ERROR", "magenta"))
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
               "memory_limit": "stopped: memory limit", "startup_failed": "could not start"}.get(run.outcome, run.outcome)
    console.print(f"[bold]{escape(head)}[/] in {run.seconds:.1f} s: {outcome}"
                  + (f" ({escape(run.message)})" if run.message else ""))
    fork_note = run.fork_note(MAX_REASON_CHARS)
    if fork_note:
        console.print(Text(f"  {fork_note}", style="dim"))
    for edit in run.edits:
        console.print(f"  {escape(edit.note)}")
    for cell in run.cells:
        if cell.status not in ("ok", "not_run"):
            console.print(f"  {escape(cell.where)}: {escape(cell.ename)}: {escape(cell.evalue.splitlines()[0] if cell.evalue else '')}")
    not_run = [c.index + 1 for c in run.cells if c.status == "not_run"]
    if not_run:
        console.print(f"  cells not run: {', '.join(map(str, not_run))}")
    truncated = [c.index + 1 for c in run.cells if c.truncated]
    if truncated:
        console.print(f"  output cut at the limit in cells {', '.join(map(str, truncated))}")
    if run.network_attempts:
        console.print(f"  network access attempted (blocked): {escape('; '.join(run.network_attempts[:3]))}")
    for problem in run.malformed[:3]:
        console.print(f"  refused from the kernel (malformed): {escape(problem)}")


# -- free-form homework --------------------------------------------------------------

def cell_ranges(refs: list[list[int]], notebooks: list[str]) -> str:
    """``3-27, 40`` for cells 3..27 and 40 (1-based); prefixed by the notebook's name
    without ``.ipynb`` when there are several (``ch2 3-27``)."""
    by_part: dict[int, list[int]] = {}
    for part, cell in refs:
        by_part.setdefault(part, []).append(cell + 1)
    out = []
    for part, cells in sorted(by_part.items()):
        runs, start, prev = [], None, None
        for c in sorted(cells):
            if start is None:
                start = prev = c
            elif c == prev + 1:
                prev = c
            else:
                runs.append(f"{start}-{prev}" if prev != start else f"{start}")
                start = prev = c
        if start is not None:
            runs.append(f"{start}-{prev}" if prev != start else f"{start}")
        prefix = f"{notebooks[part].removesuffix('.ipynb')} " if len(notebooks) > 1 else ""
        out.append(prefix + ", ".join(runs))
    return "; ".join(out)


def ran_and_checks(section: SectionResult) -> tuple[str, str]:
    """A section's ``ran`` (cells run, or raised on purpose, of its code cells) and
    ``checks`` (checkpoints met) columns; ``-`` where they do not apply."""
    ran, cps = section.ran, section.checkpoints
    if not (section.present and section.has_code):
        return "-", "-"
    ran_text = f"{ran.ok + len(ran.expected_errors)}/{ran.code_cells}"
    ran_text += f" ({len(ran.failed)} failed)" if ran.failed else ""
    return ran_text, f"{sum(c.get('status') == 'passed' for c in cps)}/{len(cps)}" if cps else "-"


def stored_findings(homework: HomeworkResult) -> list[dict[str, Any]]:
    """Every stored-output finding of a homework, section by section, then the rest."""
    return [f for s in homework.sections for f in s.stored_outputs] + homework.stored_outputs_elsewhere


def _sections_table(console: Console, unit: UnitResult, homework: HomeworkResult) -> None:
    points = {t.name: t for t in unit.tests}
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("sec", "found by", "cells", "ran", "checks", "own text", "exercises", "models", "points"):
        table.add_column(name, no_wrap=name != "cells")
    for s in homework.sections:
        test = points.get(f"{s.id} {s.title}")
        ran_text, cp_text = ran_and_checks(s)
        table.add_row(escape(s.id), FOUND.get(s.how, escape(s.how)) if s.present else "[red]missing[/]",
                      escape(cell_ranges(s.cell_refs, homework.notebooks)) or "-", ran_text, cp_text,
                      f"{s.discussion.get('chars', 0)} chars", escape(",".join(s.exercises)) or "-",
                      str(len(s.models)) if s.models else "-",
                      f"{_points(test.score)}/{_points(test.max_score)}" if test else "")
    console.print(table)


def _models_table(console: Console, homework: HomeworkResult) -> None:
    if not homework.models:
        return
    table = Table("model", "cell", "sec", "trained", "accuracy", "evidence", "printed", "stored",
                  box=None, header_style="bold", pad_edge=False)
    for m in homework.models:
        acc = f"{m.accuracy:.4f}" if m.accuracy is not None else "-"
        printed = ", ".join(f"{v:g}" for v in m.printed) or "-"
        if m.disagrees:
            printed = f"[bold red]{printed} (disagrees)[/]"
        settings = " ".join(f"{k}={m.hparams[k]:g}" for k in ("num_hiddens", "lr")
                            if isinstance(m.hparams.get(k), (int, float)))
        table.add_row(escape(m.cls) + (f" [dim]{settings}[/]" if settings else ""),
                      escape((m.cell_label or "-").replace("cell ", "")), escape(m.section or "-"),
                      "yes" if m.trained else "[red]no[/]", acc, escape(m.evidence if m.fmnist else "own data"),
                      printed, ", ".join(f"{v:g}" for v in m.stored_printed) or "-")
    console.print("\n[bold]Models[/] (accuracy on the 10,000 test images, computed by the grader)")
    console.print(table)


def _stored_outputs(console: Console, homework: HomeworkResult) -> None:
    findings = stored_findings(homework)
    if not findings:
        return
    console.print("\n[bold]Stored outputs[/] (for the instructor; not scored)")
    for f in findings[:MAX_MESSAGE_LINES]:
        console.print(f"  {escape(str(f.get('cell', '')))}: {escape(str(f.get('message', '')))}")
        if f.get("stored"):
            console.print(Text(f"      stored: {str(f['stored'])[:100]!r}\n      now:    {str(f.get('fresh', ''))[:100]!r}",
                               style="dim"))
    if len(findings) > MAX_MESSAGE_LINES:
        console.print(f"  ... {len(findings) - MAX_MESSAGE_LINES} more (use --json to see all)")


def _discussions(console: Console, homework: HomeworkResult) -> None:
    shown = [s for s in homework.sections if s.discussion.get("chars")]
    if shown:
        console.print("\n[bold]Discussions[/] (the student's own text, for staff to read; full text in --json and HTML)")
    for s in shown:
        first = str(s.discussion.get("text", "")).replace("\n", " ")
        console.print(Text(f"  {s.id}: {first[:90]}{'...' if len(first) > 90 else ''}", style="dim"))


def render_homework(console: Console, unit: UnitResult) -> None:
    """A homework unit: the sections at a glance, models, discussions, stored outputs, then the points."""
    homework = HomeworkResult.from_dict(unit.extra)
    _sections_table(console, unit, homework)
    _models_table(console, homework)
    _discussions(console, homework)
    _stored_outputs(console, homework)
    console.print("\n[bold]Points[/]")
    for test in unit.tests:
        _test_line(console, test)


def render(result: SubmissionResult, console: Console) -> None:
    """Print ``result`` on ``console``; control characters in any text are shown as escapes."""
    result = from_dict(SubmissionResult, clean_strings(to_dict(result)))
    console.print(f"[bold]{escape(', '.join(result.sources))}[/]"
                  + (f"  (student {escape(result.student)})" if result.student else ""))
    for unit in result.units:
        section = unit.extra.get("section", "")
        console.print(Text.assemble("\n", (unit.id, "bold cyan"), f"  {unit.title}",
                                    f" (d2l {section})" if section else "",
                                    f"   {_points(unit.score)} / {_points(unit.max_score)}"))
        if unit.kind == "homework" and "sections" in unit.extra:
            render_homework(console, unit)
        else:
            for test in unit.tests:
                _test_line(console, test)
        for note in unit.notes:
            console.print(Text(f"  note: {note}", style="yellow"))
    console.print()
    for run in result.executions:
        _execution(console, run, len(result.executions) > 1)
    console.print(f"\n[bold]Total: {escape(show_points(result.score, result.max_score))}[/]"
                  f"   seeds: {result.seed_policy}")


def print_report(result: SubmissionResult, file: TextIO | None = None) -> None:
    """Render to ``file`` (default stdout), honouring NO_COLOR and non-terminals."""
    render(result, Console(file=file, highlight=False, soft_wrap=True))
