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

from grader.homework.checkpoints import CheckpointResult, judge_status
from grader.homework.plan import PartPlan, analyse, read_request, scope_codes, section_scope
from grader.homework.result import HomeworkResult
from grader.homework.trace import CellTrace, read_traces
from grader.homework.outputs import fresh_texts, stored_findings
from grader.checking.probe import read_answer
from grader.homework.recognise import Attempt, Evidence, Measured
from grader.results import CellRecord, UnitResult
from grader.homework.rubric import SectionScore, score_exercises, score_models, score_section
from grader.homework.sections import (CellRef, SectionFound, discussion_text, find_sections, fingerprint_hits,
                                      normalise_code)
from grader.homework.trained import (MeasuredModel, measure_models, models_probe, net_forward_classes,
                                     printed_accuracies, verified_book_classes)
from grader.values import FigureValue

if TYPE_CHECKING:
    from grader.protocol import ExecutionRun
    from grader.homework.unit import Homework
    from grader.units.context import UnitContext

__all__ = ["assemble"]

MAX_FIGURES = 12  # figures of exercise answers shown in a homework's HTML report

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
    traces: dict[int, CellTrace] = field(default_factory=dict)
    answers: list[tuple[Any, Attempt, Measured]] = field(default_factory=list)

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
    """Link each accuracy a cell printed to the model whose outputs produced it: a model the
    cell called (the kernel's per-cell record of model calls), else to none. Several models
    called in one cell share its accuracies in order (a sweep printing one per model)."""
    sources = {c.index: c for c in part.ctx.notebook.cells}
    numbers = {m.number: m for m in models}
    for cell, trace in sorted(part.traces.items()):
        group = [numbers[n] for n in dict.fromkeys(trace.models_called) if n in numbers]
        if not group or cell not in sources:
            continue
        fresh = printed_accuracies(part.fresh.get(cell, ""), sources[cell].source)
        stored = printed_accuracies(sources[cell].stored_text, sources[cell].source)
        for model, now, then in zip(group, _pair_printed(group, fresh), _pair_printed(group, stored)):
            if now:
                model.printed = now
            if then:
                model.stored_printed = then


def _models(part: _Part, book_forwards: dict[str, str], data_root: Path | None, unit_id: str) -> list[MeasuredModel]:
    descriptor, _ = models_probe()
    answer = read_answer(descriptor, part.run.answers.get(f"{unit_id}/models"))
    entries = answer.get("models") if isinstance(answer, dict) else None
    cell_of, event_cells = _model_cells(part.run)
    codes = part.ctx.codes

    def book(cell: int | None) -> tuple[frozenset[str], frozenset[str]]:  # the classes as they were when it ran
        return verified_book_classes(codes, book_forwards, cell), net_forward_classes(codes, cell)
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
        status, message = judge_status(checkpoint, values, figures)
        sharing = [c for c in part.plan.checkpoints if c.cell == planned.cell and c.checkpoint.figures]
        if status == "failed" and checkpoint.figures and len(sharing) > 1:
            status, message = "unmeasurable", (f"not measurable: this cell draws the plots of {len(sharing)} "
                                               "checkpoints (a merged cell), and only the last one stays visible")
        results.append(CheckpointResult(checkpoint.section, checkpoint.title, status, message, where))
    return results


def _read_values(part: _Part, attempt: Attempt, key: str | None) -> dict[str, Any]:
    if not attempt.reads or key is None:
        return {}
    descriptor, _ = read_request(attempt)
    answer = read_answer(descriptor, part.run.answers.get(key))
    return answer if isinstance(answer, dict) else {}


def _prose_after(part: _Part, attempt: Attempt, scope: set[int]) -> list[str]:
    """The student's markdown in the exercise's scope after the attempt's last cell, up to the next code cell
    that is not part of it (where an answer is written out after computing it)."""
    cells = part.ctx.notebook.cells
    out = []
    for cell in cells[attempt.cells[-1] + 1:]:
        if cell.index not in scope or (cell.is_code and cell.source.strip()):
            break
        if cell.kind == "markdown":
            out.append(cell.source[:4000])
    return out[:4]


