"""A Gradescope autograder bundle, and what it runs for each upload.

``build_bundle`` writes ``autograder.zip``, which Gradescope unpacks into
``/autograder/source``::

    setup.sh          run once when the image is built: Python 3.11, CPU torch, the project, the data
    run_autograder    run per upload: grade /autograder/submission, write /autograder/results/results.json
    gradescope.json   what to grade (exercise ids or a homework id), the secret, the grader version
    d2l-grade.toml    grading options (only with --config)
    d2l-grade/        the project's source (pyproject.toml, README.md, grader/)

``run_upload`` is what ``run_autograder`` calls (through ``grade gradescope run``). It
never raises for what a student uploads: no notebook, a file that is not a notebook, a
broken notebook all become a ``results.json`` that says what went wrong and how to fix
it, out of the assignment's points. The ``/autograder`` root is ``$AUTOGRADER_ROOT``
when set, so the whole bundle runs in any folder laid out like Gradescope's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from grader.classroom.graded import Graded, grade_submission
from grader.config import CHECKOUT_DIR, PACKAGE_DIR, Options
from grader.errors import InputError
from grader.pipeline import grader_version
from grader.rounding import show_points
from grader.registry import get_exercise, get_homework
from grader.results import SubmissionResult, TestResult, UnitResult

__all__ = ["BundleConfig", "build_bundle", "autograder_root", "find_upload", "run_upload",
           "TORCH_INDEX", "PINS"]

TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
PINS = {"torch": "2.14.1", "torchvision": "0.29.1", "d2l": "1.0.3"}
PYTHON = "python3.11"
CONFIG_NAME = "gradescope.json"
OPTIONS_NAME = "d2l-grade.toml"
PROJECT_DIR = "d2l-grade"
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}
HOW_TO_SAVE = ("In Jupyter: File > Save, then upload the .ipynb file itself (in Colab: File > Download > "
               "Download .ipynb); not a PDF, a .py export or a screenshot.")


@dataclass
class BundleConfig:
    """What a bundle grades; stored as ``gradescope.json`` inside it."""

    exercises: list[str] = field(default_factory=list)
    homework: str | None = None
    secret: str = ""
    grader_version: str = ""
    built: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``gradescope.json``."""
        return {"exercises": self.exercises, "homework": self.homework, "secret": self.secret,
                "grader_version": self.grader_version, "built": self.built}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleConfig:
        """Read ``gradescope.json``."""
        return cls(list(data.get("exercises") or []), data.get("homework") or None, str(data.get("secret") or ""),
                   str(data.get("grader_version", "")), str(data.get("built", "")))

    @property
    def max_points(self) -> float:
        """The assignment's points: what an upload that cannot be graded is out of."""
        if self.homework:
            return float(get_homework(self.homework).points)
        return float(sum(get_exercise(e).points for e in self.exercises))

    @property
    def what(self) -> str:
        """The assignment in words, for messages."""
        return f"homework {self.homework}" if self.homework else "exercise " + ", ".join(self.exercises)


# -- building ----------------------------------------------------------------------

def _setup_sh() -> str:
    """Gradescope's ``setup.sh``: runs once, as root, on its Ubuntu image."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
# It installs Python 3.11, the CPU build of torch, this bundle's d2l-grade, d2l (no deps)
# and the datasets, verified against their checksums by `grade data fetch`.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive
if ! command -v {PYTHON} >/dev/null || ! {PYTHON} -m venv --help >/dev/null 2>&1; then
    apt-get update
    if ! apt-get install -y --no-install-recommends {PYTHON} {PYTHON}-venv; then
        # Images whose release has no {PYTHON}: take it from the deadsnakes archive.
        apt-get install -y --no-install-recommends software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y --no-install-recommends {PYTHON} {PYTHON}-venv
    fi
fi
{PYTHON} -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${{PIP[@]}}" --upgrade pip
# The CPU wheels first (PyPI's default torch wheel pulls in gigabytes of CUDA).
"${{PIP[@]}}" --index-url {TORCH_INDEX} torch=={PINS['torch']} torchvision=={PINS['torchvision']}
"${{PIP[@]}}" "$SOURCE/{PROJECT_DIR}"
# d2l pins an old numpy but runs on the current one.
"${{PIP[@]}}" --no-deps d2l=={PINS['d2l']}
mkdir -p "$ROOT/data"
GRADER_DATA_DIR="$ROOT/data" "$ROOT/venv/bin/grade" data fetch
GRADER_DATA_DIR="$ROOT/data" "$ROOT/venv/bin/grade" list
"""


