"""What several ``grade`` commands share: their flags, the grading options those set, and
JSON on stdout.

The grading options come from ``grader/config.py``, declared there once with type, unit
and help; here they become flags (``--cell-timeout S``), and :func:`options_from` merges
the flags given with the config file, the environment and the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from grader.config import Options, load_options, option_fields

__all__ = ["Command", "command_parser", "add_option_flags", "options_from", "add_unit_flags", "add_gradebook_flag",
           "add_workers_flag", "print_json"]

Command = Callable[[Sequence[str]], int]  # a subcommand: its arguments (after its name) -> the exit code


def command_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser of ``grade NAME``."""
    return argparse.ArgumentParser(prog=f"grade {name}", description=description)


def add_option_flags(parser: argparse.ArgumentParser, only: Sequence[str] = (), title: str = "") -> None:
    """The grading options as flags; ``only`` keeps those that apply to a subcommand."""
    group = parser.add_argument_group(title or "grading options (defaults from the config file, see docs/CONFIG.md)")
    group.add_argument("--config", metavar="FILE",
                       help="TOML config file (default: $GRADER_CONFIG or ./d2l-grade.toml)")
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


def options_from(args: argparse.Namespace) -> Options:
    """The grading options: the flags of :func:`add_option_flags` given in ``args`` over the
    config file, the environment and the defaults."""
    flags = {f.name: getattr(args, f.name, None) for f in option_fields() if f.metadata["flag"]}
    return load_options(config_file=getattr(args, "config", None), flags=flags)


def add_unit_flags(parser: argparse.ArgumentParser, homework_help: str = "grade as this free-form homework") -> None:
    """``--exercise ID`` (repeatable) and ``--homework ID``: what to grade the notebooks as."""
    parser.add_argument("--exercise", action="append", default=[], metavar="ID",
                        help="grade as this exercise (repeatable)")
    parser.add_argument("--homework", metavar="ID", help=homework_help)


def add_gradebook_flag(parser: argparse.ArgumentParser, what: str = "the gradebook") -> None:
    """``--db FILE`` (required), the SQLite gradebook a staff command reads or fills; ``what`` is its help."""
    parser.add_argument("--db", required=True, metavar="FILE", help=what)


def add_workers_flag(parser: argparse.ArgumentParser, what: str, metavar: str | None = None) -> None:
    """``--workers N``: how many ``what`` are graded at once; 0 (the default) is one per core."""
    parser.add_argument("--workers", type=int, default=0, metavar=metavar,
                        help=f"{what} graded at once (default: cores)")


def print_json(doc: Any) -> None:
    """``doc`` on stdout as indented JSON, non-ASCII text as is."""
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
    print()
