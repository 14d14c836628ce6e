"""The ``grade`` command: which command runs, and how its failures end the process; the
commands themselves are in ``grader/commands/``, each calling the library by keyword.

    grade NOTEBOOK [NOTEBOOK ...]   grade notebooks (see --help)             commands/grade.py
    grade list                      the exercises and homeworks              commands/grade.py
    grade validate | assign | calibrate | data                               commands/author.py
    grade batch | export | report | stats | review | similarity | gradescope commands/staff.py

Exit codes: 0 graded (or command done), 1 ``--fail-under`` not met or validation failed,
2 bad input (one line on stderr, no traceback), 4 internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from grader.commands import author, grade, staff
from grader.commands.common import Command
from grader.errors import GraderError

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS: dict[str, Command] = {**grade.COMMANDS, **author.COMMANDS, **staff.COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``grade NOTEBOOK`` (subcommands have their own)."""
    return grade.grade_parser(COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``grade`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return grade.grade_notebooks(build_parser().parse_args(argv))
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