def _fallback_json() -> str:
    doc = {"score": 0, "output_format": "text", "tests": [], "output": "@MESSAGE@"}
    return json.dumps(doc).replace('"@MESSAGE@"', '"$MESSAGE"')


def _run_autograder() -> str:
    """Gradescope's ``run_autograder``: runs per upload; always leaves a results.json."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every upload. It grades $ROOT/submission and writes
# $ROOT/results/results.json; whatever happens, a results.json is left behind.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
if [ -x "$ROOT/venv/bin/grade" ]; then
    GRADE="$ROOT/venv/bin/grade"                 # installed by setup.sh
else
    GRADE="$(command -v grade || true)"          # a test or a custom image
fi
if [ -d "$ROOT/data" ]; then
    export GRADER_DATA_DIR="$ROOT/data"
fi
STATUS=127
if [ -n "$GRADE" ]; then
    AUTOGRADER_ROOT="$ROOT" "$GRADE" gradescope run --root "$ROOT"
    STATUS=$?
fi
if [ ! -s "$RESULTS" ]; then
    # The grader itself failed: say so, without blaming the student.
    MESSAGE="The autograder failed (exit code $STATUS) before it could grade your upload. This is not a \\
problem with your work: please tell the course staff; they can rerun the autograder."
    cat > "$RESULTS" <<EOF
{_fallback_json()}
EOF
fi
exit 0
"""


def _project_files(checkout: Path) -> list[tuple[Path, str]]:
    """(file, name in the zip) for the project's source: pyproject, README, the package."""
    if not (checkout / "pyproject.toml").is_file():
        raise InputError(f"{checkout}: no pyproject.toml; `grade gradescope build` needs the d2l-grade source "
                         "checkout (pip install -e .)")
    files = [(checkout / name, f"{PROJECT_DIR}/{name}") for name in ("pyproject.toml", "README.md", "LICENSE")
             if (checkout / name).is_file()]
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if path.is_file() and not SKIP_PARTS & set(rel.parts) and path.suffix not in (".pyc", ".pyo"):
            files.append((path, f"{PROJECT_DIR}/grader/{rel.as_posix()}"))
    return files


