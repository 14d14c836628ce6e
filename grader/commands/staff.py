"""Staff commands: grading a class into a gradebook, and what staff do with it.

    grade batch        a class's submissions into a gradebook (resumable)
    grade export       the gradebook as CSV, Gradescope results, JUnit XML
    grade report       one HTML feedback page per student
    grade stats        pass rates and common failures, per exercise and test
    grade review       a local web page to hand-mark and override
    grade similarity   pairs of students whose own code or prose is similar
    grade gradescope   the Gradescope autograder bundle, and its run
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.commands.common import (Command, add_gradebook_flag, add_option_flags, add_unit_flags, add_workers_flag,
                                    command_parser, options_from, print_json)
from grader.config import load_options

__all__ = ["COMMANDS"]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _batch(argv: Sequence[str]) -> int:
    p = command_parser("batch", "Grade a class's submissions into a gradebook; "
                                "rerun the same command to resume (see docs/INSTRUCTORS.md).")
    p.add_argument("submissions", metavar="SUBMISSIONS",
                   help="folder of notebooks (one per student) or of per-student folders")
    add_gradebook_flag(p, "the SQLite gradebook (created if missing)")
    add_workers_flag(p, "submissions", metavar="N")
    p.add_argument("--regrade", action="store_true",
                   help="regrade submissions graded with other exercise versions (history is kept)")
    add_unit_flags(p)
    p.add_argument("--student-from", default="auto", metavar="auto|filename|folder|metadata",
                   help="where the student id comes from (default auto: the folder's or the notebook's name)")
    p.add_argument("--trust-metadata", action="store_true",
                   help="with --student-from metadata: accept a notebook's claimed id even when another upload "
                        "or an earlier grading has it")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on this Dask scheduler (e.g. tcp://host:8786)")
    add_option_flags(p)
    args = p.parse_args(argv)
    from grader.classroom.batch import grade_batch
    from grader.report.progress import RichProgress, print_class_totals

    options = options_from(args)
    # SIGTERM (a scheduler ending the job) stops like Ctrl-C: kernels shut down, and what
    # was committed stays; rerunning resumes.
    signal.signal(signal.SIGTERM, _interrupt)
    if "figures" not in options.explicit:
        # The gradebook feeds `grade report` later: keep the figures' images unless told not to.
        options = dataclasses.replace(options, figures=True)
    progress = RichProgress()
    command = shlex.join(["grade", "batch", *argv])
    try:
        grade_batch(Path(args.submissions), db=Path(args.db), options=options, workers=args.workers,
                    regrade=args.regrade, exercise_ids=args.exercise, homework_id=args.homework,
                    student_from=args.student_from, dask_address=args.dask, progress=progress,
                    command=command, trust_metadata=args.trust_metadata)
    except KeyboardInterrupt:
        progress.interrupted(Path(args.db), command)
        return 130
    print_class_totals(Path(args.db), progress.console)
    return 0


def _export(argv: Sequence[str]) -> int:
    p = command_parser("export", "Export a gradebook's newest results.")
    add_gradebook_flag(p)
    p.add_argument("--csv", metavar="FILE", help="grade sheet: one row per student, one column per exercise, total")
    p.add_argument("--gradescope", metavar="DIR", help="one DIR/<student>/results.json per submission")
    p.add_argument("--junit", metavar="FILE", help="JUnit XML of every submission")
    args = p.parse_args(argv)
    if not (args.csv or args.gradescope or args.junit):
        p.error("give at least one of --csv, --gradescope, --junit")
    from grader.classroom.gradebook import open_gradebook
    from grader.report.export import write_csv, write_gradescope, write_junit

    with open_gradebook(Path(args.db)) as book:
        if args.csv:
            print(f"wrote {args.csv}: {write_csv(book, Path(args.csv))} students")
        if args.gradescope:
            print(f"wrote {write_gradescope(book, Path(args.gradescope))} results.json files in {args.gradescope}")
        if args.junit:
            print(f"wrote {args.junit}: {write_junit(book, Path(args.junit))} submissions")
    return 0


def _report(argv: Sequence[str]) -> int:
    p = command_parser("report", "Write HTML feedback from a gradebook.")
    add_gradebook_flag(p)
    p.add_argument("--html", required=True, metavar="DIR", help="one self-contained DIR/<student>.html each")
    # Only the options of grading the solutions once for the reference figures (then cached).
    add_option_flags(p, only=("threads", "isolation", "data_dir"),
                     title="options for grading the solutions' reference figures (once, then cached)")
    args = p.parse_args(argv)
    from grader.classroom.gradebook import open_gradebook
    from grader.course.reference import reference_figures
    from grader.report.export import units_in, write_html_reports

    with open_gradebook(Path(args.db)) as book:
        # Reference figures come from grading the solutions (cached after the first time).
        references = reference_figures(units_in(book), options=options_from(args))
        count = write_html_reports(book, Path(args.html), references=references)
    print(f"wrote {count} HTML reports in {args.html}")
    return 0


def _stats(argv: Sequence[str]) -> int:
    p = command_parser("stats", "Per exercise and per test: pass rate, scores, "
                                "most common failures (newest attempt of each student).")
    add_gradebook_flag(p)
    p.add_argument("--html", metavar="FILE", help="also write an HTML summary with plots")
    args = p.parse_args(argv)
    from grader.classroom.gradebook import open_gradebook
    from grader.classroom.stats import class_stats
    from grader.report.class_stats import print_stats, write_stats_html

    with open_gradebook(Path(args.db)) as book:
        stats = class_stats(book)
    print_stats(stats)
    if args.html:
        write_stats_html(stats, Path(args.html))
        print(f"wrote {args.html}")
    return 0


def _review(argv: Sequence[str]) -> int:
    p = command_parser("review", "A local web page to go through the class one "
                                 "student at a time: hand-mark written answers and discussions, override scores "
                                 "with a reason; saved to the gradebook at once (see docs/INSTRUCTORS.md).")
    add_gradebook_flag(p)
    p.add_argument("--grader", metavar="NAME", help="who is marking, stored with every mark (default: $USER)")
    p.add_argument("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--hand-points", type=float, metavar="P",
                   help="points each hand-marked item is worth from now on (kept in the gradebook; default 1)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = p.parse_args(argv)
    import getpass
    import webbrowser

    from grader.classroom.review import make_app, serve
    from grader.report.export import sheet_csv

    db = Path(args.db)
    app, token = make_app(db, grader=args.grader or getpass.getuser(), hand_points=args.hand_points,
                          export_csv=sheet_csv)

    def ready(url: str) -> None:
        print(f"reviewing {db} at {url}  (Ctrl-C to stop; every change is already saved)", flush=True)
        if args.open:
            webbrowser.open(url)

    try:
        serve(app, token, port=args.port, ready=ready)
    except KeyboardInterrupt:
        print("review stopped; marks and overrides are in the gradebook")
    return 0


def _similarity(argv: Sequence[str]) -> int:
    p = command_parser("similarity", "Pairs of students whose own code or prose "
                                     "is similar (book code, stubs, prompts and what many share subtracted); evidence "
                                     "for a person to judge, see docs/SIMILARITY.md.")
    p.add_argument("folder", nargs="?", metavar="FOLDER",
                   help="folder of submissions (with --db: where the graded notebooks are now, if they moved)")
    p.add_argument("--db", metavar="FILE", help="a gradebook: compare its graded submissions (extracts kept in it)")
    p.add_argument("--homework", metavar="ID", help="the homework (default: from the notebooks' metadata)")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="an exercise (repeatable)")
    p.add_argument("--base", action="append", default=[], metavar="PATH",
                   help="more base code or text nobody gets flagged for (.ipynb, .py, .md, .txt, or a folder)")
    p.add_argument("--html", metavar="DIR", help="write DIR/index.html and one page per similar pair")
    p.add_argument("--csv", metavar="FILE", help="write one row per pair")
    p.add_argument("--json", action="store_true", help="print the pairs as JSON, most similar first")
    p.add_argument("--export-dir", metavar="DIR", help="write own code per student and base code for JPlag / Dolos")
    p.add_argument("--code-threshold", type=float, default=None, metavar="S", help="code score called similar "
                   "(default 0.4)")
    p.add_argument("--prose-threshold", type=float, default=None, metavar="S", help="prose score called similar "
                   "(default 0.4)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="pairs printed (default 20)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="processes reading notebooks (default 2)")
    args = p.parse_args(argv)
    if not args.folder and not args.db:
        p.error("give a FOLDER of submissions or --db GRADEBOOK")
    from grader.classroom import similarity
    from grader.classroom.similarity.output import export_for_tools, pairs_json, summary_lines, write_csv
    from grader.report.similarity_html import write_similarity_html

    report = similarity.find_similar(
        folder=Path(args.folder) if args.folder else None, db=Path(args.db) if args.db else None,
        homework_id=args.homework, exercise_ids=args.exercise, base_paths=[Path(b) for b in args.base],
        workers=args.workers,
        code_threshold=similarity.CODE_THRESHOLD if args.code_threshold is None else args.code_threshold,
        prose_threshold=similarity.PROSE_THRESHOLD if args.prose_threshold is None else args.prose_threshold)
    out = sys.stderr if args.json else sys.stdout
    if args.json:
        print_json(pairs_json(report))
    else:
        print("\n".join(summary_lines(report, top=args.top)))
    if args.html:
        print(f"wrote {args.html}/index.html and {write_similarity_html(report, Path(args.html))} pair pages",
              file=out)
    if args.csv:
        print(f"wrote {args.csv}: {write_csv(report, Path(args.csv))} pairs", file=out)
    if args.export_dir:
        print(f"wrote {export_for_tools(report, Path(args.export_dir))} files in {args.export_dir} "
              "(see docs/SIMILARITY.md for JPlag and Dolos)", file=out)
    return 0


def _gradescope(argv: Sequence[str]) -> int:
    p = command_parser("gradescope", "A Gradescope autograder bundle (see docs/INSTRUCTORS.md).")
    sub = p.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write autograder.zip to upload to a Gradescope programming assignment")
    add_unit_flags(build)
    build.add_argument("-o", "--output", required=True, metavar="ZIP", help="the bundle to write")
    build.add_argument("--config", metavar="FILE", help="TOML grading options to put in the bundle")
    build.add_argument("--public", action="store_true", help="leave $GRADER_SECRET out of the bundle "
                       "(hidden tests then run on the public seed)")
    run = sub.add_parser("run", help="(what run_autograder calls) grade ROOT/submission into "
                         "ROOT/results/results.json")
    run.add_argument("--root", metavar="DIR", help="the autograder root (default: $AUTOGRADER_ROOT or /autograder)")
    args = p.parse_args(argv)
    from grader.course import gradescope

    if args.action == "build":
        secret = "" if args.public else os.environ.get("GRADER_SECRET", "")
        config = gradescope.build_bundle(Path(args.output), exercise_ids=args.exercise, homework_id=args.homework,
                                         secret=secret, config_file=Path(args.config) if args.config else None)
        print(f"wrote {args.output}: {config.what}, {config.max_points:g} points, grader {config.grader_version}")
        print("seeds: secret (keep the zip private: it holds GRADER_SECRET)" if secret else
              "seeds: public (set GRADER_SECRET before building for hidden inputs only you can reproduce)")
        print(f"same grading locally: {gradescope.command_line(config)}")
        return 0
    from grader.report.gradescope import to_gradescope

    root = Path(args.root) if args.root else gradescope.autograder_root()
    options = load_options(config_file=gradescope.options_file(root))
    print(f"wrote {gradescope.run_upload(root, options=options, render=to_gradescope)}")
    return 0


COMMANDS: dict[str, Command] = {
    "batch": _batch,
    "export": _export,
    "report": _report,
    "stats": _stats,
    "review": _review,
    "similarity": _similarity,
    "gradescope": _gradescope,
}
