"""Grading notebooks, what a student runs: ``grade NOTEBOOK ...`` and ``grade list``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.commands.common import Command, add_option_flags, add_unit_flags, command_parser, options_from, print_json
from grader.errors import InputError

__all__ = ["grade_parser", "grade_notebooks", "COMMANDS"]


def grade_parser(other_commands: Iterable[str]) -> argparse.ArgumentParser:
    """The parser of ``grade NOTEBOOK``; its help names ``other_commands``."""
    p = argparse.ArgumentParser(prog="grade", description="Grade Jupyter notebooks of the d2l course.",
                                epilog="Other commands: " + ", ".join(sorted(other_commands))
                                       + " (grade COMMAND --help).")
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook(s) to grade")
    add_unit_flags(p, homework_help="grade as this free-form homework (all notebooks: one submission)")
    p.add_argument("--student", metavar="ID", help="student id; with several notebooks, grade them as one submission")
    p.add_argument("--json", action="store_true", help="print Gradescope results.json on stdout instead of the report")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 when a submission scores below PCT percent")
    add_option_flags(p)
    return p


def grade_notebooks(args: argparse.Namespace) -> int:
    """Grade the notebooks of ``args`` (from :func:`grade_parser`): each alone, or all as one
    submission with ``--student`` or ``--homework``; print the reports or the JSON."""
    from grader.pipeline import grade
    from grader.report.gradescope import to_gradescope
    from grader.report.junit import to_junit
    from grader.report.progress import grading_status
    from grader.report.terminal import print_report

    options = options_from(args)
    if args.html:
        options = dataclasses.replace(options, figures=True)
    together = bool(args.student) or bool(args.homework)
    groups = [args.notebooks] if together else [[p] for p in args.notebooks]
    results, bad_input = [], False
    for group in groups:
        try:
            # A spinner with the elapsed time on a terminal (stderr), so a long cell does not look like a hang.
            with grading_status(", ".join(Path(p).name for p in group), enabled=not args.json) as on_cell:
                results.append(grade(group, options=options, exercise_ids=args.exercise, homework_id=args.homework,
                                     student=args.student or "", on_cell=on_cell))
        except InputError as exc:
            if len(groups) == 1:
                raise
            # One bad file among many: say so and grade the others; the exit code tells.
            print(f"grade: error: {exc}", file=sys.stderr)
            bad_input = True
    if args.json and results:
        docs = [to_gradescope(r) for r in results]
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for result in results:
            print_report(result)
    if args.junit:
        Path(args.junit).write_text(to_junit(results), encoding="utf-8")
    if args.html:
        from grader.course.reference import reference_figures
        from grader.report.html import write_html
        references = reference_figures({u.id for r in results for u in r.units}, options=options)
        write_html(results, Path(args.html), references=references)
    if bad_input:
        return 2
    if args.fail_under is not None:
        for r in results:
            if r.max_score and 100 * r.score / r.max_score < args.fail_under:
                return 1
    return 0


def _list(argv: Sequence[str]) -> int:
    p = command_parser("list", "List the exercises and homeworks.")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from grader.registry import exercises, homeworks

    rows = [{"id": e.id, "kind": "exercise", "chapter": e.section, "title": e.title, "points": e.points,
             "graded": e.summary} for e in exercises().values()]
    rows += [{"id": h.id, "kind": "homework", "chapter": h.section, "title": h.title, "points": h.points,
              "graded": h.summary} for h in homeworks().values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "chapter", "title", "points", box=None, header_style="bold")
    for row in rows:
        table.add_row(row["id"], row["chapter"], row["title"], f"{row['points']:g}")
    Console(highlight=False).print(table)
    return 0


COMMANDS: dict[str, Command] = {"list": _list}
