"""Reference bands for trained-model exercises: measured by the engine, stored, compared.

A trained model's accuracy has no exact expected value: it depends on the seed, the
data subset and the budget. So thresholds come from the reference solution itself.
``grade calibrate ID --runs K`` grades ``solutions/<ID>.ipynb`` K times through the
normal pipeline, each time under its own secret (so hidden subsets, label
permutations and call seeds differ, exactly as between two students), collects what
the tests measured (``TestResult.details["measured"]``, filled by
:func:`check_accuracy`) and stores the distribution beside the exercise module in
``grader/exercises/<ID>.calibration.json`` (hidden from the kernel by the sandbox).

Scoring (:func:`credit`): full credit at or above ``mean - 3 sd``, falling linearly to
0 at chance level. The sd used is never below :data:`MIN_SD` (0.01, one point of
accuracy): with ten runs the sample sd itself is uncertain by about a quarter, a few
quantities have heavier tails than a normal law (a tanh network that now and then
needs more epochs), and a correct solution run under a student's seed on another
machine should not land below the band by bad luck.

A calibration is tied to the exercise's ``version`` and ``budget``; when either
changes the stored file is stale, the ``calibration`` fixture becomes
:class:`~grader.values.Missing` and the exercise's tests fail until it is recalibrated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.checking.checks import Check
from grader.config import PACKAGE_DIR
from grader.values import Missing

__all__ = ["Stats", "Calibration", "MIN_SD", "SIGMAS", "calibration_path", "load_calibration", "save_calibration",
           "solution_digest", "stale_reasons", "credit", "check_accuracy", "curve"]

SIGMAS = 3.0
MIN_SD = 0.01
FORMAT = 1
EXERCISES_DIR = PACKAGE_DIR / "exercises"


@dataclass(frozen=True)
class Stats:
    """The distribution of one measurement over the reference runs."""

    mean: float
    sd: float
    values: tuple[float, ...]

    @property
    def runs(self) -> int:
        return len(self.values)

    @property
    def low(self) -> float:
        """Full credit at or above this value."""
        return self.mean - SIGMAS * max(self.sd, MIN_SD)

    @property
    def high(self) -> float:
        """Upper edge of the band (for plots)."""
        return self.mean + SIGMAS * max(self.sd, MIN_SD)

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Mean and sample standard deviation (0 for a single run)."""
        vals = tuple(float(v) for v in values)
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        return cls(round(statistics.fmean(vals), 6), round(sd, 6), tuple(round(v, 6) for v in vals))


