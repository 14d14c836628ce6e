"""Run a prepared notebook in a sandboxed kernel, cell by cell, with probes.

nbclient executes each cell (outputs, display ids, timeouts with interrupt) through the
kernel of :mod:`grader.engine.kernel`. Around it this module adds what grading needs:

* a whole-notebook deadline on top of the per-cell timeout, and a hard kill when a cell
  ignores the interrupt (a student's ``except KeyboardInterrupt: pass``);
* each cell's record (ok, error, timeout, killed, memory, not run) from its outputs;
* probe requests sent right after the cell each one is attached to, each with its own
  timeout, their single answer accepted only from the probe's own execution;
* an :class:`ExecutionRun` that keeps everything obtained so far whatever happens
  (timeout, dead kernel, memory limit) and says what happened, as data.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Callable, Mapping, Sequence

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.config import Options
from grader.engine.forked import describe_start, notebook_preload
from grader.engine.kernel import MALFORMED, GradingClient, Kernel, kill_after, probe
from grader.engine.prepare import Prepared
from grader.engine.manager import MalformedMessage
from grader.engine.runtime import begin_code
from grader.protocol import ExecutionRun, KernelCall, RawAnswer
from grader.results import CellRecord, ExecutionSummary
from grader.values import Malformed, decode_outcome
from grader.wire import clean_environment

__all__ = ["Kernel", "execute", "run_notebook"]

CellHook = Callable[[str], None]  # called with "cell 5" as each code cell starts

TRUNCATION_NOTE = "[d2l-grade: output beyond"
MEMORY_MARKERS = ("can't allocate memory", "not enough memory", "cannot allocate memory", "bad_alloc",
                  "out of memory")


async def _run_cells(kernel: Kernel, prepared: Prepared, calls: Mapping[int | None, list[KernelCall]],
                     run: ExecutionRun, nonce: str, on_cell: CellHook | None = None) -> None:
    client, summary = kernel.client, run.summary
    nb = prepared.nb
    stopped = ""

    async def probes(after: int | None) -> None:
        nonlocal stopped
        for call in calls.get(after, []):
            if stopped:
                run.answers[call.key] = RawAnswer("not_run", None, stopped)
            elif time.monotonic() > client.deadline:
                run.answers[call.key] = RawAnswer("not_run", None, "the notebook's total time limit was reached")
            else:
                answer = run.answers[call.key] = await probe(kernel, call, nonce)
                if answer.status in ("killed", "dead_kernel") or answer.status != "ok" and not await kernel.alive():
                    # the student's function killed the kernel (os._exit), ignored the
                    # interrupt, or broke the messaging: nothing after this can run
                    where = ("before the first cell" if after == -1 else "after the last cell" if after is None
                             else f"after {_label(prepared.origin(after), prepared)}")
                    summary.outcome = "timeout" if answer.status == "killed" else "dead_kernel"
                    what = {"killed": "ignored the interrupt after its time limit; the kernel was killed",
                            "tampered": "broke the kernel's messaging protocol; the kernel was stopped"}
                    stopped = summary.message = (f"the notebook's code called by the grader {where} "
                                                 + what.get(answer.status, "made the kernel die"))

    await probes(-1)
    for index, cell in enumerate(nb.cells):
        origin = prepared.origin(index)
        if cell.cell_type != "code":
            await probes(index)
            continue
        record = CellRecord(index=origin if origin is not None else -1, status="ok", label=_label(origin, prepared))
        if stopped or time.monotonic() > client.deadline:
            if not stopped:
                stopped = "the notebook's total time limit was reached"
                summary.outcome, summary.message = "timeout", stopped + f" before {_label(origin, prepared)}"
            record.status = "not_run"
            summary.cells.append(record)
            await probes(index)
            continue
        client.current = index
        _announce(on_cell, _label(origin, prepared))
        started = time.monotonic()
        fired = asyncio.Event()
        memory_kills = kernel.sandbox.memory_kills()
        watchdog = asyncio.ensure_future(kill_after(kernel, client._cell_timeout(cell) + kernel.options.kill_grace,
                                                     fired))
        try:
            await client.async_execute_cell(cell, index, execution_count=index + 1)
        except (DeadKernelError, CellTimeoutError):
            killed = fired.is_set()
            record.status = "killed" if killed else "memory"
            tail = kernel.km.log_tail().lower()
            over_memory = any(m in tail for m in MEMORY_MARKERS) or kernel.sandbox.memory_kills() > memory_kills
            if not killed and not over_memory:
                record.status = "error"
                record.ename = "DeadKernel"
                record.evalue = "the kernel died while running this cell (e.g. os._exit, a crash)"
                summary.outcome = "dead_kernel"
                stopped = f"the kernel died in {_label(origin, prepared)}"
            elif killed:
                record.ename, record.evalue = "Timeout", "did not stop after being interrupted; kernel killed"
                summary.outcome = "timeout"
                stopped = f"{_label(origin, prepared)} ran past its time limit and ignored the interrupt"
            else:
                record.ename, record.evalue = "MemoryError", "memory limit exceeded"
                summary.outcome = "memory_limit"
                stopped = f"memory limit exceeded in {_label(origin, prepared)}"
            summary.message = stopped
        except MalformedMessage:
            await kernel.kill()
            record.status, record.ename, record.evalue = "error", "ProtocolError", MALFORMED
            summary.outcome = "dead_kernel"
            stopped = summary.message = f"the kernel broke the messaging protocol in {_label(origin, prepared)}"
        else:
            _classify(cell, index, client, record)
            if record.status in ("error", "timeout") and kernel.sandbox.memory_kills() > memory_kills:
                # The memory cgroup killed a process the cell started (a DataLoader worker, a
                # multiprocessing pool), and the cell failed or hung because of it.
                record.status, record.ename = "memory", "MemoryError"
                record.evalue = f"a process it started was killed at the memory limit ({record.evalue})"
            if record.status == "memory":
                summary.outcome = "memory_limit"
                stopped = summary.message = f"memory limit exceeded in {_label(origin, prepared)}"
            elif record.status == "timeout" and time.monotonic() >= client.deadline - 0.5:
                summary.outcome = "timeout"
                stopped = summary.message = f"the notebook's total time limit was reached in {_label(origin, prepared)}"
        watchdog.cancel()
        record.seconds = round(time.monotonic() - started, 3)
        record.output_bytes = client.output_bytes.get(index, 0)
        record.truncated = index in client.truncated or any(
            TRUNCATION_NOTE in str(o.get("text", "")) for o in cell.get("outputs", []))
        if origin is not None:
            summary.cells.append(record)
        await probes(index)
    await probes(None)


def _memory_error(ename: str, evalue: str) -> bool:
    return ename == "MemoryError" or any(m in evalue.lower() for m in MEMORY_MARKERS)


def _announce(on_cell: CellHook | None, label: str) -> None:
    """Tell the progress display which cell starts; its failure never stops grading."""
    if on_cell is not None:
        try:
            on_cell(label)
        except Exception:  # noqa: BLE001 - a display problem is not the submission's
            pass


def _label(origin: int | None, prepared: Prepared) -> str:
    """How reports name a submitted cell (``code cell 3``); None is the injected cell."""
    if origin is None:
        return "the injected parameters cell"
    cells = prepared.notebook.cells
    return cells[origin].label if 0 <= origin < len(cells) else f"cell {origin + 1}"


def _classify(cell: nbformat.NotebookNode, index: int, client: GradingClient, record: CellRecord) -> None:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if index in client.timed_out:
        record.status, record.ename = "timeout", "Timeout"
        record.evalue = f"interrupted after {client._cell_timeout(cell):.0f} s"
    elif errors:
        record.ename, record.evalue = errors[-1].get("ename", ""), str(errors[-1].get("evalue", ""))[:500]
        record.status = "memory" if _memory_error(record.ename, record.evalue) else "error"


async def run_notebook(prepared: Prepared, calls: Sequence[KernelCall], options: Options, *,
                       seed: int, kernel: Kernel | None = None, hide: Sequence[str] = (),
                       nonce: str = "", on_cell: CellHook | None = None) -> ExecutionRun:
    """Execute ``prepared`` in ``kernel`` (or a new one), sending ``calls`` where they belong;
    ``on_cell(label)`` is called as each code cell starts (progress display)."""
    started = time.monotonic()
    run = ExecutionRun(ExecutionSummary(edits=list(prepared.edits), source_file=str(prepared.notebook.path)))
    by_cell: dict[int | None, list[KernelCall]] = {}
    for call in calls:
        by_cell.setdefault(call.after, []).append(call)
    nonce = nonce or os.urandom(16).hex()
    kernel = kernel or Kernel(options, hide=hide)
    try:
        if not kernel.started:
            try:
                await kernel.start(preload=notebook_preload(prepared.notebook, options))
            except Exception as exc:  # the kernel could not start: a result, not a crash
                run.summary.outcome = "startup_failed"
                run.summary.message = f"the kernel did not start: {exc}. {kernel.km.log_tail(500)}".strip()
                for call in calls:
                    run.answers[call.key] = RawAnswer("not_run", None, run.summary.message)
                return run
        run.summary.isolation = {**kernel.sandbox.describe(), **describe_start(kernel.km)}
        kernel.client.nb = prepared.nb
        kernel.client.deadline = time.monotonic() + options.total_timeout
        status, _, message = await kernel.request(
            begin_code({"seed": seed, "figures": options.figures, "output_limit": options.output_limit}),
            options.begin_timeout)
        if status != "ok":
            raise RuntimeError(f"the grader's runtime could not start the submission: {message}")
        await _run_cells(kernel, prepared, by_cell, run, nonce, on_cell)
        run.events = {prepared.origin(i): ev for i, ev in kernel.client.events.items()
                      if i < len(prepared.nb.cells) and prepared.origin(i) is not None}
        for event_list in run.events.values():
            for event in event_list:
                run.summary.network_attempts += event.get("network", [])
        run.summary.network_attempts = run.summary.network_attempts[:50]
        origins = [prepared.origin(i) if 0 <= i < len(prepared.nb.cells) else None for i, _ in kernel.client.malformed]
        run.summary.malformed = [f"{_label(origin, prepared)}: {problem}"
                                 for origin, (_, problem) in zip(origins, kernel.client.malformed)]
        if await kernel.alive():
            env = await probe(kernel, KernelCall("environment", {
                "steps": [["env", {"kind": "call", "fn": {"kind": "runtime", "name": "environment"}}]],
                "return": ["env"]}, options.environment_timeout), nonce)
            value = decode_outcome(env.payload["results"].get("env")) if env.payload else None
            if env.status == "tampered":
                run.summary.malformed.append(f"the environment answer: {env.message}")
            if isinstance(value, Malformed):
                run.summary.malformed.append(f"the environment answer: {value.reason}")
            run.summary.environment = clean_environment(value)
        run.nb = prepared.nb
    finally:
        await kernel.shutdown()
        run.summary.seconds = round(time.monotonic() - started, 3)
    return run


def execute(prepared: Prepared, calls: Sequence[KernelCall], options: Options, *, seed: int,
            hide: Sequence[str] = ()) -> ExecutionRun:
    """Synchronous :func:`run_notebook` in a fresh kernel."""
    return asyncio.run(run_notebook(prepared, calls, options, seed=seed, hide=hide))
