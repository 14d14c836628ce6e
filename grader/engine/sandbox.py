"""The isolated kernel: namespaces, an allow-listed root, limits, a scrubbed environment.

:func:`detect_isolation` finds once per process what this machine allows (by starting a
tiny jailed process each way, strongest first); :func:`allowed_paths` is the allow-list
of what a kernel may read; :class:`Sandbox` lays out one run's folders and launch spec;
and the kernel manager (``manager.py``) starts the kernel through ``jail.py``. docs/SECURITY.md states what each piece guarantees.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from platformdirs import user_cache_dir, user_config_dir

from grader.engine import cgroups
from grader.config import CHECKOUT_DIR, PACKAGE_DIR, Options
from grader.errors import SandboxUnavailableError

__all__ = ["Isolation", "detect_isolation", "allowed_paths", "Sandbox", "protected_paths", "JAIL", "PASS_ENV", "OPENMP_ENV"]

JAIL = str(Path(__file__).with_name("jail.py"))
PASS_ENV = ("PATH", "LD_LIBRARY_PATH", "SYSTEMROOT")
# How long an idle OpenMP thread of torch spins before it sleeps. libgomp's default (300,000
# spins) made a homework with two threads take 585 s instead of 21 s while another process
# kept one of the two cores busy (each barrier waits for a thread that is not running);
# with 1,000 it took 29 s, and the same 15-16 s as the default on an idle machine.
OPENMP_ENV = {"GOMP_SPINCOUNT": "1000"}
# What every kernel sees read-only besides Python and the data store: system libraries
# and programs, the CPU topology torch reads, and the few /etc files the dynamic loader,
# the C library and Python's time and MIME modules read. Missing ones are skipped.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/sys/devices/system/cpu", "/sys/devices/system/node")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "alternatives",
             "mime.types")
KERNEL_HOME = "/home/student"  # inside the kernel's root (with namespaces)
PROBE_CODE = "import os; print(os.getuid())"


@dataclass(frozen=True)
class Isolation:
    """What confines the kernel on this machine (found once by :func:`detect_isolation`)."""

    namespaces: bool = False      # mount, PID, network, IPC, UTS namespaces and the allow-list root
    user_namespace: bool = False  # and a user namespace (else: root sets an unprivileged host uid)
    cgroup_root: str = ""  # pids cgroups go under it
    memory_root: str = ""  # memory cgroups go under it (the same folder on cgroup v2)
    note: str = ""         # why confinement is weaker than it could be, when it is

    @property
    def cgroup_roots(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for r in (self.cgroup_root, self.memory_root) if r))

    def describe(self, options: Options) -> dict[str, Any]:
        """Plain data for the report: what is enforced and how."""
        if self.user_namespace:
            outside = "an unprivileged uid of its own" if os.geteuid() == 0 else "the grader's own uid"
            privileges = (f"uid 1000 in a user namespace ({outside} outside, host root not mapped), "
                          "no capabilities, no_new_privs")
        elif self.namespaces:
            privileges = "an unprivileged host uid (no user namespace), no capabilities, no_new_privs"
        else:
            privileges = "the grader's own user"
        found = {
            "namespaces": self.namespaces,
            "user_namespace": self.user_namespace,
            "privileges": privileges,
            "network": "private network namespace" if self.namespaces else "Python audit hook only",
            "filesystem": ("allow-list root: Python, data store, system libraries read-only; private tmpfs"
                           if self.namespaces else "not confined"),
            "memory_limit": options.memory_limit,
            "memory_scope": "the kernel and its children together (cgroup), and each process"
                            if self.memory_root else "each process (RLIMIT_DATA)",
            "process_limit": options.max_processes if self.cgroup_root else None,
        }
        if self.note:
            found["note"] = self.note
        return found


def _probe(user_namespace: bool) -> str:
    """Start a tiny jailed process as a kernel would be; "" if it ran confined, else why not."""
    box = Sandbox(Options(), Isolation(namespaces=True, user_namespace=user_namespace))
    try:
        spec = box.launch_spec(fonts=False)
        cmd = [sys.executable, "-I", "-S", "-c", PROBE_CODE]
        done = subprocess.run([sys.executable, "-I", "-S", JAIL, "launch", json.dumps(spec), "--", *cmd],
                              capture_output=True, text=True, timeout=60, cwd=box.root, env=spec["env"])
        report = box.jail_report()
        if done.returncode != 0 or done.stdout.strip() in ("", "0") or report.get("capabilities") != "none":
            return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return ""
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    finally:
        box.cleanup()


@functools.cache
def detect_isolation(mode: str) -> Isolation:
    """The strongest confinement available; ``mode`` is the ``isolation`` option. Each way
    of starting a kernel is tried for real, strongest first."""
    if mode == "off" or not sys.platform.startswith("linux"):
        return Isolation(note="isolation = off" if mode == "off" else "not Linux: no namespaces")
    cgroup_roots = {"cgroup_root": cgroups.pids_root(), "memory_root": cgroups.memory_root()}
    refused = _probe(user_namespace=True)
    if not refused:
        return Isolation(namespaces=True, user_namespace=True, **cgroup_roots)
    note = f"no user namespace ({refused})"
    if os.geteuid() == 0:
        refused = _probe(user_namespace=False)
        if not refused:
            return Isolation(namespaces=True, note=note + "; the kernel runs as an unprivileged host uid",
                             **cgroup_roots)
    if mode == "strict":
        raise SandboxUnavailableError(
            "isolation = strict, but this machine cannot create Linux namespaces "
            f"({note}; needs root or unprivileged user namespaces); see docs/SECURITY.md")
    return Isolation(note=f"{note}; no namespaces: files are not confined", **cgroup_roots)


def allowed_paths(data_path: Path) -> list[str]:
    """What the kernel may see (read-only): system paths, Python (the venv and the
    installation it comes from, as given and resolved), the data store. No entry lies
    inside another; symlinked entries bring their resolved target along."""
    python = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, str(data_path)}
    wanted = [*SYSTEM_PATHS, *(f"/etc/{name}" for name in ETC_FILES)]
    wanted += [p for path in sorted(python) for p in (os.path.abspath(path), os.path.realpath(path))]
    wanted += [os.path.realpath(p) for p in wanted if os.path.islink(p)]
    kept: list[str] = []
    for path in sorted({p for p in wanted if os.path.lexists(p)}, key=lambda p: (p.count("/"), p)):
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


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
    """One run's private directories and the spec ``jail.py`` launches the kernel with.

    On the host, the run folder ``RUN`` (under the system's temporary folder, owned by the
    grader) holds the connection file, the kernel's log and ``jail.json`` (what the jail
    confirmed); with namespaces ``RUN/ipc`` is a symlink into the kernel's own root, where
    its sockets live, and ``RUN/sandbox`` is only the mount point the jail builds that root on.
    """

    options: Options
    isolation: Isolation
    hide: list[str] = field(default_factory=list)
    threads: int = 1
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        sweep_stale_runs(self.isolation.cgroup_roots)
        self.root = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.sandbox_dir.mkdir()
        self._jail_report: dict[str, Any] = {}
        if not self.isolation.namespaces:  # the kernel works in host folders
            for folder in (self.root / "ipc", self.workdir, Path(self.tmpdir), Path(self.home)):
                folder.mkdir(parents=True, exist_ok=True)
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
    def home(self) -> str:
        """The kernel's HOME, as the kernel sees it."""
        return KERNEL_HOME if self.isolation.namespaces else str(self.sandbox_dir / "home")

    @property
    def tmpdir(self) -> str:
        return "/tmp" if self.isolation.namespaces else str(self.sandbox_dir / "tmp")

    @property
    def workdir(self) -> Path:
        """The kernel's working directory, as the kernel sees it."""
        return Path(self.home, "work") if self.isolation.namespaces else self.sandbox_dir / "work"

    @property
    def ipc_dir(self) -> Path:
        return self.root / "ipc"

    @property
    def ipc_prefix(self) -> str:
        return str(self.ipc_dir / "kernel")

    def kernel_env(self) -> dict[str, str]:
        """A scrubbed environment: no secret, no grader paths, headless, seeded hashing."""
        home = self.home
        threads = str(self.threads)
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update({
            "HOME": home, "TMPDIR": self.tmpdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "USER": "student", "LOGNAME": "student",
            "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{home}/.config/matplotlib", "IPYTHONDIR": f"{home}/.ipython",
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
            "JUPYTER_PLATFORM_DIRS": "1", "TQDM_MININTERVAL": "5", **OPENMP_ENV,
        })
        return env

    def launch_spec(self, files: Sequence[tuple[str, str]] = (), fonts: bool = True) -> dict[str, Any]:
        """What ``jail.py`` needs, plain JSON. ``files``: (host path, path in the kernel's
        root) copied in, such as the connection file."""
        o = self.options
        # RLIMIT_DATA counts the memory a process writes to (heap, anonymous mappings), not
        # the ~3 GB of address space torch's libraries map read-only, unlike RLIMIT_AS.
        rlimits = {"data": o.memory_limit, "fsize": o.disk_limit, "core": 0,
                   "cpu": int(o.total_timeout * (os.cpu_count() or 1) + 60)}
        nproc = o.max_processes + 64  # a backstop to the pids cgroup; counts threads too
        copies = [(src, f"{self.home}/.config/matplotlib/{Path(src).name}") for src in
                  (font_cache_files() if fonts else ())]
        spec: dict[str, Any] = {
            "rlimits": rlimits, "env": self.kernel_env(), "workdir": str(self.workdir),
            "cgroup_procs": [f"{cgroup}/cgroup.procs" for cgroup in self.cgroups],
            "namespaces": self.isolation.namespaces, "user_namespace": self.isolation.user_namespace,
        }
        if not self.isolation.namespaces:
            if os.geteuid() != 0:  # per user: only meaningful when the grader is not root
                rlimits["nproc"] = nproc
            for src, dest in copies:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            return spec
        spec.update({
            "run_root": str(self.root), "staging": str(self.sandbox_dir), "ipc_dir": str(self.ipc_dir),
            "disk_limit": o.disk_limit, "nproc": nproc, "home": self.home,
            "read_only": allowed_paths(o.data_path), "hide": self.hide,
            "writable": [["/tmp", 0o1777], ["/dev/shm", 0o1777], [self.home, 0o700], [str(self.workdir), 0o700],
                         [str(self.ipc_dir), 0o700]],
            "files": [list(pair) for pair in (*copies, *files)],
            "etc": {"hostname": "sandbox\n", "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n"},
        })
        return spec

    def jail_report(self) -> dict[str, Any]:
        """What the jail confirmed before starting the kernel (``{}`` if nothing yet)."""
        if not self._jail_report:
            try:
                self._jail_report = json.loads((self.root / "jail.json").read_text())
            except (OSError, ValueError):
                return {}
        return self._jail_report

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
        """What confines this run's kernel, as plain data for the report: the machine's
        isolation, corrected by what this kernel's jail and cgroups confirmed."""
        found = self.isolation.describe(self.options)
        if self.isolation.namespaces:
            jail = self.jail_report()
            if not jail:
                found["note"] = "the jail did not confirm its set-up (the kernel did not start)"
            for key in ("uid", "gid", "groups", "capabilities", "proc", "proc_sys"):
                if key in jail:
                    found[f"kernel_{key}" if key in ("uid", "gid", "groups") else key] = jail[key]
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