@dataclass(frozen=True)
class Calibration:
    """Reference distribution of an exercise's measurements under its grading budget."""

    exercise: str
    exercise_version: str
    budget: dict[str, Any]
    metrics: dict[str, Stats]
    grader_version: str = ""
    solution_digest: str = ""
    seeds: tuple[str, ...] = ()
    environment: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    format: int = FORMAT

    @property
    def runs(self) -> int:
        return max((s.runs for s in self.metrics.values()), default=0)

    def to_json(self) -> str:
        """The file's text (stable key order, one metric per block)."""
        data = dataclasses.asdict(self)
        data["seeds"] = list(self.seeds)
        for stats in data["metrics"].values():
            stats["values"] = list(stats["values"])
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        """Parse a calibration file; ``ValueError`` when it is malformed."""
        try:
            data = json.loads(text)
            metrics = {k: Stats(float(v["mean"]), float(v["sd"]), tuple(float(x) for x in v["values"]))
                       for k, v in data["metrics"].items()}
            return cls(exercise=str(data["exercise"]), exercise_version=str(data["exercise_version"]),
                       budget=dict(data["budget"]), metrics=metrics, grader_version=str(data.get("grader_version", "")),
                       solution_digest=str(data.get("solution_digest", "")), seeds=tuple(data.get("seeds", ())),
                       environment=dict(data.get("environment", {})), seconds=float(data.get("seconds", 0.0)),
                       format=int(data.get("format", FORMAT)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed calibration file: {exc}") from None


def calibration_path(exercise_id: str, directory: Path | None = None) -> Path:
    """``grader/exercises/<id>.calibration.json``."""
    return (directory or EXERCISES_DIR) / f"{exercise_id}.calibration.json"


def save_calibration(calibration: Calibration, directory: Path | None = None) -> Path:
    """Write the calibration file beside the exercise module; return its path."""
    path = calibration_path(calibration.exercise, directory)
    path.write_text(calibration.to_json(), encoding="utf-8")
    return path


def stale_reasons(calibration: Calibration, exercise: Any, digest: str | None = None) -> list[str]:
    """Why ``calibration`` no longer describes ``exercise`` (empty when it does).
    ``digest``: the reference solution's current :func:`solution_digest`, if known."""
    reasons = []
    if calibration.exercise != exercise.id:
        reasons.append(f"it is for {calibration.exercise!r}, not {exercise.id!r}")
    if calibration.exercise_version != exercise.version:
        reasons.append(f"exercise version {exercise.version!r} != calibrated {calibration.exercise_version!r}")
    if _canonical(calibration.budget) != _canonical(exercise.budget):
        reasons.append(f"budget {exercise.budget} != calibrated {calibration.budget}")
    if digest is not None and calibration.solution_digest != digest:
        reasons.append("the reference solution's graded cells changed since calibration")
    if calibration.format != FORMAT:
        reasons.append(f"file format {calibration.format} != {FORMAT}")
    return reasons


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


def load_calibration(exercise: Any, directory: Path | None = None) -> Calibration | Missing:
    """The exercise's calibration, or :class:`Missing` saying why there is no usable one."""
    path = calibration_path(exercise.id, directory)
    hint = f"run `grade calibrate {exercise.id}`"
    if not path.is_file():
        return Missing(f"the grader has no reference band for {exercise.id} ({path.name} is missing: {hint})")
    try:
        calibration = Calibration.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Missing(f"the grader's reference band for {exercise.id} is unreadable ({exc}): {hint}")
    reasons = stale_reasons(calibration, exercise)
    if reasons:
        return Missing(f"the grader's reference band for {exercise.id} is stale ({'; '.join(reasons)}): {hint}")
    return calibration


def solution_digest(notebook_path: Path, exercise_id: str) -> str:
    """SHA-256 of the code cells tagged ``exercise:<id>`` (and the parameters cell) of a
    reference solution: what calibration measured."""
    data = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    for cell in data.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and (f"exercise:{exercise_id}" in tags or "parameters" in tags):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            digest.update(source.encode("utf-8") + b"\0")
    return digest.hexdigest()


# -- scoring ---------------------------------------------------------------------------

def credit(value: float, low: float, chance: float) -> float:
    """1 at or above ``low``, 0 at or below ``chance``, linear in between."""
    if not math.isfinite(value) or value <= chance:
        return 0.0
    if value >= low or low <= chance:
        return 1.0
    return (value - chance) / (low - chance)


def check_accuracy(name: str, measured: float, calibration: Calibration | Missing, metric: str, *,
                   chance: float, evidence: str = "", what: str = "accuracy") -> Check:
    """The measured value against the reference band of ``metric``.

    The message shows the value, the band and the credit (also for hidden tests: the
    band reveals nothing about hidden inputs); ``data`` records the measurement (for
    calibration) and the band (for reports)."""
    data: dict[str, Any] = {"measured": {metric: round(float(measured), 6)}, "chance": chance}
    if evidence:
        data["evidence"] = evidence
    shown = f"{name}: {what} {measured:.3f}" + (f" ({evidence})" if evidence else "")
    if isinstance(calibration, Missing) or metric not in calibration.metrics:
        reason = calibration.reason if isinstance(calibration, Missing) else f"no reference for {metric!r}"
        return Check(False, f"{shown}; cannot be scored: {reason}", data=data)
    stats = calibration.metrics[metric]
    data["reference"] = {"mean": stats.mean, "sd": stats.sd, "runs": stats.runs, "full_at": round(stats.low, 6)}
    # the band is no secret: it goes in the message, which students see even for hidden tests
    band = f"reference {stats.mean:.3f} ± {stats.sd:.3f} over {stats.runs} runs, full marks from {stats.low:.3f}, " \
           f"none at chance ({chance:g})"
    share = credit(measured, stats.low, chance)
    if share >= 1.0:
        return Check(True, f"{shown}, within the reference band ({band})", data=data)
    if share <= 0.0:
        return Check(False, f"{shown}: no better than chance ({chance:g}); the model has not learned the task "
                            f"({band})", fraction=0.0, data=data)
    return Check(False, f"{shown}: below the reference band, {share:.0%} of the points ({band})", fraction=share,
                 data=data)


def curve(label: str, x: Sequence[float], y: Sequence[float], calibration: Calibration | Missing | None = None,
          metric: str = "") -> dict[str, Any]:
    """A learning curve for reports; the band comes from metrics ``<metric>@<x>``."""
    out: dict[str, Any] = {"label": label, "x": [float(v) for v in x], "y": [float(v) for v in y],
                           "band_low": None, "band_high": None}
    if isinstance(calibration, Calibration) and metric:
        stats = [calibration.metrics.get(f"{metric}@{v:g}") for v in x]
        if all(s is not None for s in stats):
            out["band_low"] = [round(s.low, 6) for s in stats]  # type: ignore[union-attr]
            out["band_high"] = [round(s.high, 6) for s in stats]  # type: ignore[union-attr]
    return out
