"""The isolated kernel: namespaces, limits, scrubbed environment, private directories.

:func:`detect_isolation` finds once per process what this machine allows;
:class:`Sandbox` lays out one run's directories and launch spec; and
:class:`SandboxKernelManager` starts the kernel through ``jail.py`` on Unix sockets
(jupyter_client's ``ipc`` transport), which cross the kernel's private network
namespace where TCP loopback does not.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session
from platformdirs import user_cache_dir, user_config_dir

from grader.engine import cgroups
from grader.config import CHECKOUT_DIR, PACKAGE_DIR, Options
from grader.errors import SandboxUnavailableError

__all__ = ["Isolation", "detect_isolation", "Sandbox", "SandboxKernelManager", "protected_paths", "MalformedMessage"]

JAIL = str(Path(__file__).with_name("jail.py"))
UNSHARE_FLAGS = ["-n", "-m", "-p", "--fork", "--kill-child", "--mount-proc"]
PASS_ENV = ("PATH", "LD_LIBRARY_PATH", "SYSTEMROOT")


@dataclass(frozen=True)
class Isolation:
    """What confines the kernel on this machine."""

    unshare: tuple[str, ...] = ()
    cgroup_root: str = ""  # pids cgroups go under it
    memory_root: str = ""  # memory cgroups go under it (the same folder on cgroup v2)

    @property
    def cgroup_roots(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for r in (self.cgroup_root, self.memory_root) if r))

    @property
    def namespaces(self) -> bool:
        return bool(self.unshare)

    def describe(self, options: Options) -> dict[str, Any]:
        """Plain data for the report: what is enforced and how."""
        return {
            "namespaces": self.namespaces,
            "network": "private network namespace" if self.namespaces else "Python audit hook only",
            "filesystem": "read-only, private tmpfs, hidden grader files" if self.namespaces else "not confined",
            "memory_limit": options.memory_limit,
            "memory_scope": "the kernel and its children together (cgroup), and each process"
                            if self.memory_root else "each process (RLIMIT_DATA)",
            "process_limit": options.max_processes if self.cgroup_root else None,
        }


def _try(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def detect_isolation(mode: str) -> Isolation:
    """The strongest confinement available; ``mode`` is the ``isolation`` option."""
    if mode == "off" or not sys.platform.startswith("linux"):
        found = Isolation()
    else:
        unshare = shutil.which("unshare")
        found = Isolation()
        if unshare:
            for extra in ([], ["-r"]):
                cmd = [unshare, *extra, *UNSHARE_FLAGS]
                if _try([*cmd, "--", "true"]):
                    found = Isolation(unshare=tuple(cmd)) if extra else Isolation(
                        unshare=tuple(cmd), cgroup_root=cgroups.pids_root(),
                        memory_root=cgroups.memory_root())
                    break
    if mode == "strict" and not found.namespaces:
        raise SandboxUnavailableError(
            "isolation = strict, but this machine cannot create Linux namespaces "
            "(needs `unshare` and root or unprivileged user namespaces); see docs/SECURITY.md")
    return found


@functools.cache
def font_cache_files() -> tuple[str, ...]:
    """Matplotlib's font list, built once so no kernel pays for it; copied into each sandbox."""
    cache = Path(user_cache_dir("d2l-grade")) / "matplotlib"
    if not list(cache.glob("fontlist-*.json")):
        cache.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MPLCONFIGDIR": str(cache), "MPLBACKEND": "Agg"}
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                       capture_output=True, timeout=300)
    return tuple(str(p) for p in cache.glob("fontlist-*.json"))


