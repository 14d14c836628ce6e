"""grade(): the pipeline, stage by stage.

    load -> prepare -> execute (isolated kernel, probes after each unit's cells)
         -> read probes -> check in this process -> score -> SubmissionResult

Each stage is a function of its own module; this one only strings them together and
decides which units (exercises or a homework) each notebook holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from grader.config import Options
from grader.engine.execute import run_notebook
from grader.protocol import ExecutionRun, KernelCall
from grader.notebook.load import Notebook, read_notebook
from grader.engine.prepare import prepare
from grader.registry import detect_units
from grader.results import SubmissionResult
from grader.engine.sandbox import protected_paths
from grader.seeds import derive_seed, student_secret
from grader.units.context import UnitContext
from grader.notebook.static import analyse

__all__ = ["grade", "grade_async", "grader_version", "effective_options", "hidden_paths"]


def grader_version() -> str:
    """The installed version of d2l-grade."""
    try:
        return importlib.metadata.version("d2l-grade")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _environment(kernel_env: dict[str, Any], options: Options) -> dict[str, Any]:
    env = {"grader": grader_version(), "python": platform.python_version(), "torch": _package_version("torch"),
           "torchvision": _package_version("torchvision"), "device": "cpu", "seed_policy": options.seed_policy}
    env.update(kernel_env)
    return env


def _student_id(notebooks: list[Notebook], given: str) -> str:
    if given:
        return given
    for nb in notebooks:
        meta = nb.metadata.get("d2l_grade")
        if isinstance(meta, dict) and isinstance(meta.get("student"), str):
            return meta["student"]
    return notebooks[0].path.stem if notebooks else ""


WITHHELD = ("(message withheld: this cell ran after the grader's hidden tests had called your functions, "
            "so its text could repeat their inputs)")


def _withhold_later_errors(run: ExecutionRun, calls: Sequence[KernelCall], units: Sequence[Any],
                           position: Callable[[int], int]) -> None:
    """Error texts of cells that ran after a hidden probe, replaced: a function may have
    kept the grader's hidden inputs and a later cell raise them as its message. The
    exception's class name stays when it is a plain identifier."""
    hidden = {f"{u.id}/{name}" for u in units for name, spec in getattr(u, "probes", {}).items()
              if getattr(spec, "hidden", False)}
    first = min((c.after for c in calls if c.key in hidden and c.after is not None), default=None)
    if first is None:
        return  # hidden probes run after the last cell: no cell can see their inputs
    for record in run.summary.cells:
        try:
            later = position(record.index) > first
        except (KeyError, IndexError):
            later = True
        if later and (record.ename or record.evalue):
            record.evalue = WITHHELD
            if not (record.ename.replace(".", "").replace("_", "").isalpha() and len(record.ename) <= 60):
                record.ename = "Exception"


def effective_options(options: Options, units: Sequence[Any]) -> Options:
    """The options a notebook holding ``units`` runs with: an exercise may allow more time
    than the defaults; flags still win."""
    merged: dict[str, Any] = {}
    for unit in units:
        for key, value in unit.limits.items():
            merged[key] = max(merged.get(key, value), value)
    return options.with_overrides(merged)


def hidden_paths(paths: Sequence[str | Path], *, options: Options, hide: Sequence[str | Path] = ()) -> list[str]:
    """What the kernel grading ``paths`` must not see: the grader's secrets, the submission's
    folders and ``hide``. A warm kernel pool starts kernels with exactly this list."""
    extra = [Path(p).resolve().parent for p in paths] + [Path(h) for h in hide]
    if options.config_path:
        extra.append(Path(options.config_path))
    return protected_paths(extra, keep=[options.data_path])


async def grade_async(paths: Sequence[str | Path], *, options: Options, exercise_ids: Sequence[str] = (),
                      homework_id: str | None = None, student: str = "",
                      new_kernel: Callable[[Options, Sequence[str]], Any] | None = None,
                      hide: Sequence[str | Path] = (), on_cell: Callable[[str], None] | None = None) -> SubmissionResult:
    """Grade one submission (one or several notebooks) and return its result; ``on_cell``
    hears which cell starts (for a progress display)."""
    started = time.monotonic()
    notebooks = [read_notebook(p) for p in paths]
    codes = [analyse(nb.cells) for nb in notebooks]
    per_notebook = [detect_units(nb, c, exercise_ids=list(exercise_ids), homework_id=homework_id)
                    for nb, c in zip(notebooks, codes)]
    result = SubmissionResult(sources=[str(nb.path) for nb in notebooks], student=_student_id(notebooks, student),
                              seed_policy=options.seed_policy, grader_version=grader_version())
    parts: dict[str, list[tuple[UnitContext, ExecutionRun]]] = {}
    units: dict[str, Any] = {}
    hidden = hidden_paths(paths, options=options, hide=hide)
    secret = student_secret(options.secret, result.student)
    for nb, code, nb_units in zip(notebooks, codes, per_notebook):
        run_options = effective_options(options, nb_units)
        parameters: dict[str, Any] = {}
        for unit in nb_units:
            parameters.update(unit.parameters)
        prepared = prepare(nb, parameters)
        # hidden inputs are the student's own (secret + id); their values stay out of what
        # students see unless the instructor asks with --show-hidden
        ctx = UnitContext(notebook=nb, codes=code, secret=secret, origin_to_position=prepared.position,
                          show_hidden_details=not options.secret or options.show_hidden, data_root=options.data_path)
        calls: list[KernelCall] = []
        for unit in nb_units:
            for call in unit.plan(ctx):
                calls.append(dataclasses.replace(call, timeout=call.timeout or run_options.probe_timeout))
        kernel = None
        if new_kernel is not None:
            kernel = new_kernel(run_options, hidden)
            if asyncio.iscoroutine(kernel):
                kernel = await kernel
        run = await run_notebook(prepared, calls, run_options, seed=derive_seed(secret, "execution"),
                                 kernel=kernel, hide=hidden,
                                 on_cell=_in_notebook(on_cell, nb.path.name) if len(notebooks) > 1 else on_cell)
        run.summary.environment = _environment(run.summary.environment, options)
        result.executions.append(run.summary)
        if not ctx.show_hidden_details:
            _withhold_later_errors(run, calls, nb_units, prepared.position)
        ctx.cell_records = run.summary.cells
        for unit in nb_units:
            units.setdefault(unit.id, unit)
            parts.setdefault(unit.id, []).append((ctx, run))
    result.units = [units[uid].evaluate(parts[uid]) for uid in units]
    result.seconds = round(time.monotonic() - started, 3)
    return result


def grade(paths: Sequence[str | Path] | str | Path, *, options: Options, exercise_ids: Sequence[str] = (),
          homework_id: str | None = None, student: str = "",
          on_cell: Callable[[str], None] | None = None) -> SubmissionResult:
    """Grade ``paths`` as one submission; bad input raises :class:`~grader.errors.InputError`."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return asyncio.run(grade_async(paths, options=options, exercise_ids=exercise_ids,
                                   homework_id=homework_id, student=student, on_cell=on_cell))


def _in_notebook(on_cell: Callable[[str], None] | None, name: str) -> Callable[[str], None] | None:
    """``on_cell`` with the notebook's name before the cell, for a submission of several."""
    return None if on_cell is None else (lambda label: on_cell(f"{name} {label}"))

