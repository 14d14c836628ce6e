"""Grade a whole class: ``grade batch SUBMISSIONS --db gradebook.sqlite``.

    find submissions -> describe them (hashes, exercises, kernel plans; no kernel)
      -> skip what the gradebook already holds -> grade the rest in parallel
      -> commit each submission as soon as it is graded -> summary

Locally, ``workers`` submissions are graded at once in one event loop (each kernel is
its own process), with a :class:`~grader.engine.pool.KernelPool` booting the kernels of the
next notebooks while the current ones run. With ``dask_address`` the same grading runs
on a Dask cluster (:mod:`grader.classroom.distributed`) and results come back here, to the one
gradebook writer.

Resuming: a submission is done when the gradebook holds a finished grading of the same
student, file hash and exercise versions. A submission graded with other exercise
versions is left alone unless ``regrade`` is set; it then gets a new attempt and the
old one stays in the history.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from grader.config import Options, for_many_notebooks, threads_per_worker
from grader.classroom.gradebook import Gradebook, Record, open_gradebook
from grader.classroom.graded import Graded, grade_submission, internal_error, options_to_dict
from grader.pipeline import grader_version
from grader.engine.pool import KernelKey, KernelPool
from grader.registry import exercises, homeworks
from grader.engine.sandbox import detect_isolation
from grader.classroom.submissions import Submission, describe, find_submissions

__all__ = ["BatchSummary", "BatchProgress", "grade_batch", "default_workers", "unstarted", "SPARE_KERNELS"]

# Kernels booted ahead beyond those the workers are using. Booting is CPU work like
# grading: more spares than this only make the kernels compete for the cores (measured
# on 2 cores, see benchmarks/batch.py), fewer leave the workers waiting for a boot.
SPARE_KERNELS = 1


def default_workers() -> int:
    """One worker per core."""
    return threads_per_worker(1)


@dataclass
class BatchSummary:
    """What a batch did, for the summary printed at the end and the run's row."""

    found: int = 0
    done_before: int = 0
    stale: int = 0
    graded: int = 0
    invalid: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    percents: list[float] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0
    backend: str = "local"
    pool: dict[str, Any] = field(default_factory=dict)
    run_id: int = 0

    @property
    def processed(self) -> int:
        return self.graded + self.invalid + self.errors

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the gradebook's run row."""
        data = dataclasses.asdict(self)
        data["failures"] = [list(f) for f in self.failures[:50]]
        data.pop("percents")
        data["mean_percent"] = round(sum(self.percents) / len(self.percents), 2) if self.percents else None
        return data


class BatchProgress(Protocol):
    """What the batch tells its display (see :mod:`grader.report.progress`)."""

    def begin(self, total: int, summary: BatchSummary) -> None: ...

    def finished(self, sub: Submission, record: Record, summary: BatchSummary) -> None: ...

    def end(self, summary: BatchSummary) -> None: ...


class _Silent:
    def begin(self, total: int, summary: BatchSummary) -> None:
        pass

    def finished(self, sub: Submission, record: Record, summary: BatchSummary) -> None:
        pass

    def end(self, summary: BatchSummary) -> None:
        pass


def _to_grade(book: Gradebook, subs: Sequence[Submission], regrade: bool, summary: BatchSummary) -> list[Submission]:
    todo = []
    for sub in subs:
        versions = book.finished(sub.student, sub.file_hash)
        if versions is None:
            todo.append(sub)
        elif versions == sub.unit_versions:
            summary.done_before += 1
        elif regrade:
            todo.append(sub)
        else:
            summary.stale += 1
    return todo


def _record(sub: Submission, graded: Graded) -> Record:
    return Record(student=sub.student, source=str(sub.source), files=sub.files, file_hash=sub.file_hash,
                  unit_versions=sub.unit_versions, status=graded.status, outcome=graded.outcome,
                  message=graded.message, submitted_at=sub.submitted_at, seconds=graded.seconds, result=graded.result)


def _count(summary: BatchSummary, sub: Submission, record: Record) -> None:
    if record.status == "graded":
        summary.graded += 1
        summary.outcomes[record.outcome] = summary.outcomes.get(record.outcome, 0) + 1
        result = record.result
        if result is not None and result.max_score:
            summary.percents.append(100 * result.score / result.max_score)
    elif record.status == "invalid":
        summary.invalid += 1
    else:
        summary.errors += 1
    if record.status != "graded" or record.outcome != "completed":
        reason = record.outcome if record.status == "graded" else record.status
        first = record.message.splitlines()[0] if record.message else ""
        summary.failures.append((sub.student, f"{reason}: {first}" if first else reason))


