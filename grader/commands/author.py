"""Course-author commands: the course material and what grading it needs.

    grade validate    every solution scores full marks, every stub zero
    grade assign      stubs in exercises/ from solutions/
    grade calibrate   a trained-model exercise's accuracy band, from its reference solution
    grade data        the data store: status, import from a mirror, fetch
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grader.commands.common import Command, add_option_flags, add_workers_flag, command_parser, options_from
from grader.config import load_options
from grader.errors import InputError

__all__ = ["COMMANDS"]


def _validate(argv: Sequence[str]) -> int:
    p = command_parser("validate", "Every solution must score full marks and every stub zero.")
    p.add_argument("ids", nargs="*", metavar="ID", help="only these exercises or homeworks")
    add_workers_flag(p, "notebooks")
    add_option_flags(p)
    args = p.parse_args(argv)
    from grader.course.validate import validate

    rows = validate(args.ids, options_from(args), args.workers)
    for row in rows:
        mark = "ok  " if row.ok else "FAIL"
        print(f"{mark} {row.role:<8} {row.score:g}/{row.max_score:g}  {row.path}")
        for problem in row.problems:
            print(f"       {problem}")
    bad = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(bad)} of {len(rows)} notebooks as expected")
    return 1 if bad or not rows else 0


def _assign(argv: Sequence[str]) -> int:
    p = command_parser("assign", "Write stubs in exercises/ from solutions/.")
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


def _calibrate(argv: Sequence[str]) -> int:
    p = command_parser("calibrate", "Grade a reference solution under K seeds with its grading budget and "
                                    "store the accuracy distribution beside the exercise module.")
    p.add_argument("id", metavar="ID", help="a trained-model exercise")
    p.add_argument("--runs", type=int, default=10, metavar="K", help="reference runs (default: 10)")
    add_workers_flag(p, "runs")
    p.add_argument("--dry-run", action="store_true", help="print the distribution, do not write the file")
    add_option_flags(p)
    args = p.parse_args(argv)
    from grader.checking.calibration import save_calibration
    from grader.course.calibrate import calibrate

    result = calibrate(args.id, args.runs, options_from(args), args.workers)
    for name, stats in result.metrics.items():
        print(f"{name:<24} mean {stats.mean:.4f}  sd {stats.sd:.4f}  full marks from {stats.low:.4f}  "
              f"({stats.runs} runs, min {min(stats.values):.4f}, max {max(stats.values):.4f})")
    print(f"budget {result.budget}, {result.seconds:g} s")
    if not args.dry_run:
        print(f"wrote {save_calibration(result)}")
    return 0


def _data(argv: Sequence[str]) -> int:
    p = command_parser("data", "Manage the data store ($GRADER_DATA_DIR).")
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


COMMANDS: dict[str, Command] = {
    "validate": _validate,
    "assign": _assign,
    "calibrate": _calibrate,
    "data": _data,
}
