"""Self-contained HTML feedback: one page per submission, viewable without a network.

Each exercise lists its tests with points and the message; the student's figures are
shown beside the reference figures (from grading the solutions, see
:mod:`grader.course.reference`); learning curves are drawn against their reference band.
A homework also shows its sections, models, discussions and stored-output findings.
The CSS is inline, the images are base64 PNG, nothing is fetched. Every piece of text
comes from the submission or the kernel and is escaped.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.rounding import round_points, show_points
from grader.homework.result import HomeworkResult
from grader.results import ExecutionSummary, SubmissionResult, TestResult, UnitResult
from grader.report.plots import curves_png, figure_png

__all__ = ["render_html", "write_html", "CSS"]

# Details that stay with the instructor (hidden tests' inputs, grader tracebacks), and
# those said in the message already (review records, curves' raw data).
PRIVATE_DETAILS = ("instructor_detail", "traceback", "override", "hand")
MAX_LISTED = 8

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .total { font-size: 1.3em; font-weight: 600; }
table.tests { border-collapse: collapse; width: 100%; } table.tests td { border-top: 1px solid #eee; padding: .4em;
       vertical-align: top; }
.badge { display: inline-block; min-width: 3.5em; text-align: center; border-radius: 4px; font-weight: 600;
         font-size: .85em; padding: .1em .4em; color: white; }
.passed { background: #1a7f37; } .failed { background: #cf222e; } .partial { background: #bf8700; }
.error { background: #8250df; }
pre { white-space: pre-wrap; margin: .2em 0; font: 13px/1.4 ui-monospace, monospace; background: #f6f8fa;
      padding: .4em; border-radius: 4px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin: 1em 0; }
.pair figure { margin: 0; border: 1px solid #eee; padding: .5em; } figcaption { color: #555; font-size: .9em; }
img { max-width: 100%; } .note { color: #9a6700; } dl.details { margin: .2em 0; font-size: .9em; }
dl.details dt { float: left; clear: left; color: #555; margin-right: .5em; }
table.grid { border-collapse: collapse; font-size: .9em; } table.grid td, table.grid th { border: 1px solid #eee;
       padding: .2em .5em; text-align: left; vertical-align: top; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _points(value: float) -> str:
    return f"{round_points(value):g}"


def _badge(test: TestResult) -> str:
    kind = test.status
    label = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[kind]
    if kind == "failed" and test.score > 0:
        kind, label = "partial", "PART"
    return f'<span class="badge {kind}">{label}</span>'


def _label(key: Any) -> str:
    return str(key).replace("_", " ")


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text[:300] + ("..." if len(text) > 300 else "")


def _value(value: Any, depth: int = 0) -> str:
    """A measured value as people read it: a number, a short list, or a small table (escaped)."""
    if isinstance(value, dict) and depth < 2 and value:
        rows = "".join(f"<tr><th>{_e(_label(k))}</th><td>{_value(v, depth + 1)}</td></tr>"
                       for k, v in list(value.items())[:MAX_LISTED * 2])
        return f'<table class="grid">{rows}</table>'
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in value):
        shown = ", ".join(_scalar(v) for v in value[:MAX_LISTED])
        more = f" ... ({len(value)} values)" if len(value) > MAX_LISTED else ""
        return _e(shown + more)
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str)
        return _e(text[:300] + ("..." if len(text) > 300 else ""))
    return _e(_scalar(value))


def _details(test: TestResult) -> str:
    """What was measured, as a small table of labelled values (no raw dicts)."""
    shown = {k: v for k, v in test.details.items() if k not in PRIVATE_DETAILS}
    if not shown:
        return ""
    rows = "".join(f"<tr><th>{_e(_label(k))}</th><td>{_value(v)}</td></tr>" for k, v in shown.items())
    return f'<table class="grid details">{rows}</table>'


def _test_row(test: TestResult) -> str:
    name = test.name.split(": ", 1)[-1]
    message = f"<pre>{_e(test.message)}</pre>" if test.message else ""
    return (f"<tr><td>{_badge(test)}</td><td>{_points(test.score)}/{_points(test.max_score)}</td>"
            f"<td><strong>{_e(name)}</strong>{message}{_details(test)}</td></tr>")


def _image(png: str | None, caption: str) -> str:
    if not png:
        return f"<figure><figcaption>{_e(caption)}: no image</figcaption></figure>"
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{png}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _figures(unit: UnitResult, references: Sequence[dict[str, Any]]) -> str:
    figures = [f for f in unit.extra.get("figures", []) if isinstance(f, dict)]
    if not figures and not references:
        return ""
    parts = ["<h3>Figures</h3>"]
    for i in range(max(len(figures), len(references))):
        mine = figure_png(figures[i])[0] if i < len(figures) else None
        ref = figure_png(references[i])[0] if i < len(references) else None
        where = ""
        if i < len(figures):
            label, cell = figures[i].get("label"), figures[i].get("cell")
            where = f" ({label})" if isinstance(label, str) else f" (cell {cell + 1})" if isinstance(cell, int) else ""
        parts.append('<div class="pair">' + _image(mine, f"Your figure {i + 1}{where}")
                     + _image(ref, f"Reference figure {i + 1}") + "</div>")
    return "".join(parts)


def _curve_marks(unit: UnitResult, curves: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                               dict[str, Any] | None]:
    """The full-marks, reference and chance lines and the scored value, from the curves' test."""
    names = {c.get("test") for c in curves if isinstance(c, dict)}
    test = next((t for t in unit.tests if t.name in names), None)
    if test is None:
        return [], None
    d = test.details
    ref = d.get("reference") if isinstance(d.get("reference"), dict) else {}
    levels = []
    if isinstance(ref.get("full_at"), (int, float)):
        levels.append({"y": ref["full_at"], "label": f"full marks from {ref['full_at']:.3f}", "kind": "full"})
    if isinstance(ref.get("mean"), (int, float)):
        levels.append({"y": ref["mean"], "label": f"reference mean {ref['mean']:.3f}", "kind": "reference"})
    if isinstance(d.get("chance"), (int, float)):
        levels.append({"y": d["chance"], "label": f"chance {d['chance']:g}", "kind": "chance"})
    measured = d.get("measured") if isinstance(d.get("measured"), dict) else {}
    final = next((v for k, v in measured.items() if "@" not in str(k) and isinstance(v, (int, float))), None)
    xs = [x for c in curves for x in (c.get("x") or []) if isinstance(x, (int, float))]
    scored = {"x": max(xs), "y": final, "evidence": d.get("evidence", "")} if final is not None and xs else None
    return levels, scored


