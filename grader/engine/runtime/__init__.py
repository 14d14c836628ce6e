"""The grader's runtime for the student's kernel, shipped there as source text.

The kernel never imports the ``grader`` package: :func:`boot_code` returns a code
string that builds the module ``_d2lgrade_runtime`` from the files of this folder.
The grader reads back only what that code publishes, and checks it itself.
"""

from __future__ import annotations

import json
import types
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["MIME_EVENT", "MIME_RESULT", "runtime_source", "boot_code", "begin_code", "answer_code", "load_namespace"]

MIME_EVENT = "application/vnd.d2l-grade.event+json"
MIME_RESULT = "application/vnd.d2l-grade.result+json"
MODULE_NAME = "_d2lgrade_runtime"
FILES = ("base.py", "encode.py", "figures.py", "offline.py", "evaluate.py", "guard.py", "models.py", "trace.py", "install.py")


@cache
def runtime_source() -> str:
    """All runtime files, concatenated in dependency order."""
    folder = resources.files(__name__)
    return "\n\n".join(f"# ---- {name} ----\n" + (folder / name).read_text(encoding="utf-8") for name in FILES)


def boot_code(config: dict[str, Any]) -> str:
    """Code for the kernel: build the runtime module and install it with ``config``."""
    return (
        "def _d2lgrade_boot(source, config):\n"
        "    import sys, types\n"
        f"    module = types.ModuleType({MODULE_NAME!r})\n"
        f"    sys.modules[{MODULE_NAME!r}] = module\n"
        "    module.__dict__['get_ipython'] = get_ipython\n"
        "    exec(compile(source, '<d2l-grade runtime>', 'exec'), module.__dict__)\n"
        "    module.boot(config)\n"
        f"_d2lgrade_boot({runtime_source()!r}, {json.dumps(config)!r})\n"
        "del _d2lgrade_boot\n"
    )


def begin_code(config: dict[str, Any]) -> str:
    """Code for the kernel: start one submission (seeds and options)."""
    return f"__import__('sys').modules[{MODULE_NAME!r}].begin({json.dumps(config)!r})"


def answer_code(request: dict[str, Any]) -> str:
    """Code for the kernel: evaluate one probe request."""
    return f"__import__('sys').modules[{MODULE_NAME!r}].answer({json.dumps(request)!r})"


def load_namespace() -> types.ModuleType:
    """The runtime as a module in *this* process, for unit tests of its pure parts."""
    module = types.ModuleType(MODULE_NAME)
    exec(compile(runtime_source(), "<d2l-grade runtime>", "exec"), module.__dict__)
    return module
