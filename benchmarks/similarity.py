"""How long `grade similarity` takes on a synthetic class of homework notebooks.

    .venv/bin/python benchmarks/similarity.py [--students 200] [--workers 2]

Builds the class with the test suite's generator (``tests/similarity/classgen.py``: every
notebook holds the book's code of chapters 2-5, own code, a discussion per section, five
planted pairs), then times three runs: from the folder; from a gradebook without stored
extracts (extracts read and stored); from the same gradebook again (stored extracts).
Prints seconds and pairs per second for each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "similarity"))

from classgen import build_class  # noqa: E402

from grader.classroom.gradebook import Record, open_gradebook  # noqa: E402
from grader.classroom.similarity import find_similar  # noqa: E402


def _gradebook(db: Path, paths: list[Path]) -> None:
    """A gradebook holding every notebook as a graded submission (no grading run)."""
    with open_gradebook(db, write=True) as book:
        run = book.start_run(command="benchmark", backend="none", workers=0, seed_policy="public", options={},
                             exercise_versions={}, environment={}, grader_version="bench")
        for path in paths:
            book.record(run, Record(student=path.stem, source=str(path), files=[{"path": path.name, "sha256": "-"}],
                                    file_hash=path.stem, unit_versions={"d2l-ch2-5": "1"}, status="graded"))


def main() -> None:
    """Build the class, time the runs, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        started = time.perf_counter()
        paths = build_class(folder, students=args.students)
        print(f"built {len(paths)} notebooks in {time.perf_counter() - started:.1f} s "
              f"({sum(p.stat().st_size for p in paths) / 2**20:.1f} MiB)")
        db = Path(tmp) / "class.sqlite"
        _gradebook(db, paths)
        for label, kwargs in (("folder", {"folder": folder}), ("gradebook, extracting", {"db": db}),
                              ("gradebook, stored extracts", {"db": db})):
            started = time.perf_counter()
            report = find_similar(homework_id="d2l-ch2-5", workers=args.workers, **kwargs)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            print(f"{label:<28} {seconds:6.2f} s  {len(report.pairs) / seconds:8.0f} pairs/s  "
                  f"(comparing {report.seconds:.2f} s; {len(report.flagged())} pairs similar)")


if __name__ == "__main__":
    main()