def _curves(unit: UnitResult) -> str:
    curves = unit.extra.get("curves")
    if not curves:
        return ""
    levels, scored = _curve_marks(unit, curves)
    png = curves_png(curves, levels=levels, scored=scored)
    caption = "your curves against the reference band (shaded)"
    if scored and scored.get("evidence"):
        caption += f"; the score comes from {scored['evidence']}"
    return "<h3>Learning curves</h3>" + _image(png, caption)


def _answers(unit: UnitResult) -> str:
    answers = [a for a in unit.extra.get("answers", []) if isinstance(a, dict)]
    if not answers:
        return ""
    items = "".join(f"<p>cell {_e(a.get('cell', '?'))}:</p><pre>{_e(a.get('text', ''))}</pre>" for a in answers)
    return "<h3>Your written answers (read by the teaching staff)</h3>" + items


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="grid"><tr>{head}</tr>{body}</table>'


def _homework(unit: UnitResult) -> str:
    """A homework's sections, models, discussions and stored-output findings (``HomeworkResult``)."""
    from grader.report.terminal import cell_ranges, ran_and_checks, stored_findings

    homework = HomeworkResult.from_dict(unit.extra)
    points = {t.name: t for t in unit.tests}
    rows = []
    for s in homework.sections:
        ran_text, cp_text = ran_and_checks(s)
        test = points.get(f"{s.id} {s.title}")
        rows.append([_e(f"{s.id} {s.title}"), _e(s.how) if s.present else '<span class="note">missing</span>',
                     _e(cell_ranges(s.cell_refs, homework.notebooks) or "-"), ran_text, cp_text,
                     f"{_e(s.discussion.get('chars', 0))} chars", _e(", ".join(s.exercises) or "-"),
                     f"{_points(test.score)}/{_points(test.max_score)}" if test else ""])
    parts = ["<h3>Sections</h3>", _table(["section", "found by", "cells", "ran", "checkpoints", "own text", "exercises",
                                          "points"], rows)]
    if homework.models:
        rows = [[_e(m.cls), _e(m.cell_label or "-"), _e(m.section or "-"), "yes" if m.trained else "no",
                 f"{m.accuracy:.4f}" if m.accuracy is not None else "-",
                 _e(m.evidence if m.fmnist else "own data"),
                 _e(", ".join(f"{v:g}" for v in m.printed) or "-") + (" (disagrees)" if m.disagrees else "")]
                for m in homework.models]
        parts += ["<h3>Models (accuracy on the 10,000 test images, computed by the grader)</h3>",
                  _table(["model", "cell", "section", "trained", "accuracy", "evidence", "printed"], rows)]
    shown = [s for s in homework.sections if s.discussion.get("chars")]
    if shown:
        parts.append("<h3>Your discussions (read by the teaching staff, not scored for quality)</h3>")
        parts += [f"<p>{_e(s.id)}:</p><pre>{_e(s.discussion.get('text', ''))}</pre>" for s in shown]
    findings = stored_findings(homework)
    if findings:
        parts.append("<h3>Stored outputs (not scored)</h3><ul>")
        for f in findings:
            shown_text = (f"<pre>stored: {_e(f['stored'])}\nnow:    {_e(f.get('fresh', ''))}</pre>"
                          if f.get("stored") else "")
            parts.append(f"<li>{_e(f.get('cell', ''))}: {_e(f.get('message', ''))}{shown_text}</li>")
        parts.append("</ul>")
    return "".join(parts)


