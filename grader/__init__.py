"""d2l-grade: grade Dive into Deep Learning notebooks in an isolated kernel.

The library's front door is :func:`grade`; students call :func:`check` from a
notebook to run the public tests of an exercise on the saved notebook.
"""

from .config import Options, load_options
from .local import check
from .pipeline import grade
from .results import SubmissionResult

__all__ = ["grade", "check", "load_options", "Options", "SubmissionResult"]
