"""The sandboxed kernel as the grader drives it: an nbclient client that keeps the
runtime's events and caps outputs, the kernel's life cycle (start, boot the runtime,
requests, shutdown), one probe's request and answer, and the hard kill of a cell that
ignores its interrupt. :mod:`grader.engine.execute` runs a notebook's cells with it.
"""

from __future__ import annotations

import asyncio
import time
from queue import Empty
from typing import Any, Sequence

import nbformat
from nbclient import NotebookClient

from grader.config import Options, threads_per_worker
from grader.engine.forked import kernel_manager
from grader.engine.runtime import MIME_EVENT, MIME_RESULT, answer_code, boot_code
from grader.engine.manager import MalformedMessage, SandboxKernelManager
from grader.engine.sandbox import Isolation, Sandbox, detect_isolation
from grader.protocol import KernelCall, RawAnswer
from grader.wire import EVENT_BYTES, LIMITS, RUN_EVENT_BYTES, WireError, check_tree, clean_event

__all__ = ["GradingClient", "Kernel", "probe", "kill_after", "MALFORMED"]

MALFORMED = "the kernel sent a malformed message (the notebook tampered with the kernel's messaging); it was stopped"
PRELOAD_DEFAULT: tuple[str, ...] = ()


class GradingClient(NotebookClient):
    """nbclient with output caps, runtime events routed aside, and timeout bookkeeping."""

    def __init__(self, nb: nbformat.NotebookNode, km: SandboxKernelManager, options: Options, **kw: Any) -> None:
        super().__init__(nb, km=km, timeout=int(options.cell_timeout), interrupt_on_timeout=True,
                         allow_errors=True, startup_timeout=int(options.startup_timeout),
                         iopub_timeout=int(options.iopub_timeout), record_timing=False, coalesce_streams=True, **kw)
        self.output_limit = options.output_limit
        self.deadline = float("inf")
        self.cell_timeout = options.cell_timeout
        self.output_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.event_bytes = 0
        self.malformed: list[tuple[int, str]] = []  # (cell index, what the kernel sent that the runtime does not)
        self.timed_out: set[int] = set()
        self.current = -1
        self.timeout_func = self._cell_timeout

    def _cell_timeout(self, cell: nbformat.NotebookNode) -> float:
        return max(1.0, min(self.cell_timeout, self.deadline - time.monotonic()))

    async def _async_handle_timeout(self, timeout: int, cell: nbformat.NotebookNode | None = None) -> Any:
        self.timed_out.add(self.current)
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        data = msg["content"].get("data") or {}
        if not isinstance(data, dict):
            self._refuse(cell_index, f"an output whose data is {type(data).__name__}, not an object")
            return None
        if MIME_EVENT in data:
            self._event(cell_index, data[MIME_EVENT])
            return None
        if MIME_RESULT in data:
            return None  # a result message inside a cell is never an answer
        content = msg["content"]
        size = len(content.get("text", "")) + sum(len(str(v)) for v in data.values())
        used = self.output_bytes.get(cell_index, 0)
        self.output_bytes[cell_index] = used + size
        # The kernel caps its own streams at output_limit and adds a note; this cap is the
        # backstop for a kernel whose caps were removed, so it leaves room for that note.
        room = self.output_limit + 4096 - used
        if size > room:
            if cell_index in self.truncated:
                return None
            self.truncated.add(cell_index)
            if "text" in content and room > 0:
                content["text"] = content["text"][:room]
                super().output(outs, msg, display_id, cell_index)
            outs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"\n[d2l-grade: output beyond {self.output_limit} bytes in this cell was dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


    def _event(self, cell_index: int, raw: Any) -> None:
        """Keep a runtime event's well-formed fields, within the run's budget; record the rest."""
        # each event under EVENT_BYTES, all of a run's events together under RUN_EVENT_BYTES
        event, problems = clean_event(raw, budget=max(0, min(EVENT_BYTES, RUN_EVENT_BYTES - self.event_bytes)))
        for problem in problems:
            self._refuse(cell_index, problem)
        if event:
            self.event_bytes += check_tree(event)
            self.events.setdefault(cell_index, []).append(event)

    def _refuse(self, cell_index: int, problem: str) -> None:
        if len(self.malformed) < 20:
            self.malformed.append((cell_index, problem))