def _write_text(zf: zipfile.ZipFile, name: str, text: str, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_bundle(out: Path, *, exercise_ids: Sequence[str] = (), homework_id: str | None = None,
                 secret: str = "", config_file: Path | None = None,
                 checkout: Path = CHECKOUT_DIR) -> BundleConfig:
    """Write the autograder zip ``out`` for these exercises or this homework."""
    if bool(exercise_ids) == bool(homework_id):
        raise InputError("give --exercise ID (repeatable) or --homework ID, not both and not neither")
    for eid in exercise_ids:
        get_exercise(eid)  # unknown ids fail here, listing the known ones
    if homework_id:
        get_homework(homework_id)
    if config_file is not None and not config_file.is_file():
        raise InputError(f"{config_file}: no such config file")
    config = BundleConfig(list(exercise_ids), homework_id, secret, grader_version(),
                          datetime.now(timezone.utc).isoformat(timespec="seconds"))
    files = _project_files(checkout)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _write_text(zf, "setup.sh", _setup_sh(), executable=True)
        _write_text(zf, "run_autograder", _run_autograder(), executable=True)
        _write_text(zf, CONFIG_NAME, json.dumps(config.to_dict(), indent=2) + "\n")
        if config_file is not None:
            _write_text(zf, OPTIONS_NAME, config_file.read_text(encoding="utf-8"))
        for path, name in files:
            zf.write(path, name)
    return config


# -- running on Gradescope ------------------------------------------------------------

def autograder_root(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """``$AUTOGRADER_ROOT``, else ``/autograder``."""
    env = os.environ if environ is None else environ
    return Path(env.get("AUTOGRADER_ROOT") or "/autograder")


def read_config(root: Path) -> BundleConfig:
    """The bundle's ``gradescope.json`` (in ``root/source``)."""
    path = root / "source" / CONFIG_NAME
    try:
        return BundleConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a d2l-grade autograder bundle ({exc})") from None


def options_file(root: Path) -> Path | None:
    """The bundle's grading options, if it has any."""
    path = root / "source" / OPTIONS_NAME
    return path if path.is_file() else None


def find_upload(folder: Path) -> tuple[list[Path], list[str]]:
    """The notebooks uploaded (recursively, checkpoints skipped) and every other file's name."""
    notebooks, others = [], []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        rel = path.relative_to(folder)
        if not path.is_file() or SKIP_PARTS & set(rel.parts) or any(p.startswith(".") for p in rel.parts):
            continue
        if path.suffix == ".ipynb":
            notebooks.append(path)
        else:
            others.append(rel.as_posix())
    return notebooks, others


def _student(root: Path) -> str:
    """The uploader's e-mail (or name) from Gradescope's submission_metadata.json."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        user = (meta.get("users") or [{}])[0]
        return str(user.get("email") or user.get("name") or "")
    except (OSError, ValueError, AttributeError, IndexError, TypeError):
        return ""


def problem_result(config: BundleConfig, title: str, message: str, *, sources: Sequence[str] = (),
                   student: str = "") -> SubmissionResult:
    """A result of one failed test, out of the assignment's points, for an upload not graded."""
    test = TestResult(name=title, score=0.0, max_score=config.max_points, status="failed", message=message)
    unit = UnitResult(id="submission", title="Your upload could not be graded", tests=[test])
    return SubmissionResult(sources=list(sources), units=[unit], student=student)


def _no_notebook_message(config: BundleConfig, others: list[str]) -> str:
    found = ("You uploaded: " + ", ".join(others[:10]) + (" ..." if len(others) > 10 else "") + ". "
             if others else "Nothing was uploaded. ")
    return (f"No Jupyter notebook (.ipynb) in your upload for {config.what}. {found}{HOW_TO_SAVE}")


def _invalid_message(graded: Graded) -> str:
    return (f"Your notebook could not be graded: {graded.message}. Open it in Jupyter to check that it opens and "
            f"runs, save it, and upload it again. {HOW_TO_SAVE}")


def grade_upload(root: Path, config: BundleConfig, options: Options) -> SubmissionResult:
    """Grade ``root/submission``; any upload, however wrong, gives a result."""
    student = _student(root)
    notebooks, others = find_upload(root / "submission")
    if not notebooks:
        return problem_result(config, "submission: a notebook was uploaded", _no_notebook_message(config, others),
                              sources=others, student=student)
    graded = asyncio.run(grade_submission(notebooks, student=student, options=options,
                                          exercise_ids=config.exercises, homework_id=config.homework))
    if graded.result is not None:
        return graded.result
    names = [str(p.relative_to(root / "submission")) for p in notebooks]
    if graded.status == "invalid":
        return problem_result(config, "submission: the notebook can be read", _invalid_message(graded),
                              sources=names, student=student)
    return problem_result(config, "submission: graded", "The autograder failed on your upload (an internal error, "
                          "not a problem with your work); please tell the course staff.", sources=names,
                          student=student)


def _summary(result: SubmissionResult) -> str:
    lines = [f"Total: {show_points(result.score, result.max_score)}"]
    lines += [f"{u.title}: {show_points(u.score, u.max_score)}" for u in result.units]
    return "\n".join(lines)


def run_upload(root: Path, *, options: Options, render: Callable[[SubmissionResult], dict[str, Any]]) -> Path:
    """Grade the upload in ``root`` and write ``root/results/results.json``; returns its path."""
    config = read_config(root)
    if config.secret and not options.secret:
        options = dataclasses.replace(options, secret=config.secret)
    result = grade_upload(root, config, options)
    doc = render(result)
    doc.setdefault("output", _summary(result))
    doc.setdefault("output_format", "text")
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.part")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)  # run_autograder's fallback looks for a complete file only
    return target


def command_line(config: BundleConfig) -> str:
    """The ``grade`` command a TA can run locally to grade like the bundle does."""
    what = ["--homework", config.homework] if config.homework else [a for e in config.exercises
                                                                      for a in ("--exercise", e)]
    return shlex.join(["grade", "NOTEBOOK", *what])