async def _grade_local(todo: Sequence[Submission], *, options: Options, workers: int, exercise_ids: Sequence[str],
                       homework_id: str | None, hide: Sequence[str], ahead: int,
                       on_done: Callable[[Submission, Graded], None], summary: BatchSummary) -> None:
    keys = [KernelKey(opts, hidden, preload, options.threads)
            for sub in todo if not sub.problem and not sub.fault
            for opts, hidden, preload in zip(sub.run_options, sub.hidden, sub.preload)]
    queue: collections.deque[Submission] = collections.deque(todo)
    async with KernelPool() as pool:
        warmed = 0

        def warm_next(count: int) -> None:
            nonlocal warmed
            for _ in range(count):
                if warmed < len(keys):
                    pool.warm(keys[warmed])
                    warmed += 1

        async def new_kernel(sub: Submission, counter: list[int], opts: Options, hidden: Sequence[str]) -> Any:
            i = counter[0]
            counter[0] += 1
            preload = sub.preload[i] if i < len(sub.preload) else ()
            key = KernelKey(opts, tuple(hidden), preload, options.threads)
            claimed = pool.claim(key)
            warm_next(ahead - pool.waiting)  # keep `ahead` spare kernels booting or booted
            return await pool.ready(claimed, key)

        async def worker() -> None:
            while queue:
                sub = queue.popleft()
                if sub.problem or sub.fault:
                    on_done(sub, unstarted(sub))
                    continue
                counter = [0]
                try:
                    graded = await grade_submission(
                        sub.notebooks, student=sub.student, options=options, exercise_ids=exercise_ids,
                        homework_id=homework_id, hide=hide,
                        new_kernel=lambda o, h, sub=sub, counter=counter: new_kernel(sub, counter, o, h))
                except Exception as exc:  # e.g. the kernel pool failed: this submission's error row
                    graded = internal_error(exc)
                on_done(sub, graded)

        warm_next(workers + ahead)  # the first kernel of each worker, and the spares
        await asyncio.gather(*(worker() for _ in range(workers)))
        summary.pool = {"warm": pool.stats.warm, "cold": pool.stats.cold, "failed": pool.stats.failed,
                        "mean_boot_seconds": round(sum(pool.stats.boot_seconds) / len(pool.stats.boot_seconds), 2)
                        if pool.stats.boot_seconds else None}


def unstarted(sub: Submission) -> Graded:
    """The row of a submission refused before grading: invalid (``problem``) or error (``fault``)."""
    return Graded("invalid", "", sub.problem) if sub.problem else Graded("error", "", sub.fault)


def _environment(options: Options) -> dict[str, Any]:
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"
    isolation = detect_isolation(options.isolation)
    return {"python": platform.python_version(), "platform": platform.platform(), "host": platform.node(),
            "cores": os.cpu_count(), "torch": version("torch"), "torchvision": version("torchvision"),
            "d2l": version("d2l"), "isolation": isolation.describe(options)}


def grade_batch(root: str | Path, *, db: str | Path, options: Options, workers: int = 0, regrade: bool = False,
                exercise_ids: Sequence[str] = (), homework_id: str | None = None, student_from: str = "auto",
                dask_address: str | None = None, progress: BatchProgress | None = None,
                command: str = "grade batch", ahead: int | None = None, trust_metadata: bool = False) -> BatchSummary:
    """Grade every submission in ``root`` not already in the gradebook ``db``; see the module doc."""
    started = time.monotonic()
    progress = progress or _Silent()
    root = Path(root)
    workers = workers or default_workers()
    options = for_many_notebooks(options)
    if not options.threads and not dask_address:  # on Dask, each worker shares its own cores
        options = dataclasses.replace(options, threads=threads_per_worker(workers))
    summary = BatchSummary(workers=workers, backend="dask" if dask_address else "local")
    with open_gradebook(db, write=True) as book:
        subs = find_submissions(root)
        # The kernel must not see other students' work nor the gradebook.
        hide = [str(root.resolve())] + [str(Path(str(db) + s).resolve()) for s in ("", "-wal", "-shm")]
        describe(subs, root, options=options, exercise_ids=exercise_ids, homework_id=homework_id,
                 student_from=student_from, hide=hide, trust_metadata=trust_metadata, known_sources=book.sources)
        summary.found = len(subs)
        todo = _to_grade(book, subs, regrade, summary)
        versions = {u.id: str(u.version) for u in [*exercises().values(), *homeworks().values()]}
        options_data = {k: v for k, v in options_to_dict(options).items() if k != "secret"}
        summary.run_id = book.start_run(
            command=command, backend=summary.backend, workers=workers, seed_policy=options.seed_policy,
            options=options_data, exercise_versions=versions, environment=_environment(options),
            grader_version=grader_version())
        progress.begin(len(todo), summary)

        def on_done(sub: Submission, graded: Graded) -> None:
            record = _record(sub, graded)
            book.record(summary.run_id, record)  # one transaction, committed now; never fails for the result
            _count(summary, sub, record)
            try:
                progress.finished(sub, record, summary)
            except Exception:  # noqa: BLE001 - a display failure must not stop the class's grading
                pass

        if dask_address:
            from grader.classroom.distributed import grade_on_dask
            grade_on_dask(todo, address=dask_address, options=options, exercise_ids=exercise_ids,
                          homework_id=homework_id, on_done=on_done)
        else:
            asyncio.run(_grade_local(todo, options=options, workers=workers, exercise_ids=exercise_ids,
                                     homework_id=homework_id, hide=hide,
                                     ahead=SPARE_KERNELS if ahead is None else ahead,
                                     on_done=on_done, summary=summary))
        summary.seconds = round(time.monotonic() - started, 2)
        book.finish_run(summary.run_id, summary.to_dict())
    progress.end(summary)
    return summary
