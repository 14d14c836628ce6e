"""The similarity report as HTML: an index of pairs and one page per pair, side by side.

Student code and text are hostile input: every piece is escaped, pages carry a Content
Security Policy without scripts, and file names are pair numbers, never student ids.
The wording is deliberate: pairs are *similar*, the pages show evidence, a person judges.
"""

from __future__ import annotations

import html
from pathlib import Path

from grader.classroom.similarity.code import Region
from grader.classroom.similarity.compare import Pair, SimilarityReport
from grader.classroom.similarity.extract import CodeCell, Extract

__all__ = ["write_similarity_html", "render_index", "render_pair"]

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1400px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.note{background:#f4f6fa;border-left:4px solid #8aa;padding:.6em 1em;max-width:60em}
.bar{display:inline-block;height:.7em;background:#c66;vertical-align:middle;margin-right:.4em}
.flag{font-weight:600}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
pre{background:#fafafa;border:1px solid #e4e4e4;padding:.4em;overflow-x:auto;margin:.2em 0 1em;font-size:12.5px}
.cell{color:#555;font-size:.9em}
.m0{background:#ffe08a}.m1{background:#b9e4ff}.m2{background:#c8f0c0}.m3{background:#f5c6f0}.m4{background:#ffd0b0}
.m5{background:#d8d0ff}
.ln{color:#999;user-select:none;display:inline-block;width:3em}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="referrer" content="no-referrer"><title>{_e(title)}</title><style>{CSS}</style></head>'
            f"<body>{body}</body></html>\n")


def _bar(score: float) -> str:
    return f'<span class="bar" style="width:{int(round(score * 80))}px"></span>{score:.2f}'


def _explain(report: SimilarityReport) -> str:
    removed = report.removed
    return (
        '<p class="note">Each pair of students is scored twice, in [0, 1]: <b>code</b> (their own code, '
        "with variable names, comments, formatting and cell order ignored) and <b>prose</b> (their own "
        "discussions and written answers). Before comparing, the book's code, the released stubs and "
        f"exercise prompts, and whatever at least {report.shared_threshold} students share were removed "
        f"({removed.get('code_statements', 0)} shared or book statements, {removed.get('code_common', 0)} "
        f"common code k-grams, {removed.get('code_book', 0)} of book cells, {removed.get('code_static', 0)} of "
        f"stubs and given code, {removed.get('prose_common', 0)} common sentences). A high score says the "
        "two are <b>similar</b> and worth reading side by side; it is not a finding. Students may have "
        "worked together as allowed, used the same tutorial, or written the obvious code. Open a pair to "
        "see the evidence and judge for yourself.</p>")


def _pair_row(rank: int, pair: Pair, link: bool) -> str:
    name = f'<a href="pair-{rank:04d}.html">{rank}</a>' if link else str(rank)
    cls = ' class="flag"' if pair.flagged else ""
    return (f"<tr{cls}><td>{name}</td><td>{_e(pair.a)}</td><td>{_e(pair.b)}</td><td>{_bar(pair.code)}</td>"
            f"<td>{_bar(pair.prose)}</td><td>{pair.code_tokens}</td><td>{len(pair.sentences)}</td>"
            f"<td>{_e(', '.join(pair.flagged) or '')}</td></tr>")


def render_index(report: SimilarityReport, shown: int) -> str:
    """The index page: what was compared, clusters, and the most similar pairs."""
    head = ("<tr><th>#</th><th>student</th><th>student</th><th>code</th><th>prose</th><th>code tokens matched</th>"
            "<th>sentences matched</th><th>similar</th></tr>")
    rows = "".join(_pair_row(i + 1, p, i < shown) for i, p in enumerate(report.pairs[:max(shown, 1)]))
    clusters = "".join(f"<li>{_e(c.kind)}: {_e(', '.join(c.students))} ({c.pairs} similar pairs, lowest score "
                       f"{c.score:.2f})</li>" for c in report.clusters) or "<li>none</li>"
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    flagged = len(report.flagged())
    body = (f"<h1>Similar work: {_e(report.context.split('#')[0])}</h1>"
            f"<p>{len(report.extracts)} students, {len(report.pairs)} pairs compared; {flagged} pairs at or above "
            f"the thresholds (code {report.thresholds['code']:.2f}, prose {report.thresholds['prose']:.2f}).</p>"
            f"{_explain(report)}<h2>Groups of three or more</h2><ul>{clusters}</ul>"
            f"<h2>Most similar pairs</h2><table>{head}{rows}</table>"
            + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""))
    return _page("Similar work", body)


def _cell_html(extract: Extract, cell: CodeCell, marks: list[tuple[tuple[int, int], int]]) -> str:
    lines = []
    for first, text in cell.lines:
        for offset, line in enumerate(text.splitlines() or [""]):
            number = first + offset
            color = next((c for (lo, hi), c in marks if lo <= number <= hi), None)
            content = f'<span class="ln">{number}</span>{_e(line)}'
            lines.append(f'<span class="m{color % 6}">{content}</span>' if color is not None else content)
    where = _e(extract.label(cell.part, cell.cell)) + (f" &middot; section {_e(cell.section)}" if cell.section else "")
    return f'<div class="cell">{where}</div><pre>' + "\n".join(lines) + "</pre>"


def _code_side(extract: Extract, cells: list[CodeCell], regions: list[Region], side: str) -> str:
    by_cell: dict[int, list[tuple[tuple[int, int], int]]] = {}
    for color, region in enumerate(regions):
        unit, lines = (region.a_unit, region.a_lines) if side == "a" else (region.b_unit, region.b_lines)
        by_cell.setdefault(unit, []).append((lines, color))
    return "".join(_cell_html(extract, cells[u], marks) for u, marks in sorted(by_cell.items()))


def render_pair(report: SimilarityReport, rank: int, pair: Pair) -> str:
    """One pair: matching code regions and matching sentences, side by side."""
    ea, eb = report.extracts[pair.ia], report.extracts[pair.ib]
    body = [f'<p><a href="index.html">all pairs</a></p><h1>Pair {rank}: {_e(pair.a)} and {_e(pair.b)}</h1>',
            f"<p>code {_bar(pair.code)} &nbsp; prose {_bar(pair.prose)}</p>", _explain(report)]
    if pair.regions:
        body.append(f"<h2>Code: {len(pair.regions)} similar regions ({pair.code_tokens} own tokens)</h2>"
                    "<p>Only the students' own code is shown; matching lines share a colour.</p>")
        body.append(f'<div class="pair"><div><h3>{_e(pair.a)}</h3>'
                    f'{_code_side(ea, report.prints[pair.ia].cells, pair.regions, "a")}</div>'
                    f'<div><h3>{_e(pair.b)}</h3>{_code_side(eb, report.prints[pair.ib].cells, pair.regions, "b")}'
                    "</div></div>")
    else:
        body.append("<h2>Code</h2><p>No similar own code.</p>")
    if pair.sentences:
        da, db = report.docs[pair.ia], report.docs[pair.ib]
        rows = []
        for i, match in enumerate(sorted(pair.sentences, key=lambda m: -m.cosine)):
            block_a, block_b = ea.prose[da.blocks[match.a]], eb.prose[db.blocks[match.b]]
            rows.append(f'<tr><td class="m{i % 6}">{_e(da.sentences[match.a])}<div class="cell">'
                        f"{_e(ea.label(block_a.part, block_a.cell))}</div></td>"
                        f'<td class="m{i % 6}">{_e(db.sentences[match.b])}<div class="cell">'
                        f"{_e(eb.label(block_b.part, block_b.cell))}</div></td><td>{match.cosine:.2f}</td></tr>")
        body.append(f"<h2>Prose: {len(pair.sentences)} similar sentences</h2><table><tr><th>{_e(pair.a)}</th>"
                    f"<th>{_e(pair.b)}</th><th>similarity</th></tr>{''.join(rows)}</table>")
    else:
        body.append("<h2>Prose</h2><p>No similar own sentences.</p>")
    return _page(f"Pair {rank}", "".join(body))


def write_similarity_html(report: SimilarityReport, folder: Path, *, pages: int = 50) -> int:
    """Write ``index.html`` and a page for every flagged pair and at least the top ``pages``
    pairs; returns the number of pair pages."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = max(pages, len(report.flagged()))
    shown = min(shown, len(report.pairs))
    for rank, pair in enumerate(report.pairs[:shown], start=1):
        (folder / f"pair-{rank:04d}.html").write_text(render_pair(report, rank, pair), encoding="utf-8")
    (folder / "index.html").write_text(render_index(report, shown), encoding="utf-8")
    return shown
