"""Calibration: band arithmetic, scoring, the file format, staleness, and the committed files."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.checking.calibration import (MIN_SD, Calibration, Stats, calibration_path, check_accuracy, credit, curve,
                                load_calibration, save_calibration, solution_digest, stale_reasons)
from grader.course.calibrate import summarise
from grader.registry import exercises
from grader.values import Missing

REPO = Path(__file__).resolve().parents[2]
TRAINED = [e for e in exercises().values() if e.budget]


def _exercise(**overrides: object) -> SimpleNamespace:
    base = {"id": "toy", "version": "1", "budget": {"epochs": 2, "subset": 100}}
    return SimpleNamespace(**{**base, **overrides})


def _calibration(metrics: dict[str, Stats] | None = None, **overrides: object) -> Calibration:
    base = Calibration(exercise="toy", exercise_version="1", budget={"epochs": 2, "subset": 100},
                       metrics=metrics or {"acc": Stats.of([0.80, 0.82, 0.84])})
    return dataclasses.replace(base, **overrides)


def test_stats_mean_sd_and_band() -> None:
    stats = Stats.of([0.80, 0.82, 0.84])
    assert (stats.mean, stats.sd, stats.runs) == (0.82, 0.02, 3)
    assert stats.low == pytest.approx(0.82 - 3 * 0.02)
    assert stats.high == pytest.approx(0.82 + 3 * 0.02)


def test_stats_band_never_narrower_than_min_sd() -> None:
    stats = Stats.of([0.9, 0.9, 0.9])
    assert stats.sd == 0.0
    assert stats.low == pytest.approx(0.9 - 3 * MIN_SD)


@pytest.mark.parametrize("value, expected", [
    (0.95, 1.0), (0.7, 1.0), (0.4, 0.5), (0.1, 0.0), (0.05, 0.0), (float("nan"), 0.0),
])
def test_credit_is_full_above_the_band_and_linear_to_chance(value: float, expected: float) -> None:
    assert credit(value, low=0.7, chance=0.1) == pytest.approx(expected)


def test_check_accuracy_full_partial_and_chance() -> None:
    cal = _calibration()
    full = check_accuracy("W, b", 0.83, cal, "acc", chance=0.1, evidence="computed here")
    assert full.passed and full.credit == 1.0
    assert full.message == ("W, b: accuracy 0.830 (computed here), within the reference band (reference 0.820 ± "
                            "0.020 over 3 runs, full marks from 0.760, none at chance (0.1))")
    assert full.detail == ""
    assert full.data["measured"] == {"acc": 0.83}
    assert full.data["reference"] == {"mean": 0.82, "sd": 0.02, "runs": 3, "full_at": 0.76}
    assert full.data["evidence"] == "computed here"
    half = check_accuracy("W, b", 0.43, cal, "acc", chance=0.1)
    assert not half.passed and half.credit == pytest.approx(0.5)
    assert half.message.startswith("W, b: accuracy 0.430: below the reference band, 50% of the points (reference")
    none = check_accuracy("W, b", 0.09, cal, "acc", chance=0.1)
    assert none.credit == 0.0
    assert "no better than chance (0.1); the model has not learned the task (reference" in none.message


def test_check_accuracy_without_calibration_records_the_measurement() -> None:
    check = check_accuracy("W, b", 0.8, Missing("no band: run `grade calibrate toy`"), "acc", chance=0.1)
    assert not check.passed and check.credit == 0.0
    assert check.message == "W, b: accuracy 0.800; cannot be scored: no band: run `grade calibrate toy`"
    assert check.data["measured"] == {"acc": 0.8}


def test_file_round_trip(tmp_path: Path) -> None:
    cal = _calibration(seeds=("calibration-1",), solution_digest="abc")
    path = save_calibration(cal, tmp_path)
    assert path == tmp_path / "toy.calibration.json"
    assert Calibration.from_json(path.read_text()) == cal
    with pytest.raises(ValueError, match="malformed calibration file"):
        Calibration.from_json('{"exercise": "toy"}')


def test_load_calibration_missing_stale_and_current(tmp_path: Path) -> None:
    missing = load_calibration(_exercise(), tmp_path)
    assert isinstance(missing, Missing)
    assert "toy.calibration.json is missing: run `grade calibrate toy`" in missing.reason
    save_calibration(_calibration(), tmp_path)
    assert isinstance(load_calibration(_exercise(), tmp_path), Calibration)
    stale = load_calibration(_exercise(budget={"epochs": 3, "subset": 100}), tmp_path)
    assert isinstance(stale, Missing)
    assert "is stale (budget {'epochs': 3, 'subset': 100} != calibrated {'epochs': 2, 'subset': 100})" in stale.reason
    calibration_path("toy", tmp_path).write_text("not json")
    assert "unreadable" in load_calibration(_exercise(), tmp_path).reason


def test_stale_reasons_name_version_budget_and_solution() -> None:
    cal = _calibration(solution_digest="abc")
    assert stale_reasons(cal, _exercise(), "abc") == []
    assert stale_reasons(cal, _exercise(version="2"), "abc") == ["exercise version '2' != calibrated '1'"]
    assert stale_reasons(cal, _exercise(), "def") == [
        "the reference solution's graded cells changed since calibration"]


def test_summarise_requires_every_metric_in_every_run() -> None:
    stats = summarise([{"a": 0.5, "b": 1.0}, {"a": 0.7, "b": 1.0}])
    assert stats["a"].mean == 0.6 and stats["b"].sd == 0.0
    with pytest.raises(ValueError, match=r"measured in some runs only: \['b'\]"):
        summarise([{"a": 0.5, "b": 1.0}, {"a": 0.7}])


def test_curve_band_comes_from_per_epoch_metrics() -> None:
    cal = _calibration({"acc@1": Stats.of([0.6, 0.62]), "acc@2": Stats.of([0.7, 0.7])})
    out = curve("accuracy", [1, 2], [0.61, 0.72], cal, "acc")
    assert out["x"] == [1.0, 2.0] and out["y"] == [0.61, 0.72]
    assert out["band_low"] == [pytest.approx(0.61 - 3 * 0.014142, abs=1e-6), pytest.approx(0.7 - 0.03)]
    assert curve("accuracy", [1, 3], [0.6, 0.7], cal, "acc")["band_low"] is None


def test_solution_digest_covers_graded_and_parameters_cells_only(tmp_path: Path) -> None:
    cells = [{"cell_type": "code", "metadata": {"tags": ["exercise:toy"]}, "source": "x = 1"},
             {"cell_type": "code", "metadata": {}, "source": "print(x)"},
             {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "epochs = 1"}]
    path = tmp_path / "toy.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    before = solution_digest(path, "toy")
    cells[1]["source"] = "print(x + 1)"
    path.write_text(json.dumps({"cells": cells}))
    assert solution_digest(path, "toy") == before
    cells[2]["source"] = "epochs = 2"
    path.write_text(json.dumps({"cells": cells}))
    assert solution_digest(path, "toy") != before


def test_there_are_trained_model_exercises() -> None:
    assert {e.id for e in TRAINED} >= {"softmax_fashion_mnist", "mlp_fashion_mnist", "activation_comparison"}


@pytest.mark.parametrize("exercise", TRAINED, ids=lambda e: e.id)
def test_committed_calibration_matches_the_exercise(exercise: object) -> None:
    """Fails when a trained-model exercise has no calibration file or its budget, version
    or reference solution changed since it was made: run `grade calibrate ID`."""
    path = calibration_path(exercise.id)  # type: ignore[attr-defined]
    assert path.is_file(), f"{path.name} is missing: run `grade calibrate {exercise.id}`"  # type: ignore[attr-defined]
    cal = Calibration.from_json(path.read_text(encoding="utf-8"))
    digest = solution_digest(REPO / "solutions" / f"{exercise.id}.ipynb", exercise.id)  # type: ignore[attr-defined]
    assert stale_reasons(cal, exercise, digest) == []
    assert cal.runs >= 10
    assert all(math.isfinite(s.mean) and s.sd >= 0 for s in cal.metrics.values())
