"""`grade calibrate` end to end: it grades the reference solution under distinct seeds
through the normal pipeline and prints (here: does not write) the distribution."""

from __future__ import annotations

import re

import pytest

from grader.checking.calibration import calibration_path
from grader.cli import main

pytestmark = pytest.mark.kernel


def test_calibrate_dry_run_prints_every_metric(capsys: pytest.CaptureFixture[str]) -> None:
    path = calibration_path("activation_comparison")
    before = path.read_text(encoding="utf-8")
    assert main(["calibrate", "activation_comparison", "--runs", "2", "--workers", "2", "--threads", "1",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    metrics = [line.split()[0] for line in out if re.match(r"^\w+ +mean ", line)]
    assert metrics == ["gap", "relu", "sigmoid", "tanh"]
    assert all("(2 runs, min " in line for line in out[:4])
    assert out[4].startswith("budget {'epochs': 60, 'lr': 0.05}, ")
    assert path.read_text(encoding="utf-8") == before


def test_calibrate_refuses_a_single_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "activation_comparison", "--runs", "1", "--dry-run"]) == 2
    assert "calibration needs at least 2 runs" in capsys.readouterr().err


def test_calibrate_unknown_exercise(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "no_such_exercise", "--dry-run"]) == 2