def protected_paths(extra: Sequence[Path] = (), keep: Sequence[Path] = ()) -> list[str]:
    """What the kernel must not see: solutions, calibrations, the grader's config, and
    ``extra`` (the submissions' folders), except folders holding what it needs (``keep``)."""
    repo = CHECKOUT_DIR
    paths = [repo / "solutions", Path(user_config_dir("d2l-grade"))]
    paths += sorted(PACKAGE_DIR.glob("exercises/*.calibration.json"))
    if os.environ.get("GRADER_CONFIG"):
        paths.append(Path(os.environ["GRADER_CONFIG"]).resolve())
    paths += [Path(p).resolve() for p in extra]
    # Never hide what the kernel itself needs: Python, the data store, temporary files.
    needed = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(tempfile.gettempdir()).resolve(),
              *(Path(p).resolve() for p in keep)]
    safe = [p for p in paths if p.exists() and not any(n == p or p in n.parents for n in needed)]
    return sorted({str(p) for p in safe})


RUN_PREFIX = "d2lg-"
OWNER_FILE = "grader.pid"
_swept = False


def _owner_alive(root: Path) -> bool:
    try:
        os.kill(int((root / OWNER_FILE).read_text()), 0)
    except (OSError, ValueError):
        # No owner file: a run being created right now, or one from before owner files.
        return not (root / OWNER_FILE).exists() and time.time() - root.stat().st_mtime < 3600
    return True


def sweep_stale_runs(cgroup_roots: Sequence[str]) -> None:
    """Once per process: remove the run folders and cgroups of graders that died without
    cleaning up (SIGKILL, out of memory). A run is stale when its grader process is gone."""
    global _swept
    if _swept:
        return
    _swept = True
    for root in Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"):
        try:
            if root.is_dir() and not _owner_alive(root):
                for cgroup_root in cgroup_roots:
                    cgroups.empty(Path(cgroup_root) / root.name)
                shutil.rmtree(root, ignore_errors=True)
        except OSError:
            continue
    for cgroup_root in cgroup_roots:
        for cgroup in Path(cgroup_root).glob(RUN_PREFIX + "*"):
            if not (Path(tempfile.gettempdir()) / cgroup.name).exists():
                cgroups.empty(cgroup)


