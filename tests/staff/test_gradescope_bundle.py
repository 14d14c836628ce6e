"""`grade gradescope build`: the bundle's content, and the bundle run end to end in a folder
laid out like Gradescope's (/autograder/{source,submission,results}) via AUTOGRADER_ROOT."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import SOLUTIONS, STUBS

from grader.cli import main
from grader.course.gradescope import BundleConfig, build_bundle, find_upload
from grader.errors import InputError

BIN = Path(sys.executable).parent  # the venv's bin/, where `grade` is installed


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    build_bundle(out, exercise_ids=["broadcasting"], secret="bundle-secret")
    return out


def _layout(bundle: Path, root: Path) -> Path:
    """Unpack as Gradescope does: the zip in root/source, run_autograder copied to root."""
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "ada@example.edu"}]}))
    return root


def _run(root: Path, path_dirs: str) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": path_dirs}
    env.pop("GRADER_SECRET", None)
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_bundle_holds_setup_run_config_and_the_project(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read("gradescope.json"))
    assert {"setup.sh", "run_autograder", "gradescope.json", "d2l-grade/pyproject.toml",
            "d2l-grade/grader/cli.py", "d2l-grade/grader/engine/runtime/base.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1" in setup
    assert "--no-deps d2l==1.0.3" in setup and "grade\" data fetch" in setup and "python3.11 -m venv" in setup
    assert config["exercises"] == ["broadcasting"] and config["homework"] is None
    assert config["secret"] == "bundle-secret"


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give --exercise ID"),
    ({"exercise_ids": ["broadcasting"], "homework_id": "d2l-ch2-5"}, "not both"),
    ({"exercise_ids": ["broadcastin"]}, "unknown exercise 'broadcastin'"),
])
def test_build_refuses_bad_input(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_bundle(tmp_path / "a.zip", **kwargs)
    assert not (tmp_path / "a.zip").exists()


def test_cli_build_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    assert main(["gradescope", "build", "--homework", "d2l-ch2-5", "-o", str(tmp_path / "hw.zip")]) == 0
    out = capsys.readouterr().out
    assert "homework d2l-ch2-5, 100 points" in out and "seeds: public" in out
    assert BundleConfig.from_dict(json.loads(zipfile.ZipFile(tmp_path / "hw.zip").read("gradescope.json"))).homework


def test_upload_listing_skips_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "hw" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "hw" / "a.ipynb").write_text("{}")
    (tmp_path / "hw" / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("x")
    assert find_upload(tmp_path) == ([tmp_path / "hw" / "a.ipynb"], ["notes.txt"])


@pytest.mark.kernel
def test_bundle_grades_solution_stub_and_bad_uploads(bundle: Path, tmp_path: Path) -> None:
    path = f"{BIN}:/usr/bin:/bin"
    cases = {
        "solution": (SOLUTIONS / "broadcasting.ipynb", "broadcasting.ipynb"),
        "stub": (STUBS / "broadcasting.ipynb", "broadcasting.ipynb"),
        "broken": (None, "broadcasting.ipynb"),
        "pdf": (None, "broadcasting.pdf"),
    }
    results = {}
    for case, (source, name) in cases.items():
        root = _layout(bundle, tmp_path / case)
        target = root / "submission" / name
        if source is not None:
            shutil.copy(source, target)
        else:
            target.write_text('{"cells": [' if case == "broken" else "%PDF-1.4")
        results[case] = _run(root, path)
    solution, stub, broken, pdf = (results[c] for c in cases)
    assert (solution["score"], solution["max_score"]) == (9.0, 9.0)
    assert solution["d2l_grade"]["seed_policy"] == "secret"  # the bundle's secret, not the environment's
    assert solution["d2l_grade"]["student"] == "ada@example.edu"
    assert solution["output"].startswith("Total: 9 / 9 (100%)")
    assert all(t["visibility"] for t in solution["tests"])
    assert (stub["score"], stub["max_score"]) == (0.0, 9.0)
    assert len(stub["tests"]) == len(solution["tests"])
    for doc in (broken, pdf):
        assert (doc["score"], doc["max_score"]) == (0.0, 9.0) and len(doc["tests"]) == 1
    assert broken["tests"][0]["output"].startswith("Your notebook could not be graded: ")
    assert "not valid JSON" in broken["tests"][0]["output"] and "upload it again" in broken["tests"][0]["output"]
    assert pdf["tests"][0]["output"].startswith("No Jupyter notebook (.ipynb) in your upload for exercise "
                                                "broadcasting. You uploaded: broadcasting.pdf.")


def test_without_any_grade_run_autograder_still_writes_results(bundle: Path, tmp_path: Path) -> None:
    root = _layout(bundle, tmp_path / "ag")
    doc = _run(root, "/usr/bin:/bin")  # no bundle venv, no grade on PATH
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["output"].startswith("The autograder failed (exit code 127) before it could grade your upload.")


def test_the_bundles_own_install_comes_first(bundle: Path, tmp_path: Path) -> None:
    root = _layout(bundle, tmp_path / "ag")
    fake = root / "venv" / "bin" / "grade"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\n'
                    'echo "{\\"score\\": 1, \\"args\\": \\"$*\\"}" > "$AUTOGRADER_ROOT/results/results.json"\n')
    fake.chmod(0o755)
    doc = _run(root, f"{BIN}:/usr/bin:/bin")
    assert doc == {"score": 1, "args": f"gradescope run --root {root}"}