class Kernel:
    """A started sandboxed kernel with the runtime booted: one per submission, never reused."""

    def __init__(self, options: Options, hide: Sequence[str] = (), threads: int = 0) -> None:
        self.options = options
        self.isolation: Isolation = detect_isolation(options.isolation)
        threads = threads or threads_per_worker(1, options.threads)
        self.sandbox = Sandbox(options, self.isolation, hide=list(hide), threads=threads)
        self.km = kernel_manager(self.sandbox)  # forked from the template when forking(options)
        self.client = GradingClient(nbformat.v4.new_notebook(), self.km, options)
        self.started = False
        self.startup_seconds = 0.0

    async def start(self, preload: Sequence[str] = PRELOAD_DEFAULT) -> None:
        """Start the kernel, connect, and boot the runtime (optionally importing ``preload``)."""
        t0 = time.monotonic()
        self.km.preload = tuple(preload)  # a forked kernel's template imports these first
        await self.km.start_sandboxed()
        await self.client.async_start_new_kernel_client()
        self.started = True
        config = {"data_dir": str(self.options.data_path), "output_limit": self.options.output_limit,
                  "network": "namespace" if self.isolation.namespaces else "python-guard",
                  "hide_modules": list(self.options.hide_modules), "threads": self.sandbox.threads,
                  "preload": list(preload)}
        status, _, message = await self.request(boot_code(config),
                                                timeout=max(self.options.boot_timeout, self.options.startup_timeout))
        if status != "ok":
            raise RuntimeError(f"the grader's runtime did not start in the kernel: {message}")
        self.sandbox.confirm_cgroups()
        self.startup_seconds = time.monotonic() - t0

    async def alive(self) -> bool:
        return bool(self.started and await self.km.is_alive())

    async def request(self, code: str, timeout: float) -> tuple[str, list[dict[str, Any]], str]:
        """Execute grader code (not a notebook cell); return status, result payloads, message."""
        kc = self.client.kc
        assert kc is not None
        msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        payloads: list[dict[str, Any]] = []
        error = ""
        reply: dict[str, Any] | None = None
        interrupted_at: float | None = None
        idle = False
        while reply is None or not idle:
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                await self.km.interrupt_kernel()
                interrupted_at = now
            grace = self.options.kill_grace
            if interrupted_at is not None and now > interrupted_at + grace:
                await self.kill()
                return "killed", payloads, f"did not stop {grace:.0f} s after being interrupted; the kernel was killed"
            if not await self.km.is_alive():
                return "dead_kernel", payloads, "the kernel died"
            try:
                msg = await kc.get_iopub_msg(timeout=0.2)
            except Empty:
                msg = None
            except MalformedMessage:
                await self.kill()
                return "tampered", payloads, MALFORMED
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                content = msg["content"]
                data = content.get("data")
                if msg["msg_type"] in ("display_data", "execute_result") and isinstance(data, dict) \
                        and MIME_RESULT in data:
                    payloads.append(data[MIME_RESULT])
                elif msg["msg_type"] == "error":
                    error = f"{content.get('ename')}: {content.get('evalue')}"
                elif msg["msg_type"] == "status" and content.get("execution_state") == "idle":
                    idle = True
            if reply is None:
                try:
                    shell = await kc.get_shell_msg(timeout=0)
                except Empty:
                    shell = None
                except MalformedMessage:
                    await self.kill()
                    return "tampered", payloads, MALFORMED
                if shell is not None and shell["parent_header"].get("msg_id") == msg_id:
                    reply = shell
        if interrupted_at is not None:
            return "timeout", payloads, "interrupted after the time limit"
        status = reply["content"].get("status")
        return ("ok" if status == "ok" else "error"), payloads, error

    async def kill(self) -> None:
        # SIGKILL to the process group: the jail's unshare, whose --kill-child takes the
        # whole pid namespace (kernel and anything it forked) down with it.
        if self.km.provisioner is not None:
            try:
                await self.km.provisioner.kill()
                await asyncio.wait_for(self.km.provisioner.wait(), 5)
            except (OSError, asyncio.TimeoutError):  # already gone, or reaped later by shutdown
                pass

    async def shutdown(self) -> None:
        """Stop the kernel and remove every file of the run."""
        try:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
            if self.started and await self.km.is_alive():
                await self.km.shutdown_kernel(now=True)
            await self.km.cleanup_resources()
        except Exception:
            await self.kill()
        finally:
            self.sandbox.cleanup()


async def probe(kernel: Kernel, call: KernelCall, nonce: str) -> RawAnswer:
    started = time.monotonic()
    request = dict(call.request, nonce=nonce)
    status, payloads, message = await kernel.request(answer_code(request), call.timeout)
    seconds = time.monotonic() - started
    answers = [p for p in payloads if isinstance(p, dict) and p.get("nonce") == nonce]
    if len(answers) > 1 or len(payloads) > len(answers):
        return RawAnswer("tampered", None, "the probe received more than one answer: the notebook "
                         "imitated the grader's messages", seconds)
    if status in ("timeout", "killed", "dead_kernel", "tampered"):
        return RawAnswer(status, None, message, seconds)
    if not answers:
        detail = f" ({message})" if message else ""
        return RawAnswer("no_answer", None, "the probe got no answer from the kernel" + detail, seconds)
    problem = _payload_problem(answers[0])
    if problem:
        return RawAnswer("tampered", None, f"the kernel's answer was malformed: {problem}", seconds)
    return RawAnswer("ok", answers[0], "", seconds)


def _payload_problem(payload: dict[str, Any]) -> str:
    """Why a probe's payload is not what the runtime sends ('' when it is): its values are
    checked one by one when read (:func:`~grader.values.decode_outcome`)."""
    try:
        check_tree(payload, LIMITS)
    except WireError as exc:
        return str(exc)
    results = payload.get("results")
    if not isinstance(results, dict):
        return f"its results are {type(results).__name__}, not an object"
    return ""


async def kill_after(kernel: Kernel, seconds: float, fired: asyncio.Event) -> None:
    """Kill the kernel when a cell outlives its limit plus the grace an interrupt gets."""
    await asyncio.sleep(seconds)
    fired.set()
    await kernel.kill()
