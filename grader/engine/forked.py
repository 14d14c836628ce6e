"""Kernels forked from the template (option ``fork_kernels``), and which ones are.

:class:`ForkedKernelManager` is the :class:`~grader.engine.manager.SandboxKernelManager`
whose launch asks the shared template (``forkserver.py``) for a fork instead of running
``jail.py``. A fork that fails (no template, a template with threads, a jail ``exec`` the
child cannot reproduce, a sandbox step that failed in the child) falls back to the fresh
kernel of the sandbox on the same connection file, and :func:`describe_start` says so in
the execution summary. :func:`notebook_preload` names the :data:`HEAVY_MODULES` a
notebook imports, for the template to import before forking its kernel.
"""

from __future__ import annotations

import ast
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from grader.config import Options, forking
from grader.engine.forkserver import ForkError, ForkedProcess, fork_server, template_serving
from grader.engine.manager import SandboxKernelManager
from grader.engine.sandbox import JAIL, Sandbox
from grader.notebook.load import Notebook
from grader.notebook.static import CellCode, analyse

__all__ = ["HEAVY_MODULES", "FORKED", "FRESH", "ForkedKernelManager", "describe_start", "forks", "heavy_imports",
           "kernel_manager", "notebook_preload"]

# Modules worth importing before the student's first cell, in import order. Each costs
# 0.1-3 s of CPU (measured: torch 1.8 s, d2l.torch 3.3 s more). A fresh kernel of the warm
# pool imports only those its notebook imports (unused ones slow a batch down); the kernel
# template imports each once for every kernel it forks.
HEAVY_MODULES: tuple[str, ...] = ("torch", "numpy", "pandas", "matplotlib.pyplot", "torchvision", "d2l.torch")
FORKED = "forked from the grader's pre-imported kernel template"
FRESH = "a fresh Python process"



def forks(options: Options) -> bool:
    """Whether kernels graded under ``options`` are forked from the template."""
    return forking(options) or template_serving(options)


class ForkedKernelManager(SandboxKernelManager):
    """A sandboxed kernel forked from the template, else started fresh (and saying why)."""

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        super().__init__(sandbox, **kwargs)
        self.start_note: dict[str, Any] = {}
        self.preload: tuple[str, ...] = ()  # the heavy modules the notebook imports (Kernel.start sets it)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        try:
            process = await asyncio.to_thread(self._fork, kernel_cmd)
        except ForkError as exc:
            self.start_note = {"kernel_process": FRESH, "fork_failed": str(exc)}
            self._clear_failed_start()
            await super()._async_launch_kernel(kernel_cmd, **kw)
            return
        provisioner = self.provisioner
        assert provisioner is not None
        provisioner.process = process  # type: ignore[attr-defined]
        provisioner.pid = provisioner.pgid = process.pid  # type: ignore[attr-defined]
        provisioner.cwd = str(self.sandbox.root)  # type: ignore[attr-defined]
        self._reconcile_connection_info(provisioner.connection_info)
        self.start_note = {"kernel_process": FORKED}

    def _fork(self, kernel_cmd: list[str]) -> ForkedProcess:
        # The command the fresh kernel gets: ``python -I -S jail.py STAGE SPEC -- KERNEL...``
        try:
            at = kernel_cmd.index(JAIL)
            stage, spec = kernel_cmd[at + 1], json.loads(kernel_cmd[at + 2])
            cmd = kernel_cmd[kernel_cmd.index("--", at) + 1:]
        except (ValueError, IndexError) as exc:
            raise ForkError(f"unexpected kernel command ({exc})") from None
        request = {"stage": stage, "spec": spec, "cmd": cmd, "cwd": str(self.sandbox.root),
                   "log": str(self.sandbox.root / "kernel.log"), "threads": self.sandbox.threads,
                   "preload": list(self.preload), "hide_modules": list(self.sandbox.options.hide_modules)}
        try:
            server = fork_server(self.sandbox.options.template_idle)
            return server.fork(request, timeout=max(60.0, self.startup_timeout()))
        except OSError as exc:
            raise ForkError(f"{type(exc).__name__}: {exc}") from None
        except ForkError as exc:
            tail = self.log_tail(300).strip().splitlines()
            raise ForkError(f"{exc}{' (' + tail[-1] + ')' if tail else ''}") from None

    def _clear_failed_start(self) -> None:
        """Remove what a child that failed in the jail may have left in the run folder (the
        published ipc link, the jail's report), so the fresh kernel's jail starts clean."""
        for name in ("ipc", "jail.json"):
            path = self.sandbox.root / name
            if path.is_symlink() or path.is_file():
                path.unlink()

    def startup_timeout(self) -> float:
        return float(self.sandbox.options.startup_timeout)


def kernel_manager(sandbox: Sandbox) -> SandboxKernelManager:
    """The kernel manager for ``sandbox``: forked when the ``fork_kernels`` option is on."""
    if sys.platform.startswith("linux") and forks(sandbox.options):
        return ForkedKernelManager(sandbox)
    return SandboxKernelManager(sandbox)


def _imported(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            # ``from d2l import torch`` and ``from matplotlib import pyplot`` import submodules.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def heavy_imports(codes: Sequence[CellCode]) -> tuple[str, ...]:
    """The :data:`HEAVY_MODULES` a notebook imports anywhere in its code (by static reading)."""
    names = {name for code in codes if code.tree is not None for name in _imported(code.tree)}
    return tuple(h for h in HEAVY_MODULES if any(n == h or n.startswith(h + ".") for n in names))


def notebook_preload(notebook: Notebook, options: Options) -> tuple[str, ...]:
    """What a kernel forked for ``notebook`` should find imported (nothing for a fresh one,
    which imports as the notebook does)."""
    if not forks(options):
        return ()
    hidden = tuple(options.hide_modules)
    return tuple(m for m in heavy_imports(analyse(notebook.cells))
                 if not any(m == h or m.startswith(h + ".") for h in hidden))


def describe_start(km: Any) -> dict[str, Any]:
    """How the kernel process was made, for the execution summary's isolation record."""
    return dict(getattr(km, "start_note", None) or {"kernel_process": FRESH})
