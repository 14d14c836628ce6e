"""Every grading option, declared once: type, default, unit and help.

Precedence, lowest first: the defaults below, a TOML config file (``--config FILE``,
else ``$GRADER_CONFIG``, else ``./d2l-grade.toml``), environment variables, then
command-line flags. An exercise may raise its own timeouts; a flag given on the
command line always wins over the exercise.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from platformdirs import user_cache_dir

from grader.errors import ConfigError

__all__ = ["Options", "load_options", "option_fields", "options_reference", "threads_per_worker", "PACKAGE_DIR",
           "CHECKOUT_DIR", "forking", "for_many_notebooks"]

GiB = 1024**3
PACKAGE_DIR = Path(__file__).resolve().parent  # grader/
CHECKOUT_DIR = PACKAGE_DIR.parent  # the source checkout (solutions/, exercises/) when installed editable


def option(default: Any, *, help: str, unit: str = "", env: str = "", flag: bool = True) -> Any:
    """Declare one option: its default, help text, unit and the variable that sets it."""
    return field(default=default, metadata={"help": help, "unit": unit, "env": env, "flag": flag})


def _default_data_dir() -> str:
    return str(Path(user_cache_dir("d2l-grade")) / "data")


@dataclass(frozen=True)
class Options:
    """The options of one grading run. Build with :func:`load_options`."""

    cell_timeout: float = option(300.0, unit="s", help="Longest time one notebook cell may run; it is then interrupted.")
    total_timeout: float = option(1200.0, unit="s", help="Longest time the whole notebook may run, probes included.")
    probe_timeout: float = option(120.0, unit="s", help="Longest time one probe (a call of a student's function) may run.")
    startup_timeout: float = option(60.0, unit="s", help="Longest time to wait for a kernel to start.")
    boot_timeout: float = option(
        120.0, unit="s", flag=False,
        help="Longest time the grader's runtime may take to boot in a started kernel (importing torch "
             "ahead); at least startup_timeout.")
    begin_timeout: float = option(
        60.0, unit="s", flag=False, help="Longest time the runtime may take to set the seeds before a notebook's "
                                         "first cell.")
    environment_timeout: float = option(
        30.0, unit="s", flag=False, help="Longest time to read the kernel's versions and threads after the last cell.")
    kill_grace: float = option(
        10.0, unit="s", flag=False, help="Time an interrupted cell or probe gets to stop before the kernel is killed.")
    iopub_timeout: float = option(
        10.0, unit="s", flag=False, help="Time to wait for a cell's last outputs after it finished (nbclient's "
                                         "iopub_timeout).")
    memory_limit: int = option(4 * GiB, unit="bytes",
                               help="Memory each process of the student's kernel may allocate (data segment, "
                                    "anonymous mappings); with a memory cgroup, the kernel and its children "
                                    "together get this plus disk_limit.")
    max_processes: int = option(256, help="Processes and threads the kernel may have at once (needs cgroups).")
    disk_limit: int = option(2 * GiB, unit="bytes", help="Size of the kernel's private working directory (tmpfs).")
    output_limit: int = option(200_000, unit="bytes", help="Output kept per cell; the rest is dropped and marked.")
    threads: int = option(0, help="Torch/BLAS threads in the kernel; 0 means all cores divided by the workers "
                                  "(at least 1).")
    isolation: str = option("auto", help="'auto' uses Linux namespaces when it can, 'strict' refuses to grade without them, 'off' runs a plain kernel.")
    fork_kernels: str = option("auto", help="'on' forks each kernel from a template process that imported torch, numpy, pandas, matplotlib, d2l and ipykernel once, instead of starting a fresh Python (a fork that fails starts a fresh kernel and the report says so); 'off' never forks; 'auto' forks where one grader grades many notebooks (batch, validate, calibrate), and for a single notebook forks only when a template is already running (else starts a fresh kernel and a template in the background for the next grades).")
    template_idle: int = option(600, unit="s", env="GRADER_TEMPLATE_IDLE", help="How long the kernel template, shared by every grader of this user, stays after its last grader left (0: it exits with its last grader, and a single notebook starts a fresh kernel; CI jobs set it so that nothing outlives them).")
    figures: bool = option(False, help="Keep PNG images of the student's figures (HTML reports turn this on).")
    secret: str = option("", env="GRADER_SECRET", flag=False, help="Instructor secret; hidden inputs and seeds derive from it. Empty means the public seed.")
    show_hidden: bool = option(False, help="Show hidden tests' inputs and expected values in reports. Off by default "
                                         "when a secret is set, so what students see never holds them.")
    data_dir: str = option("", env="GRADER_DATA_DIR", help="Data store holding the course's datasets (default: a per-user cache directory).")
    hide_modules: tuple[str, ...] = option((), flag=False, help="Modules the kernel must not import (tests use it to simulate a missing d2l).")
    explicit: frozenset[str] = option(frozenset(), flag=False, help="Names of the options given as command-line flags.")
    config_path: str = option("", flag=False, help="The config file these options were read from (hidden from kernels).")

    @property
    def seed_policy(self) -> str:
        """'secret' for instructors, 'public' for students checking locally."""
        return "secret" if self.secret else "public"

    @property
    def data_path(self) -> Path:
        """The data store's directory."""
        return Path(self.data_dir or _default_data_dir()).expanduser()

    def with_overrides(self, overrides: Mapping[str, Any]) -> Options:
        """Apply an exercise's own limits, except where a flag was given."""
        keep = {k: v for k, v in overrides.items() if k not in self.explicit}
        return dataclasses.replace(self, **keep) if keep else self