def _measure_attempt(recogniser: Any, attempt: Attempt, part: _Part, models: list[MeasuredModel],
                     values: dict[str, Any], scope: set[int]) -> Measured:
    evidence = Evidence(values=values, records=part.records,
                        figures=[FigureValue(f) for f in part.run.figures(attempt.cells)],
                        models=[m for m in models if m.part == part.index and m.cell in attempt.cells],
                        codes=list(part.ctx.codes), traces=part.traces,
                        printed={c: part.fresh.get(c, "") for c in attempt.cells},
                        prose=_prose_after(part, attempt, scope))
    try:
        return recogniser.measure(attempt, evidence)
    except Exception:
        return Measured("attempted", "internal grading error while measuring this answer; the staff were shown it",
                        {"traceback": traceback.format_exc()})


def _attempts_of(recogniser: Any, part: _Part) -> list[tuple[Attempt, dict[str, Any]]]:
    """One notebook's attempts at an exercise with the values read after them: the static
    ones, plus those only the trace shows (cells no static attempt covers)."""
    static = [(a, _read_values(part, a, key)) for key, a in part.plan.attempts if a.exercise == recogniser.id]
    covered = {c for a, _ in static for c in a.cells}
    scoped = scope_codes(part.ctx.codes, part.plan.placements, recogniser.section)
    extra = [a for a in recogniser.find_run(scoped, part.traces, part.index) if not set(a.cells) & covered] \
        if part.traces else []
    return static + [(a, {}) for a in extra]


def _exercises(hw: "Homework", parts: Sequence[_Part], models: list[MeasuredModel]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for part in parts:
        for recogniser in hw.exercises:
            scope = section_scope(part.plan.placements, recogniser.section)
            for attempt, values in sorted(_attempts_of(recogniser, part), key=lambda av: av[0].cells):
                measured = _measure_attempt(recogniser, attempt, part, models, values, scope)
                if measured.status == "none":
                    continue
                part.answers.append((recogniser, attempt, measured))
                _add_attempt(found, recogniser, attempt, measured, part, parts)
    return _combine(hw, found)


def _add_attempt(found: dict[str, dict[str, Any]], recogniser: Any, attempt: Attempt, measured: Measured,
                 part: _Part, parts: Sequence[_Part]) -> None:
    entry = found.setdefault(recogniser.id, {**recogniser.describe(), "attempts": []})
    entry["attempts"].append({"cells": [_label(CellRef(part.index, c), parts) for c in attempt.cells],
                              "status": measured.status, "message": measured.message,
                              "details": _plain(measured.details)})


def _combine(hw: "Homework", found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
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


def _answer_figures(parts: Sequence[_Part], limit: int = MAX_FIGURES) -> list[dict[str, Any]]:
    """The figures drawn by the cells of recognised exercise answers, for the HTML report
    (the student sees what was judged), each with its exercise and cell; at most ``limit``."""
    out: list[dict[str, Any]] = []
    for part in parts:
        for recogniser, attempt, _ in part.answers:
            for fig in part.run.figures(attempt.cells):
                label = _label(CellRef(part.index, fig["cell"]), parts)
                out.append({**fig, "exercise": recogniser.id, "label": f"{recogniser.id}, {label}"})
    return out[:limit]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k != "traceback"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


# -- sections --------------------------------------------------------------------------------

def _expected(hw: "Homework", part: _Part, section: str, cell: int, record: CellRecord) -> str | None:
    """Why this error is the exercise's answer, not a failure of the book code: the cell
    answers an exercise that expects it, or (even when the answer could not be credited)
    it is student code of the section whose exercise is about exactly this error."""
    for recogniser, attempt, _ in part.answers:
        if cell in attempt.cells and recogniser.expects(record.ename, record.evalue):
            return recogniser.id
    source = part.ctx.notebook.cells[cell].source
    if fingerprint_hits(normalise_code(source), [s for s in hw.sections if s.id == section]):
        return None  # the book's own code: its errors are failures
    for recogniser in hw.exercises:
        if recogniser.section == section and recogniser.expects(record.ename, record.evalue):
            return f"{recogniser.id}, not credited: the error this exercise is about"
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
        exercise = _expected(hw, part, found.id, ref.cell, record) if record.status == "error" else None
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
        part.traces = read_traces(run)
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
    typed = HomeworkResult.from_dict({
        "homework": hw.id, "section": hw.section, "notebooks": [p.name for p in parts], "sections": entries,
        "exercises": exercises, "models": model_dicts, "stored_outputs_elsewhere": findings.get(None, []),
        "rubric": hw.rubric.describe(), "figures": _answer_figures(parts)})
    extra = typed.to_dict()  # the documented JSON contract (docs/HOMEWORK.md), through its typed model
    return UnitResult(id=hw.id, title=hw.title, kind="homework", version=hw.version, tests=tests,
                      notes=_notes(found, parts), extra=extra)
