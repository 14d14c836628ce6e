"""Evaluate a homework submission: from the grader's runs to sections, exercises, models
and points (``Homework.evaluate`` calls :func:`assemble`).

Each notebook of the submission was run in its own kernel; here their measurements are
put together. All that reports need goes into ``UnitResult.extra`` as plain JSON:
``sections`` (found, cells, what ran, checkpoints, discussion text and length, stored
outputs that disagree with the grader's run), ``exercises`` (recognised, measured),
``models`` (measured and printed accuracies), ``rubric`` and ``notebooks``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from grader.homework.checkpoints import CheckpointResult, judge
from grader.homework.plan import PartPlan, analyse, read_request
from grader.homework.outputs import fresh_texts, stored_findings
from grader.checking.probe import read_answer
from grader.homework.recognise import Attempt, Evidence, Measured
from grader.results import CellRecord, UnitResult
from grader.homework.rubric import SectionScore, score_exercises, score_models, score_section
from grader.homework.sections import CellRef, SectionFound, discussion_text, find_sections
from grader.homework.trained import MeasuredModel, measure_models, models_probe, printed_accuracies, verified_book_classes
from grader.values import FigureValue

if TYPE_CHECKING:
    from grader.protocol import ExecutionRun
    from grader.homework.unit import Homework
    from grader.units.context import UnitContext

__all__ = ["assemble"]

ENVIRONMENT_ERRORS = ("ModuleNotFoundError",)
ENVIRONMENT_MARKS = ("network access is disabled", "Name or service not known", "Temporary failure in name resolution")
STATUS_RANK = {"correct": 2, "wrong": 1, "attempted": 0}


@dataclass
class _Part:
    """One notebook of the submission with its run and static plan."""

    index: int
    ctx: "UnitContext"
    run: "ExecutionRun"
    plan: PartPlan
    records: dict[int, CellRecord] = field(default_factory=dict)
    fresh: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ctx.notebook.path.name


def _label(ref: CellRef, parts: Sequence[_Part]) -> str:
    return ref.label([p.name for p in parts])


# -- models -----------------------------------------------------------------------------

def _model_cells(run: "ExecutionRun") -> tuple[dict[int, int], set[int]]:
    """Model number -> the cell that first trained it (else first called it); cells with any model event."""
    seen: dict[int, int] = {}
    trained: dict[int, int] = {}
    cells: set[int] = set()
    for cell in sorted(run.events):
        for event in run.events[cell]:
            for notice in event.get("models", []) if isinstance(event, dict) else []:
                cells.add(cell)
                target = trained if notice.get("event") == "trained" else seen
                target.setdefault(int(notice.get("id", 0)), cell)
    return {**seen, **trained}, cells


def _pair_printed(models: list[MeasuredModel], values: list[float]) -> list[list[float]]:
    """Printed accuracies, one list per model trained in the same cell, in order."""
    if not values:
        return [[] for _ in models]
    if len(models) == 1:
        return [values[-1:]]
    if len(values) % len(models) == 0:
        size = len(values) // len(models)
        return [values[(i + 1) * size - 1:(i + 1) * size] for i in range(len(models))]
    return [[] for _ in models]


def _attach_printed(part: _Part, models: list[MeasuredModel], event_cells: set[int]) -> None:
    order = [c.index for c in part.ctx.notebook.code_cells]
    sources = {c.index: c for c in part.ctx.notebook.cells}
    by_cell: dict[int, list[MeasuredModel]] = {}
    for model in models:
        if model.cell is not None:
            by_cell.setdefault(model.cell, []).append(model)
    for cell, group in by_cell.items():
        window = [cell]
        for later in order[order.index(cell) + 1:] if cell in order else []:
            if later in event_cells or len(window) > 3:
                break
            window.append(later)
        fresh = [v for c in window for v in printed_accuracies(part.fresh.get(c, ""), sources[c].source)]
        stored = [v for c in window for v in printed_accuracies(sources[c].stored_text, sources[c].source)]
        for model, now, then in zip(group, _pair_printed(group, fresh), _pair_printed(group, stored)):
            model.printed, model.stored_printed = now, then


def _models(part: _Part, book_forwards: dict[str, str], data_root: Path | None, unit_id: str) -> list[MeasuredModel]:
    descriptor, _ = models_probe()
    answer = read_answer(descriptor, part.run.answers.get(f"{unit_id}/models"))
    entries = answer.get("models") if isinstance(answer, dict) else None
    cell_of, event_cells = _model_cells(part.run)
    book = verified_book_classes(part.ctx.codes, book_forwards)
    models = measure_models(entries, part.index, cell_of, book, data_root or Path("."))
    for model in models:
        model.section = part.plan.placements.get(model.cell) if model.cell is not None else None
    _attach_printed(part, models, event_cells)
    return models


# -- checkpoints and exercises ---------------------------------------------------------------

def _checkpoints(hw: "Homework", parts: Sequence[_Part]) -> list[CheckpointResult]:
    results = []
    for i, checkpoint in enumerate(hw.checkpoints):
        candidates = [(p, p.plan.checkpoints[i]) for p in parts]
        chosen = next(((p, c) for p, c in candidates if c.status == "planned"), None) \
            or next(((p, c) for p, c in candidates if c.status == "unmeasurable"), None) \
            or (candidates[0] if candidates else None)
        if chosen is None:
            continue
        part, planned = chosen
        where = _label(CellRef(part.index, planned.cell), parts) if planned.cell is not None else None
        if planned.status != "planned":
            results.append(CheckpointResult(checkpoint.section, checkpoint.title, planned.status, planned.message, where))
            continue
        record = part.records.get(planned.cell)  # type: ignore[arg-type]
        values = read_answer(planned.descriptor, part.run.answers.get(planned.key)) if planned.descriptor else None
        figures = [FigureValue(f) for f in part.run.figures([planned.cell])]  # type: ignore[list-item]
        if record is not None and record.status not in ("ok", "error"):
            results.append(CheckpointResult(checkpoint.section, checkpoint.title, "failed",
                                            f"its cell did not finish ({record.status})", where))
            continue
        check = judge(checkpoint, values, figures)
        results.append(CheckpointResult(checkpoint.section, checkpoint.title, "passed" if check.passed else "failed",
                                        check.message, where))
    return results


def _measure_attempt(recogniser: Any, attempt: Attempt, part: _Part, models: list[MeasuredModel],
                     unit_id: str, key: str) -> Measured:
    values: dict[str, Any] = {}
    if attempt.reads:
        descriptor, _ = read_request(attempt)
        answer = read_answer(descriptor, part.run.answers.get(key))
        values = answer if isinstance(answer, dict) else {}
    evidence = Evidence(values=values, records=part.records,
                        figures=[FigureValue(f) for f in part.run.figures(attempt.cells)],
                        models=[m for m in models if m.part == part.index and m.cell in attempt.cells],
                        codes=list(part.ctx.codes))
    try:
        return recogniser.measure(attempt, evidence)
    except Exception:
        return Measured("attempted", "internal grading error while measuring this answer; the staff were shown it",
                        {"traceback": traceback.format_exc()})


def _exercises(hw: "Homework", parts: Sequence[_Part], models: list[MeasuredModel]) -> list[dict[str, Any]]:
    by_id = {r.id: r for r in hw.exercises}
    found: dict[str, dict[str, Any]] = {}
    for part in parts:
        for key, attempt in part.plan.attempts:
            recogniser = by_id[attempt.exercise]
            measured = _measure_attempt(recogniser, attempt, part, models, hw.id, key)
            entry = found.setdefault(recogniser.id, {**recogniser.describe(), "attempts": []})
            entry["attempts"].append({"cells": [_label(CellRef(part.index, c), parts) for c in attempt.cells],
                                      "status": measured.status, "message": measured.message,
                                      "details": _plain(measured.details)})
    out = []
    for recogniser in hw.exercises:
        if recogniser.id in found:
            entry = found[recogniser.id]
            attempts = entry["attempts"]
            pick = min if recogniser.combine == "all" else max
            entry["status"] = pick(attempts, key=lambda a: STATUS_RANK[a["status"]])["status"]
            entry["message"] = attempts[0]["message"] if len(attempts) == 1 else " | ".join(
                f"{', '.join(a['cells'])}: {a['message']}" for a in attempts)
            out.append(entry)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k != "traceback"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


# -- sections --------------------------------------------------------------------------------

def _expected(hw: "Homework", part: _Part, cell: int, record: CellRecord) -> str | None:
    """The exercise whose error this is, if the cell belongs to one that expects it."""
    by_id = {r.id: r for r in hw.exercises}
    for _, attempt in part.plan.attempts:
        if cell in attempt.cells and by_id[attempt.exercise].expects(record.ename, record.evalue):
            return attempt.exercise
    return None


def _score_facts(hw: "Homework", found: SectionFound, parts: Sequence[_Part],
                 checkpoints: list[CheckpointResult]) -> SectionScore:
    s = SectionScore(found.id, found.title, found.present, found.how, found.has_code,
                     checkpoints=[c.to_dict() for c in checkpoints if c.section == found.id],
                     has_checkpoints=any(c.section == found.id for c in hw.checkpoints))
    for ref in found.code_cells:
        part = parts[ref.part]
        if not part.ctx.notebook.cells[ref.cell].source.strip():
            continue
        s.code_cells += 1
        record = part.records.get(ref.cell)
        label = _label(ref, parts)
        if record is None or record.status == "ok":
            s.ok += 1 if record is not None else 0
            if record is None:
                s.failed.append(f"{label} (not run)")
            continue
        exercise = _expected(hw, part, ref.cell, record) if record.status == "error" else None
        environment = record.ename in ENVIRONMENT_ERRORS or any(m in record.evalue for m in ENVIRONMENT_MARKS)
        what = f"{label} {record.ename or record.status}"
        if exercise:
            s.expected.append(f"{what} ({exercise})")
        elif environment:
            s.environment.append(f"{label} {record.ename}: {record.evalue[:60]}")
        else:
            s.failed.append(what + (f": {record.evalue[:60]}" if record.evalue else ""))
    return s


def _discussion(hw: "Homework", found: SectionFound, parts: Sequence[_Part]) -> dict[str, Any]:
    sources = [parts[r.part].ctx.notebook.cells[r.cell].source for r in found.markdown_cells]
    text, marker = discussion_text(sources, hw.sections)
    chars = sum(not ch.isspace() for ch in text)
    return {"chars": chars, "words": len(text.split()), "marker": marker, "text": text[:20000],
            "cells": [_label(r, parts) for r in found.markdown_cells]}


def _ran_block(found: SectionFound, parts: Sequence[_Part], facts: SectionScore) -> dict[str, Any]:
    return {"code_cells": facts.code_cells, "ok": facts.ok, "expected_errors": facts.expected,
            "environment": facts.environment, "failed": facts.failed,
            "seconds": round(sum(parts[r.part].records[r.cell].seconds for r in found.code_cells
                                 if r.cell in parts[r.part].records), 2)}


def _section_entry(found: SectionFound, parts: Sequence[_Part], facts: SectionScore, discussion: dict[str, Any],
                   findings: list[dict[str, Any]], exercises: list[dict[str, Any]],
                   models: list[MeasuredModel]) -> dict[str, Any]:
    return {
        "id": found.id, "title": found.title, "present": found.present, "how": found.how,
        "has_code": found.has_code, "cells": [_label(r, parts) for r in found.cells],
        "cell_refs": [[r.part, r.cell] for r in found.cells],
        "headings": [{"cell": _label(r, parts), "text": t} for r, t in found.headings],
        "fingerprints": len(found.fingerprints), "notes": found.notes,
        "ran": _ran_block(found, parts, facts), "checkpoints": facts.checkpoints, "discussion": discussion,
        "stored_outputs": findings,
        "exercises": [e["id"] for e in exercises if e["section"] == found.id],
        "models": [m.number for m in models if m.section == found.id],
    }


def _findings(parts: Sequence[_Part], section_of: dict[CellRef, str]) -> dict[str | None, list[dict[str, Any]]]:
    grouped: dict[str | None, list[dict[str, Any]]] = {}
    for part in parts:
        statuses = {i: r.status for i, r in part.records.items()}
        for finding in stored_findings(part.ctx.notebook, part.ctx.codes, part.fresh, statuses):
            entry = finding.to_dict()
            entry["cell"] = _label(CellRef(part.index, finding.cell), parts)
            grouped.setdefault(section_of.get(CellRef(part.index, finding.cell)), []).append(entry)
    return grouped


# -- the whole ---------------------------------------------------------------------------------

def _notes(found: list[SectionFound], parts: Sequence[_Part]) -> list[str]:
    notes = []
    present = [s for s in found if s.present]
    if not present:
        notes.append("none of the homework's sections was found: no heading names them and none of their book "
                     "code is here. Is this the right homework?")
    elif len(present) < len(found):
        notes.append("missing sections: " + ", ".join(f"{s.id} {s.title}" for s in found if not s.present))
    for part in parts:
        if not part.ctx.notebook.code_cells:
            notes.append(f"{part.name} has no code cells")
        summary = part.run.summary
        if summary.outcome != "completed":
            notes.append(f"{part.name}: execution stopped ({summary.outcome}): {summary.message}")
    return notes


def assemble(hw: "Homework", pairs: list[tuple["UnitContext", "ExecutionRun"]]) -> UnitResult:
    """The homework's result for a submission of one or several notebooks."""
    parts = []
    for i, (ctx, run) in enumerate(pairs):
        part = _Part(i, ctx, run, analyse(hw, ctx.notebook, ctx.codes, i))
        part.records = {r.index: r for r in run.summary.cells}
        part.fresh = fresh_texts(run.nb)
        parts.append(part)
    found = find_sections([(p.ctx.notebook, p.ctx.codes) for p in parts], hw.sections)
    section_of = {ref: s.id for s in found for ref in s.cells}
    data_root = next((p.ctx.data_root for p in parts if p.ctx.data_root is not None), None)
    models = [m for p in parts for m in _models(p, hw.book_forwards, data_root, hw.id)]
    checkpoints = _checkpoints(hw, parts)
    exercises = _exercises(hw, parts, models)
    findings = _findings(parts, section_of)
    tests, entries = [], []
    for section in found:
        facts = _score_facts(hw, section, parts, checkpoints)
        discussion = _discussion(hw, section, parts)
        facts.discussion_chars = discussion["chars"]
        tests.append(score_section(hw.rubric, facts))
        entries.append(_section_entry(section, parts, facts, discussion, findings.get(section.id, []),
                                      exercises, models))
    model_dicts = [m.to_dict() for m in models]
    for entry, model in zip(model_dicts, models):
        entry["cell_label"] = _label(CellRef(model.part, model.cell), parts) if model.cell is not None else None
    tests.append(score_exercises(hw.rubric, exercises))
    tests += score_models(hw.rubric, model_dicts)
    extra = {"homework": hw.id, "section": hw.section, "notebooks": [p.name for p in parts], "sections": entries,
             "exercises": exercises, "models": model_dicts, "stored_outputs_elsewhere": findings.get(None, []),
             "rubric": hw.rubric.describe()}
    return UnitResult(id=hw.id, title=hw.title, kind="homework", version=hw.version, tests=tests,
                      notes=_notes(found, parts), extra=extra)