def threads_per_worker(workers: int = 1, threads: int = 0) -> int:
    """Torch/BLAS threads for each of ``workers`` kernels running at once: ``threads`` when
    given (the option), else the machine's cores shared between them, at least one."""
    if threads > 0:
        return threads
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def option_fields() -> list[dataclasses.Field[Any]]:
    """The options a user may set, in declaration order."""
    return [f for f in dataclasses.fields(Options) if f.name not in ("explicit", "config_path")]


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    try:
        if kind in ("bool", bool):
            if isinstance(raw, str):
                return raw.strip().lower() in {"1", "true", "yes", "on"}
            return bool(raw)
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind in ("tuple[str, ...]",):
            return tuple(raw.split(",")) if isinstance(raw, str) else tuple(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {name!r}: cannot use {raw!r} ({exc})") from None


def _config_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if path:
        return Path(path)
    if env.get("GRADER_CONFIG"):
        return Path(env["GRADER_CONFIG"])
    local = Path("d2l-grade.toml")
    return local if local.is_file() else None


def load_options(
    *, config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Options:
    """Merge defaults, config file, environment and flags into one :class:`Options`."""
    env = os.environ if env is None else env
    fields = {f.name: f for f in option_fields()}
    values: dict[str, Any] = {}
    path = _config_file(config_file, env)
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        table = table.get("grader", table)
        for key, raw in table.items():
            name = key.replace("-", "_")
            if name not in fields:
                raise ConfigError(f"config file {path}: unknown option {key!r}")
            values[name] = _coerce(name, fields[name].type, raw)
    for name, f in fields.items():
        var = f.metadata["env"]
        if var and env.get(var):
            values[name] = _coerce(name, f.type, env[var])
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    for name, raw in given.items():
        if name not in fields:
            raise ConfigError(f"unknown option {name!r}")
        values[name] = _coerce(name, fields[name].type, raw)
    if values.get("isolation", "auto") not in {"auto", "strict", "off"}:
        raise ConfigError(f"isolation must be auto, strict or off, not {values['isolation']!r}")
    if values.get("fork_kernels", "auto") not in {"auto", "on", "off"}:
        raise ConfigError(f"fork_kernels must be auto, on or off, not {values['fork_kernels']!r}")
    return Options(**values, explicit=frozenset(given), config_path=str(path.resolve()) if path else "")


def options_reference() -> str:
    """Markdown table of every option, generated from the declarations above."""
    rows = ["| option | default | unit | flag / variable | meaning |", "|---|---|---|---|---|"]
    for f in option_fields():
        default = f.default if f.name != "data_dir" else "per-user cache"
        how = []
        if f.metadata["flag"]:
            how.append(f"`--{f.name.replace('_', '-')}`")
        if f.metadata["env"]:
            how.append(f"`${f.metadata['env']}`")
        rows.append(f"| `{f.name}` | `{default!r}` | {f.metadata['unit']} | {' '.join(how)} | {f.metadata['help']} |")
    return "\n".join(rows) + "\n"


def forking(options: Options | None) -> bool:
    """Whether kernels are forked from the template (``fork_kernels`` on, or a bool True)."""
    return getattr(options, "fork_kernels", "off") in (True, "on")


def for_many_notebooks(options: Options) -> Options:
    """``options`` for a grader that grades many notebooks: 'auto' forking turns on."""
    return dataclasses.replace(options, fork_kernels="on") if options.fork_kernels == "auto" else options
