"""The ``grade`` subcommands, grouped by who runs them; ``grader/cli.py`` dispatches to them.

    common    the flags several commands share, the grading options they set, JSON output
    grade     grade NOTEBOOK, grade list                        (students, anyone)
    author    validate, assign, calibrate, data                 (course authors)
    staff     batch, export, report, stats, review, similarity, gradescope   (staff grading a class)

Each command parses its own arguments and calls the library by keyword; exit codes are
those of ``grader/cli.py``.
"""

__all__: list[str] = []
