"""`grade batch --dask`: the same grading on a Dask cluster started here (2 worker
processes); results come back to the one gradebook writer."""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

import pytest

from classroom import REPO, SOLUTIONS, tiny
from grader.classroom.batch import grade_batch
from grader.classroom.gradebook import open_gradebook

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.kernel


def test_batch_on_a_local_dask_cluster(tmp_path: Path, options, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "class"
    tiny(folder / "alice.ipynb", 1)
    (folder / "bob").mkdir(parents=True)
    (folder / "bob" / "sin.ipynb").write_bytes((SOLUTIONS / "sin_derivative.ipynb").read_bytes())
    (folder / "carol.ipynb").write_text("not a notebook", encoding="utf-8")
    # Worker processes import this checkout's grader, as a real cluster's workers import their install.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    db = tmp_path / "gb.sqlite"
    options = dataclasses.replace(options, figures=True)  # as the CLI sets them for later reports
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit=0) as cluster:
        summary = grade_batch(folder, db=db, options=options, dask_address=cluster.scheduler_address)
        assert (summary.backend, summary.graded, summary.invalid, summary.errors) == ("dask", 2, 1, 0)
        again = grade_batch(folder, db=db, options=options, dask_address=cluster.scheduler_address)
        assert (again.graded, again.done_before) == (0, 3)

    with open_gradebook(db) as book:
        subs = {s.student: s for s in book.submissions()}
        assert sorted(subs) == ["alice", "bob", "carol"]
        assert (subs["alice"].status, subs["alice"].score, subs["alice"].max_score) == ("graded", 0.0, 9.0)
        bob = subs["bob"]
        assert (bob.status, bob.outcome, bob.score, bob.max_score) == ("graded", "completed", 8.0, 8.0)
        assert bob.result is not None
        # The worker's temporary copies never show: paths are the submitted files'.
        assert bob.result.sources == [str(folder / "bob" / "sin.ipynb")]
        assert bob.result.executions[0].source_file == str(folder / "bob" / "sin.ipynb")
        figure = bob.result.units[0].extra["figures"][0]
        assert base64.b64decode(figure["png"]).startswith(b"\x89PNG")  # made on the worker, carried back
        assert subs["carol"].status == "invalid" and "is not valid JSON" in subs["carol"].message
        assert [r["backend"] for r in book.runs()] == ["dask", "dask"]
