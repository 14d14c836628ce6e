"""``grade batch --dask ADDRESS``: the batch's grading on a Dask distributed cluster.

Dask schedules; this module only ships work and collects results. Each task carries one
submission as plain data (the notebooks' bytes, the student id, the options), so workers
need the same d2l-grade install and data store but no shared file system. A worker
grades in a fresh sandboxed kernel per notebook and returns :meth:`Graded.to_dict`; the
submitting process, the gradebook's one writer, commits each result as it arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from grader.config import Options, threads_per_worker
from grader.classroom.graded import Graded, grade_submission, options_from_dict, options_to_dict
from grader.results import SubmissionResult
from grader.classroom.submissions import Submission

__all__ = ["grade_on_dask", "grade_task", "task_payload"]


def task_payload(sub: Submission, *, options: Options, exercise_ids: Sequence[str],
                 homework_id: str | None) -> dict[str, Any]:
    """One submission as plain data for a worker (the secret travels with the options:
    secure the cluster's connections, see docs/INSTRUCTORS.md)."""
    return {
        "student": sub.student,
        "files": [{"name": _inner_name(sub, p), "origin": str(p), "data": p.read_bytes()} for p in sub.notebooks],
        "options": options_to_dict(options),
        "exercise_ids": list(exercise_ids),
        "homework_id": homework_id,
    }


def _inner_name(sub: Submission, path: Path) -> str:
    return path.name if path == sub.source else str(path.relative_to(sub.source))


def _restore_paths(result: SubmissionResult, names: dict[str, str]) -> None:
    """Report the submitted files' own paths, not the worker's temporary copies."""
    result.sources = [names.get(s, s) for s in result.sources]
    for run in result.executions:
        run.source_file = names.get(run.source_file, run.source_file)
        for cell in run.cells:
            cell.source_file = names.get(cell.source_file, cell.source_file)


def grade_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Run on a Dask worker: grade one submission, return :meth:`Graded.to_dict`."""
    options = options_from_dict(payload["options"])
    if not options.threads:
        options = dataclasses.replace(options, threads=threads_per_worker(_worker_threads()))
    with tempfile.TemporaryDirectory(prefix="d2lg-task-") as tmp:
        paths, names = [], {}
        for item in payload["files"]:
            path = Path(tmp, "submission", item["name"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item["data"])
            paths.append(path)
            names[str(path)] = item["origin"]
        graded = asyncio.run(grade_submission(paths, student=payload["student"], options=options,
                                              exercise_ids=payload["exercise_ids"],
                                              homework_id=payload["homework_id"], hide=[tmp]))
    if graded.result is not None:
        _restore_paths(graded.result, names)
    for temp, origin in names.items():
        graded.message = graded.message.replace(temp, origin)
    return graded.to_dict()


def _worker_threads() -> int:
    """Tasks this worker runs at once (its thread count), to share the cores between kernels."""
    try:
        from distributed import get_worker
        return max(1, int(get_worker().state.nthreads))
    except Exception:  # not on a worker (called directly)
        return 1


def grade_on_dask(todo: Sequence[Submission], *, address: str, options: Options, exercise_ids: Sequence[str],
                  homework_id: str | None, on_done: Callable[[Submission, Graded], None]) -> None:
    """Grade ``todo`` on the cluster at ``address``; ``on_done`` runs here for each result."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        from grader.errors import InputError
        raise InputError("--dask needs dask.distributed: pip install 'd2l-grade[dask]'") from None
    refused = [sub for sub in todo if sub.problem or sub.fault]
    for sub in refused:
        on_done(sub, Graded("invalid", "", sub.problem) if sub.problem else Graded("error", "", sub.fault))
    runnable = [sub for sub in todo if not sub.problem and not sub.fault]
    if not runnable:
        return
    with Client(address) as client:
        futures = {}
        for sub in runnable:
            payload = task_payload(sub, options=options, exercise_ids=exercise_ids, homework_id=homework_id)
            # A fresh key per task: a regrade of the same files must not reuse an old result.
            key = f"grade-{sub.student}-{sub.file_hash[:12]}-{uuid.uuid4().hex[:8]}"
            future = client.submit(grade_task, payload, key=key, pure=False, retries=0)
            futures[future] = sub
        for future in as_completed(futures):
            sub = futures[future]
            try:
                graded = Graded.from_dict(future.result())
            except Exception as exc:  # the worker died or the task failed: retried next run
                graded = Graded("error", "", f"the Dask task failed: {type(exc).__name__}: {exc}")
            on_done(sub, graded)
