"""One class with attackers in it, graded end to end through the CLI: every other student
is graded correctly, every upload gets a row saying what it is, and the exports and the
HTML reports are written for every row.

The class (20 uploads, 17 kernels, cheap exercises, 2 workers):

* alice, bob, carol and s01 ... s11: the broadcasting, comparison_ops and frobenius
  solutions (full marks);
* mallory: replaces the runtime's send path in her kernel, so that every answer is forged
  (results as a list, an ``.npy`` header claiming 8 PiB, a list nested 600 deep, a module
  that is an integer) and publishes forged events (a figure with ``lines: [5]``, a figure
  that is a string, ``network`` an integer, a model notice that is not an object, a 6 MB event);
* ``alice~smith`` and ``alice_smith``: ids that an unsafe export name would merge; the
  first also holds a cell ``1+1+...`` of 6000 terms;
* ``zz_claim``: claims to be alice in its metadata (``--student-from metadata``);
* ``eve/``: a symbolic link to the broadcasting solution;
* ``notes.txt``: not a notebook.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classroom.gradebook import open_gradebook
from hostile_kit import BROADCAST, TAG
from nbfactory import code, notebook, write

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
FAST = ["--cell-timeout", "10", "--probe-timeout", "30", "--total-timeout", "120", "--threads", "1"]

FORGE = r'''
import base64, struct, sys
rt = sys.modules["_d2lgrade_runtime"]
real = rt._ORIG["publish"]
head = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1048576, 1048576, 1024), }"
EIGHT_PIB = base64.b64encode(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + b"\0" * 8).decode()
count = [0]

def deep():
    value = []
    for _ in range(600):
        value = [value]
    return value

def forged(data, metadata=None, **kw):
    for mime, payload in data.items():
        if mime == rt.MIME_RESULT and isinstance(payload, dict) and isinstance(payload.get("results"), dict):
            names = list(payload["results"])
            if names == ["env"]:  # the environment() answer
                payload["results"] = list(payload["results"].values())
                continue
            count[0] += 1
            payload["results"] = [
                {n: {"ok": {"__array__": EIGHT_PIB, "framework": "numpy", "dtype": "float64"}} for n in names},
                {n: {"ok": deep()} for n in names},
                {n: {"ok": {"__module__": 5}} for n in names},
            ][count[0] % 3]
    return real(data=data, metadata=metadata or {}, **kw)

rt._ORIG["publish"] = forged
real(data={rt.MIME_EVENT: {"figures": [{"axes": [{"lines": [5]}]}, "not a figure"], "network": 7,
                           "models": ["trained"]}}, metadata={})
real(data={rt.MIME_EVENT: {"errors": ["x" * 6_000_000]}}, metadata={})
'''


CORRECT = {"alice": "broadcasting", "bob": "comparison_ops", "carol": "frobenius",
           **{f"s{i:02d}": ("broadcasting", "comparison_ops", "frobenius")[i % 3] for i in range(1, 12)}}


def tiny(path: Path, *cells: str, student: str | None = None) -> Path:
    meta = {"d2l_grade": {"exercises": ["broadcasting"], **({"student": student} if student else {})}}
    return write(notebook([code("x3 = 1", TAG), *map(code, cells)], metadata=meta), path)


def make_class(root: Path) -> Path:
    root.mkdir(parents=True)
    for student, exercise in CORRECT.items():
        shutil.copyfile(SOLUTIONS / f"{exercise}.ipynb", root / f"{student}.ipynb")
    write(notebook([code(FORGE), code(BROADCAST, TAG)], exercises=["broadcasting"]), root / "mallory.ipynb")
    tiny(root / "alice~smith.ipynb", "x = " + "+".join(["1"] * 6000))
    tiny(root / "alice_smith.ipynb")
    tiny(root / "zz_claim.ipynb", student="alice")
    (root / "eve").mkdir()
    os.symlink(SOLUTIONS / "broadcasting.ipynb", root / "eve" / "hw.ipynb")
    (root / "notes.txt").write_text("see attached")
    return root


def grade(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SECRET"}
    env.update(PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "grader", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=REPO)


def test_a_class_with_attackers(tmp_path: Path) -> None:
    root = make_class(tmp_path / "class")
    db = str(tmp_path / "gb.sqlite")
    batch = grade("batch", str(root), "--db", db, "--workers", "2", "--student-from", "metadata", *FAST)
    assert batch.returncode == 0, batch.stderr[-3000:]
    assert "Traceback" not in batch.stderr

    with open_gradebook(db) as book:
        rows = {s.student: s for s in book.submissions()}
    assert sorted(rows) == sorted([*CORRECT, "alice_smith", "alice~smith", "eve", "mallory", "notes.txt", "zz_claim"])
    assert len(rows) == 20
    for student in CORRECT:
        assert (rows[student].status, rows[student].score) == ("graded", rows[student].max_score), student
        assert rows[student].max_score
    assert {s: (r.status, r.message) for s, r in rows.items() if r.status == "invalid"} == {
        "eve": ("invalid", f"eve/: holds a symbolic link leaving the folder (eve/hw.ipynb -> "
                           f"{SOLUTIONS / 'broadcasting.ipynb'}); refused: upload the files themselves"),
        "notes.txt": ("invalid", "notes.txt: is not a notebook (.ipynb)"),
        "zz_claim": ("invalid", "zz_claim.ipynb: its metadata claims student id 'alice', which belongs to another "
                                "upload (alice.ipynb); not graded under that id (--trust-metadata accepts such claims)"),
    }
    # Distinct rows and distinct export names; the 6000-term cell is only a cell error.
    assert rows["alice~smith"].status == rows["alice_smith"].status == "graded"
    assert rows["alice~smith"].score == rows["alice_smith"].score

    mallory = rows["mallory"]
    assert (mallory.status, mallory.outcome, mallory.score) == ("graded", "completed", 0.0)
    assert mallory.result is not None
    run = mallory.result.executions[0]
    refused = "\n".join(run.malformed)
    assert run.malformed[0].startswith("code cell 1: ")  # the forging cell
    for problem in ("malformed figure from the kernel: axes[0].lines[0]: is an integer, not an object",
                    "malformed figure from the kernel: is a string, not an object",
                    "event field 'network' was dropped: network: is an integer, not a list",
                    "event field 'models' was dropped: models[0]: is a string, not an object",
                    "bytes was dropped (over the cap of 4,194,304)"):
        assert problem in refused
    assert "the environment answer: the kernel's answer was malformed: its results are list, not an object" in refused
    forged = {"the probe's answer could not be read: __array__: .npy header claims 9,007,199,254,740,992 bytes, "
              "over the cap of 268,435,456",
              "the kernel's answer was malformed: nested deeper than 64 levels",
              "the probe's answer could not be read: __module__: a module is not an object"}
    failed = [t.message for t in mallory.result.tests if t.max_score]
    assert failed and all(m in forged for m in failed), failed

    export = grade("export", "--db", db, "--csv", str(tmp_path / "grades.csv"), "--gradescope",
                   str(tmp_path / "gs"), "--junit", str(tmp_path / "ci.xml"))
    assert export.returncode == 0, export.stderr[-3000:]
    sheet = list(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    assert sorted(r["student"] for r in sheet) == sorted(rows)
    names = [*CORRECT, "alice_smith", "alice~7esmith", "eve", "mallory", "notes.txt", "zz_claim"]
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == sorted(names)
    for folder in (tmp_path / "gs").iterdir():
        json.loads((folder / "results.json").read_text(encoding="utf-8"))

    report = grade("report", "--db", db, "--html", str(tmp_path / "html"))
    assert report.returncode == 0, report.stderr[-3000:]
    pages = sorted(p.name for p in (tmp_path / "html").iterdir())
    assert pages == sorted(f"{n}.html" for n in names)
    assert "notes.txt: is not a notebook (.ipynb)" in (tmp_path / "html" / "notes.txt.html").read_text()