def _unit(unit: UnitResult, references: Sequence[dict[str, Any]]) -> str:
    section = unit.extra.get("section", "")
    points = "" if unit.id == "submission" and not unit.max_score else \
        f" &mdash; {_points(unit.score)} / {_points(unit.max_score)}"
    where = f"{_e(unit.id)}{', d2l ' + _e(section) if section else ''}"
    head = f"<h2>{_e(unit.title)} <small>({where})</small>{points}</h2>"
    rows = "".join(_test_row(t) for t in unit.tests)
    # Notes first: "Is this the right homework?" must come before a page of failed rows.
    notes = "".join(f'<p class="note">note: {_e(n)}</p>' for n in unit.notes)
    homework = _homework(unit) if unit.kind == "homework" and "sections" in unit.extra else ""
    return (head + notes + homework + f'<table class="tests">{rows}</table>' + _figures(unit, references)
            + _curves(unit) + _answers(unit))


def _execution(run: ExecutionSummary) -> str:
    outcome = {"completed": "completed", "timeout": "stopped: time limit", "dead_kernel": "stopped: the kernel died",
               "memory_limit": "stopped: memory limit", "startup_failed": "could not start"}.get(run.outcome, run.outcome)
    lines = [f"<p><strong>{_e(Path(run.source_file).name or 'notebook')}</strong> ran in {run.seconds:.1f} s: "
             f"{_e(outcome)}{' (' + _e(run.message) + ')' if run.message else ''}</p><ul>"]
    if run.fork_note():
        lines.append(f"<li>{_e(run.fork_note())}</li>")
    for edit in run.edits:
        lines.append(f"<li>{_e(edit.note)}</li>")
    for cell in run.cells:
        if cell.status not in ("ok", "not_run"):
            lines.append(f"<li>{_e(cell.where)}: {_e(cell.ename)}: {_e(cell.evalue.splitlines()[0] if cell.evalue else '')}</li>")
    not_run = [str(c.index + 1) for c in run.cells if c.status == "not_run"]
    if not_run:
        lines.append(f"<li>cells not run: {', '.join(not_run)}</li>")
    return "".join(lines) + "</ul>"


def _meta(result: SubmissionResult) -> str:
    """Files, grader version and seeds; only what is known (an ungraded upload has no seeds)."""
    bits = [_e(", ".join(Path(s).name for s in result.sources))]
    if result.grader_version:
        bits.append(f"d2l-grade {_e(result.grader_version)}")
    if result.executions and result.seed_policy:
        bits.append(f"seeds: {_e(result.seed_policy)}")
    return f'<p class="meta">{" &middot; ".join(bits)}</p>'


def _section(result: SubmissionResult, references: Mapping[str, Sequence[dict[str, Any]]]) -> str:
    who = f" &mdash; {_e(result.student)}" if result.student else ""
    parts = [f"<h1>Feedback{who}</h1>", _meta(result),
             f'<p class="total">Total: {_e(show_points(result.score, result.max_score))}</p>']
    parts += [_unit(u, references.get(u.id, [])) for u in result.units]
    if result.executions:
        parts.append("<h2>How the notebook ran</h2>" + "".join(_execution(r) for r in result.executions))
    return "<section>" + "".join(parts) + "</section>"


def render_html(results: Sequence[SubmissionResult], *,
                references: Mapping[str, Sequence[dict[str, Any]]] | None = None, title: str = "") -> str:
    """One self-contained HTML document for ``results`` (usually one submission).

    ``references`` maps an exercise id to the reference figures, in the order drawn."""
    references = references or {}
    title = title or ("Feedback: " + ", ".join(r.student or Path(r.sources[0]).stem for r in results))
    body = "<hr>".join(_section(r, references) for r in results)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{body}</body></html>\n")


def write_html(results: Sequence[SubmissionResult], path: Path, *,
               references: Mapping[str, Sequence[dict[str, Any]]] | None = None) -> None:
    """Write :func:`render_html` of ``results`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results, references=references), encoding="utf-8")
