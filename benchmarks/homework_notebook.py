"""Grading a complete homework notebook against executing it plainly, in one run.

    python benchmarks/homework_notebook.py [--epochs 10] [--keep DIR] [--no-plain]

Builds a complete book-style homework for d2l-ch2-5 from the tests' builders
(``tests/homework/book.py``, ``answers.py``): every section's book code, a discussion
per section, six exercises answered, and the book's real trainings (``max_epochs = 10``
in an untagged cell, so the grader injects no budget; the book's DataLoader with
``num_workers=4``). Then, one after the other:

* ``grade NOTEBOOK --homework d2l-ch2-5 --json`` (sandboxed kernel, probes, every model
  measured on the 10,000 test images);
* the same notebook executed by plain nbclient, with Fashion-MNIST where the book expects
  it (``../data/FashionMNIST/raw/``, idx files decompressed from the data store) and the
  network off (``unshare -n`` with only loopback up, when available).

Prints both wall times (process start included) and the ratio grade / plain (target
<= 0.15, issue 13: the grader's runtime serves the book's DataLoader from memory, a batch
at a time, so grading costs little more than the trainings' arithmetic). The machine may
be shared: the load average is printed before and after. A benchmark asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "homework")]

from answers import RIGHT, cells as answer_cells  # noqa: E402
from book import TITLES, homework_cells  # noqa: E402
from nbfactory import code, notebook, write  # noqa: E402

from grader.config import load_options  # noqa: E402

HOMEWORK = "d2l-ch2-5"
NOTE = "We re-ran the book's code and compared the outputs with the text; the shapes and values agree."
EXERCISES = {"2.1": ["2.1-1", "2.1-2"], "2.5": ["2.5-4"], "3.2": ["3.2-2"], "3.4": ["3.4-2", "3.4-3"],
             "5.1": ["5.1-act"]}
TARGET = 0.15  # grade / plain (issue 13)
FASHION = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

PLAIN = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=3600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
print(len(errors), *(f"{o['ename']}: {o['evalue'][:80]}" for o in errors[:3]), sep="\\n")
"""


def build(work: Path, epochs: int) -> Path:
    """The homework notebook in ``work/hw/``, Fashion-MNIST in ``work/data/FashionMNIST/raw/``."""
    extra = {s: [c for e in ids for c in answer_cells(RIGHT, e)] for s, ids in EXERCISES.items()}
    cells = homework_cells(list(TITLES), discussions=dict.fromkeys(TITLES, NOTE), extra=extra, parameters=False)
    cells.insert(1, code(f"max_epochs = {epochs}"))  # not tagged `parameters`: the grader injects nothing
    path = write(notebook(cells), work / "hw" / "hw.ipynb")
    store = load_options().data_path / "fashion-mnist"
    raw = work / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FASHION:
        with gzip.open(store / f"{name}.gz") as src, open(raw / name, "wb") as dest:
            shutil.copyfileobj(src, dest)
    return path


def _offline(argv: list[str]) -> tuple[list[str], str]:
    """``argv`` in a new network namespace with only loopback up (the kernel talks over it)."""
    if shutil.which("unshare") and shutil.which("ip") and \
            subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        inner = "ip link set lo up && exec " + " ".join(map(shlex.quote, argv))
        return ["unshare", "-n", "sh", "-c", inner], "network off (unshare -n)"
    return argv, "network on (unshare -n not available)"


def grade(path: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", str(path), "--homework", HOMEWORK, "--json"],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"grade failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout)


def plain(path: Path) -> tuple[float, str, str]:
    argv, how = _offline([sys.executable, "-c", PLAIN, str(path), str(path.parent)])
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"nbclient failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, how, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="max_epochs of the book's trainings (default: 10)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder)")
    parser.add_argument("--no-plain", action="store_true", help="only grade")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hw-bench-"))
    try:
        path = build(work, args.epochs)
        print(f"notebook: {path} ({len(json.loads(path.read_text())['cells'])} cells, max_epochs = {args.epochs})")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        g, doc = grade(path)
        print(f"grade:  {g:7.1f} s   score {doc['score']:g} / {doc['max_score']:g}")
        models = doc["d2l_grade"]["units"][0]["homework"]["models"]
        print("        models: " + ", ".join(f"{m['cls']} {m['accuracy']:.4f}" for m in models if m["accuracy"]))
        if not args.no_plain:
            p, how, errors = plain(path)
            first, *rest = errors.splitlines() or ["?"]
            print(f"plain:  {p:7.1f} s   nbclient, {how}, {first} cells raised" + "".join(f"\n        {r}" for r in rest))
            print(f"ratio grade/plain: {g / p:.3f} (target <= {TARGET})")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
