"""The ``grade`` command: argument parsing only; the work is done by the library.

    grade NOTEBOOK [NOTEBOOK ...]   grade notebooks (see --help)
    grade list | validate | assign | data | ...

Exit codes: 0 graded (or command done), 1 ``--fail-under`` not met or validation failed,
2 bad input (one line on stderr, no traceback), 4 internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from grader.config import load_options, option_fields
from grader.errors import GraderError, InputError

__all__ = ["main", "build_parser", "COMMANDS"]


def _add_option_flags(parser: argparse.ArgumentParser, only: Sequence[str] = (), title: str = "") -> None:
    """The grading options as flags; ``only`` keeps those that apply to a subcommand."""
    group = parser.add_argument_group(title or "grading options (defaults from the config file, see docs/CONFIG.md)")
    group.add_argument("--config", metavar="FILE", help="TOML config file (default: $GRADER_CONFIG or ./d2l-grade.toml)")
    for f in option_fields():
        if not f.metadata["flag"] or (only and f.name not in only):
            continue
        flag = "--" + f.name.replace("_", "-")
        unit = f" [{f.metadata['unit']}]" if f.metadata["unit"] else ""
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            group.add_argument(flag, dest=f.name, type=kind, default=None, metavar=f.name.upper(),
                               help=f.metadata["help"] + unit)


def _options(args: argparse.Namespace) -> Any:
    flags = {f.name: getattr(args, f.name, None) for f in option_fields() if f.metadata["flag"]}
    return load_options(config_file=getattr(args, "config", None), flags=flags)


# -- grade NOTEBOOK ----------------------------------------------------------------

def _grade_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Grade Jupyter notebooks of the d2l course.",
                                epilog="Other commands: " + ", ".join(sorted(COMMANDS)) + " (grade COMMAND --help).")
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook(s) to grade")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade as this exercise (repeatable)")
    p.add_argument("--homework", metavar="ID", help="grade as this free-form homework (all notebooks: one submission)")
    p.add_argument("--student", metavar="ID", help="student id; with several notebooks, grade them as one submission")
    p.add_argument("--json", action="store_true", help="print Gradescope results.json on stdout instead of the report")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 when a submission scores below PCT percent")
    _add_option_flags(p)
    return p


def _run_grade(argv: Sequence[str]) -> int:
    args = _grade_parser().parse_args(argv)
    from grader.pipeline import grade
    from grader.report.gradescope import to_gradescope
    from grader.report.junit import to_junit
    from grader.report.progress import grading_status
    from grader.report.terminal import print_report

    options = _options(args)
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
        json.dump(docs[0] if len(docs) == 1 else docs, sys.stdout, indent=2, ensure_ascii=False)
        print()
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


# -- subcommands ------------------------------------------------------------------

def _cmd_list(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade list", description="List the exercises and homeworks.")
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


def _cmd_validate(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade validate",
                                description="Every solution must score full marks and every stub zero.")
    p.add_argument("ids", nargs="*", metavar="ID", help="only these exercises or homeworks")
    p.add_argument("--workers", type=int, default=0, help="notebooks graded at once (default: cores)")
    _add_option_flags(p)
    args = p.parse_args(argv)
    from grader.course.validate import validate

    rows = validate(args.ids, _options(args), args.workers)
    for row in rows:
        mark = "ok  " if row.ok else "FAIL"
        print(f"{mark} {row.role:<8} {row.score:g}/{row.max_score:g}  {row.path}")
        for problem in row.problems:
            print(f"       {problem}")
    bad = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(bad)} of {len(rows)} notebooks as expected")
    return 1 if bad or not rows else 0


def _cmd_assign(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade assign", description="Write stubs in exercises/ from solutions/.")
    p.add_argument("--check", action="store_true", help="only report stale stubs (exit 1 if any)")
    args = p.parse_args(argv)
    from grader.course.assign import assign_all, stale_stubs
    from grader.course.validate import material_dirs

    solutions, stubs = material_dirs()
    if args.check:
        stale = stale_stubs(solutions, stubs)
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    for path in assign_all(solutions, stubs):
        print(f"wrote {path}")
    return 0


def _cmd_data(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade data", description="Manage the data store ($GRADER_DATA_DIR).")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="show each dataset file and whether it is valid")
    imp = sub.add_parser("import", help="copy the datasets from a local mirror, verifying checksums")
    imp.add_argument("mirror", metavar="DIR")
    sub.add_parser("fetch", help="download the datasets from their home URLs, verifying checksums")
    args = p.parse_args(argv)
    from grader import datastore

    root = load_options().data_path
    if args.action == "status":
        print(f"data store: {root}")
        rows = datastore.status(root)
        for spec, state in rows:
            print(f"  {state if state == 'ok' else 'BAD':<4} {spec.relpath}" + ("" if state == "ok" else f" ({state})"))
        if any(state != "ok" for _, state in rows):
            print(f"fix: {datastore.FIX_HINT}")
            return 1
        return 0
    if args.action == "import":
        mirror = Path(args.mirror)
        if not mirror.is_dir():
            raise InputError(f"{mirror}: no such directory")
        datastore.import_mirror(mirror, root)
    else:
        datastore.fetch(root)
    print(f"data store ready: {root}")
    return 0


def _cmd_calibrate(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade calibrate",
                                description="Grade a reference solution under K seeds with its grading budget and "
                                            "store the accuracy distribution beside the exercise module.")
    p.add_argument("id", metavar="ID", help="a trained-model exercise")
    p.add_argument("--runs", type=int, default=10, metavar="K", help="reference runs (default: 10)")
    p.add_argument("--workers", type=int, default=0, help="runs graded at once (default: cores)")
    p.add_argument("--dry-run", action="store_true", help="print the distribution, do not write the file")
    _add_option_flags(p)
    args = p.parse_args(argv)
    from grader.checking.calibration import save_calibration
    from grader.course.calibrate import calibrate

    result = calibrate(args.id, args.runs, _options(args), args.workers)
    for name, stats in result.metrics.items():
        print(f"{name:<24} mean {stats.mean:.4f}  sd {stats.sd:.4f}  full marks from {stats.low:.4f}  "
              f"({stats.runs} runs, min {min(stats.values):.4f}, max {max(stats.values):.4f})")
    print(f"budget {result.budget}, {result.seconds:g} s")
    if not args.dry_run:
        print(f"wrote {save_calibration(result)}")
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _cmd_batch(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade batch", description="Grade a class's submissions into a gradebook; "
                                "rerun the same command to resume (see docs/INSTRUCTORS.md).")
    p.add_argument("submissions", metavar="SUBMISSIONS",
                   help="folder of notebooks (one per student) or of per-student folders")
    p.add_argument("--db", required=True, metavar="FILE", help="the SQLite gradebook (created if missing)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="submissions graded at once (default: cores)")
    p.add_argument("--regrade", action="store_true",
                   help="regrade submissions graded with other exercise versions (history is kept)")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade as this exercise (repeatable)")
    p.add_argument("--homework", metavar="ID", help="grade as this free-form homework")
    p.add_argument("--student-from", default="auto", metavar="auto|filename|folder|metadata",
                   help="where the student id comes from (default auto: the folder's or the notebook's name)")
    p.add_argument("--trust-metadata", action="store_true",
                   help="with --student-from metadata: accept a notebook's claimed id even when another upload "
                        "or an earlier grading has it")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on this Dask scheduler (e.g. tcp://host:8786)")
    _add_option_flags(p)
    args = p.parse_args(argv)
    from grader.classroom.batch import grade_batch
    from grader.report.progress import RichProgress, print_class_totals

    options = _options(args)
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


def _cmd_export(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade export", description="Export a gradebook's newest results.")
    p.add_argument("--db", required=True, metavar="FILE", help="the gradebook")
    p.add_argument("--csv", metavar="FILE", help="grade sheet: one row per student, one column per exercise, total")
    p.add_argument("--gradescope", metavar="DIR", help="one DIR/<student>/results.json per submission")
    p.add_argument("--junit", metavar="FILE", help="JUnit XML of every submission")
    args = p.parse_args(argv)
    if not (args.csv or args.gradescope or args.junit):
        p.error("give at least one of --csv, --gradescope, --junit")
    from grader.report.export import write_csv, write_gradescope, write_junit
    from grader.classroom.gradebook import open_gradebook

    with open_gradebook(Path(args.db)) as book:
        if args.csv:
            print(f"wrote {args.csv}: {write_csv(book, Path(args.csv))} students")
        if args.gradescope:
            print(f"wrote {write_gradescope(book, Path(args.gradescope))} results.json files in {args.gradescope}")
        if args.junit:
            print(f"wrote {args.junit}: {write_junit(book, Path(args.junit))} submissions")
    return 0


def _cmd_report(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade report", description="Write HTML feedback from a gradebook.")
    p.add_argument("--db", required=True, metavar="FILE", help="the gradebook")
    p.add_argument("--html", required=True, metavar="DIR", help="one self-contained DIR/<student>.html each")
    # Only the options of grading the solutions once for the reference figures (then cached).
    _add_option_flags(p, only=("threads", "isolation", "data_dir"),
                      title="options for grading the solutions' reference figures (once, then cached)")
    args = p.parse_args(argv)
    from grader.report.export import units_in, write_html_reports
    from grader.classroom.gradebook import open_gradebook
    from grader.course.reference import reference_figures

    with open_gradebook(Path(args.db)) as book:
        # Reference figures come from grading the solutions (cached after the first time).
        references = reference_figures(units_in(book), options=_options(args))
        count = write_html_reports(book, Path(args.html), references=references)
    print(f"wrote {count} HTML reports in {args.html}")
    return 0


def _cmd_stats(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade stats", description="Per exercise and per test: pass rate, scores, "
                                "most common failures (newest attempt of each student).")
    p.add_argument("--db", required=True, metavar="FILE", help="the gradebook")
    p.add_argument("--html", metavar="FILE", help="also write an HTML summary with plots")
    args = p.parse_args(argv)
    from grader.classroom.gradebook import open_gradebook
    from grader.report.class_stats import print_stats, write_stats_html
    from grader.classroom.stats import class_stats

    with open_gradebook(Path(args.db)) as book:
        stats = class_stats(book)
    print_stats(stats)
    if args.html:
        write_stats_html(stats, Path(args.html))
        print(f"wrote {args.html}")
    return 0


def _cmd_gradescope(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade gradescope", description="A Gradescope autograder bundle "
                                "(see docs/INSTRUCTORS.md).")
    sub = p.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write autograder.zip to upload to a Gradescope programming assignment")
    build.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade as this exercise "
                       "(repeatable)")
    build.add_argument("--homework", metavar="ID", help="grade as this free-form homework")
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


def _cmd_review(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade review", description="A local web page to go through the class one "
                                "student at a time: hand-mark written answers and discussions, override scores "
                                "with a reason; saved to the gradebook at once (see docs/INSTRUCTORS.md).")
    p.add_argument("--db", required=True, metavar="FILE", help="the gradebook")
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


def _cmd_similarity(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="grade similarity", description="Pairs of students whose own code or prose "
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
        json.dump(pairs_json(report), sys.stdout, indent=2, ensure_ascii=False)
        print()
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


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "calibrate": _cmd_calibrate,
    "list": _cmd_list,
    "validate": _cmd_validate,
    "assign": _cmd_assign,
    "data": _cmd_data,
    "batch": _cmd_batch,
    "export": _cmd_export,
    "report": _cmd_report,
    "stats": _cmd_stats,
    "gradescope": _cmd_gradescope,
    "review": _cmd_review,
    "similarity": _cmd_similarity,
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``grade NOTEBOOK`` (subcommands have their own)."""
    return _grade_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``grade`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return _run_grade(argv)
    except GraderError as exc:
        kind = "error" if exc.exit_code == 2 else "internal grading error"
        print(f"grade: {kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
