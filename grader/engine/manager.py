"""The kernel manager and client of a sandboxed kernel.

:class:`SandboxKernelManager` starts the kernel through ``jail.py`` (with the spec of its
:class:`~grader.engine.sandbox.Sandbox`) on Unix sockets (jupyter_client's ``ipc``
transport), which live in the kernel's own tmpfs and which the grader reaches through
``/proc/<kernel>/root``: TCP loopback would not cross the kernel's private network
namespace. Its session turns every undecodable message into :class:`MalformedMessage`;
its client (:class:`PromptKernelClient`) is ready as soon as the kernel answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session

from grader.engine.sandbox import JAIL, Sandbox

__all__ = ["MalformedMessage", "CheckedSession", "PromptKernelClient", "SandboxKernelManager"]


class MalformedMessage(Exception):
    """The kernel sent something that is not a valid Jupyter message (e.g. the notebook
    replaced ``json.dumps``, which the kernel's messaging uses)."""


class CheckedSession(Session):
    """A session whose decoding failures are one exception the executor handles, never a
    ``KeyError`` or ``ValueError`` from deep inside jupyter_client."""

    def deserialize(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return super().deserialize(*args, **kwargs)
        except Exception as exc:
            raise MalformedMessage(f"{type(exc).__name__}: {exc}") from None


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client with a readiness check that returns as soon as the kernel
    answered and IOPub is connected.

    jupyter_client's own ``wait_for_ready`` ends with 0.2 s of silence on IOPub, a third of
    a forked kernel's start. Waiting for that silence is not needed here: every reader of
    IOPub (nbclient's cells, :meth:`Kernel.request`) keeps only messages whose parent is its
    own request."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # a status message proves our IOPub subscription reaches the kernel
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:  # drop what IOPub holds already, without waiting for more
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel started through ``jail.py`` with the sandbox's spec, on Unix sockets."""

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        super().__init__(transport="ipc", ip=sandbox.ipc_prefix, session=CheckedSession(),
                         connection_file=str(sandbox.root / f"kernel-{uuid.uuid4().hex[:8]}.json"),
                         **kwargs)
        self.sandbox = sandbox
        self.client_factory = PromptKernelClient
        self._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="d2l-grade sandbox", language="python", interrupt_mode="message")

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # jupyter_client checks every 0.1 s whether a killed kernel is gone: a tenth of a
        # second more per kernel than a killed process takes to die.
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        # The kernel reads the connection file at the same path inside its own root.
        spec = json.dumps(self.sandbox.launch_spec(files=[(self.connection_file, self.connection_file)]))
        return [sys.executable, "-I", "-S", JAIL, "launch", spec, "--", *cmd]

    async def start_sandboxed(self) -> None:
        """Start the kernel with its output going to a log file, never to our terminal."""
        log = open(self.sandbox.root / "kernel.log", "ab")
        try:
            await self.start_kernel(stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    env=self.sandbox.kernel_env(), cwd=str(self.sandbox.root))
        finally:
            log.close()

    def log_tail(self, size: int = 2000) -> str:
        """The end of what the kernel process wrote outside the notebook (crash messages)."""
        try:
            data = (self.sandbox.root / "kernel.log").read_bytes()[-size:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace")