@dataclass
class Sandbox:
    """One run's private directories and the spec ``jail.py`` launches the kernel with."""

    options: Options
    isolation: Isolation
    hide: list[str] = field(default_factory=list)
    threads: int = 1
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        sweep_stale_runs(self.isolation.cgroup_roots)
        self.root = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        for sub in ("ipc", "sandbox"):
            (self.root / sub).mkdir(mode=0o777)
            os.chmod(self.root / sub, 0o777)
        o = self.options
        # Files in the private tmpfs are charged to the cgroup as memory, hence the disk limit on top.
        memory = o.memory_limit + o.disk_limit
        self.cgroup = cgroups.make(self.isolation.cgroup_root, self.root.name, {"pids.max": o.max_processes})
        self.memory_cgroup = cgroups.make(self.isolation.memory_root, self.root.name, {
            "memory.max": memory, "memory.swap.max": 0,  # v2
            "memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory})  # v1, in this order

    @property
    def sandbox_dir(self) -> Path:
        return self.root / "sandbox"

    @property
    def workdir(self) -> Path:
        return self.sandbox_dir / "work"

    @property
    def ipc_prefix(self) -> str:
        return str(self.root / "ipc" / "kernel")

    def kernel_env(self) -> dict[str, str]:
        """A scrubbed environment: no secret, no grader paths, headless, seeded hashing."""
        home = str(self.sandbox_dir / "home")
        threads = str(self.threads)
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update({
            "HOME": home, "TMPDIR": str(self.sandbox_dir / "tmp"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{home}/.config/matplotlib", "IPYTHONDIR": f"{home}/.ipython",
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
            "JUPYTER_PLATFORM_DIRS": "1", "TQDM_MININTERVAL": "5",
        })
        return env

    def launch_spec(self) -> dict[str, Any]:
        """What ``jail.py`` needs; plain JSON."""
        o = self.options
        # RLIMIT_DATA counts the memory a process writes to (heap, anonymous mappings), not
        # the ~3 GB of address space torch's libraries map read-only, unlike RLIMIT_AS.
        rlimits = {"data": o.memory_limit, "fsize": o.disk_limit, "core": 0,
                   "cpu": int(o.total_timeout * (os.cpu_count() or 1) + 60)}
        if os.geteuid() != 0:
            rlimits["nproc"] = o.max_processes + 64
        copies = [[src, f"home/.config/matplotlib/{Path(src).name}"] for src in font_cache_files()]
        spec: dict[str, Any] = {
            "rlimits": rlimits, "env": self.kernel_env(), "sandbox": str(self.sandbox_dir),
            "ipc_dir": str(self.root / "ipc"), "disk_limit": o.disk_limit, "hide": self.hide,
            "copy": copies, "workdir": str(self.workdir),
            "cgroup_procs": [f"{cgroup}/cgroup.procs" for cgroup in self.cgroups],
            "unshare": list(self.isolation.unshare),
            "runs_dir": self._runs_dir(),
        }
        if not self.isolation.namespaces:
            for src, rel in copies:
                dest = self.sandbox_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            for sub in ("work", "tmp"):
                (self.sandbox_dir / sub).mkdir(exist_ok=True)
        return spec

    def _runs_dir(self) -> str:
        """The folder holding every run (the system's temporary folder), which the jail
        replaces by an empty tmpfs showing only this run, so a kernel never sees another
        kernel's sockets or files; "" when something the kernel needs lives inside it."""
        runs = self.root.parent.resolve()
        needed = [self.options.data_path, Path(sys.prefix), Path(sys.base_prefix), PACKAGE_DIR]
        if any(p.resolve() == runs or runs in p.resolve().parents for p in needed):
            return ""
        return str(runs)

    def confirm_cgroups(self) -> None:
        """Once the kernel runs: forget a cgroup it did not manage to join, so the report
        never claims a limit that does not hold."""
        for attr in ("cgroup", "memory_cgroup"):
            path = getattr(self, attr)
            try:
                joined = bool(path) and bool((Path(path) / "cgroup.procs").read_text().split())
            except OSError:
                joined = False
            if path and not joined:
                cgroups.empty(Path(path))
                setattr(self, attr, "")

    def describe(self) -> dict[str, Any]:
        """What confines this run's kernel, as plain data for the report."""
        found = self.isolation.describe(self.options)
        if not self.cgroup:
            found["process_limit"] = None
        if not self.memory_cgroup:
            found["memory_scope"] = "each process (RLIMIT_DATA)"
        return found

    @property
    def cgroups(self) -> list[str]:
        return list(dict.fromkeys(c for c in (self.cgroup, self.memory_cgroup) if c))

    def memory_kills(self) -> int:
        """Processes of the kernel's cgroup killed so far for going over its memory limit."""
        return cgroups.oom_kills(self.memory_cgroup)

    def kill_stragglers(self) -> None:
        """Kill whatever is left in the run's cgroups (a fork bomb's children)."""
        for cgroup in self.cgroups:
            cgroups.empty(Path(cgroup))

    def cleanup(self) -> None:
        """Remove every trace of the run."""
        self.kill_stragglers()
        shutil.rmtree(self.root, ignore_errors=True)


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


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel started through ``jail.py`` with the sandbox's spec, on Unix sockets."""

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        super().__init__(transport="ipc", ip=sandbox.ipc_prefix, session=CheckedSession(),
                         connection_file=str(sandbox.root / "ipc" / f"kernel-{uuid.uuid4().hex[:8]}.json"),
                         **kwargs)
        self.sandbox = sandbox
        self._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="d2l-grade sandbox", language="python", interrupt_mode="message")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        spec = json.dumps(self.sandbox.launch_spec())
        return [sys.executable, "-I", "-S", JAIL, "outer", spec, "--", *cmd]

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
