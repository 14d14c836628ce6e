"""A similarity report as JSON and CSV, and each student's own code for JPlag and Dolos.

``--export-dir DIR`` writes::

    DIR/submissions/<student>/<notebook>.py   the student's own code, one file per notebook
    DIR/base/base.py                          stubs, --base code, and code the class shares
    DIR/info.csv                              Dolos's file list (filename, full_name, labels)

so that ``java -jar jplag.jar -l python3 -bc DIR/base DIR/submissions`` (JPlag 4 and
later take the base code folder as ``-bc``/``--bc``) and ``dolos run -l python
DIR/info.csv`` compare exactly what this command compares.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

from grader.classroom.similarity.compare import SimilarityReport
from grader.classroom.similarity.extract import Extract

__all__ = ["pairs_json", "report_json", "write_csv", "export_for_tools", "safe_name", "summary_lines", "own_code_files"]

CSV_FIELDS = ("a", "b", "code", "prose", "similar", "code_tokens_matched", "code_regions", "prose_sentences_matched",
              "prose_cosine")


def pairs_json(report: SimilarityReport) -> list[dict[str, Any]]:
    """What ``--json`` prints: every pair, most similar first."""
    return [p.to_dict() for p in report.pairs]


def report_json(report: SimilarityReport) -> dict[str, Any]:
    """The whole report as plain data: context, thresholds, what was removed, pairs, clusters."""
    return {"context": report.context, "students": report.students, "thresholds": report.thresholds,
            "shared_by_at_least": report.shared_threshold, "removed": report.removed,
            "clusters": [c.to_dict() for c in report.clusters], "pairs": pairs_json(report), "notes": report.notes}


def _cell(value: Any) -> Any:
    # A student id starting with = + - @ would be a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, list):
        return " ".join(value)
    return value


def write_csv(report: SimilarityReport, path: Path) -> int:
    """One row per pair, most similar first; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in pairs_json(report):
            writer.writerow({k: _cell(row[k]) for k in CSV_FIELDS})
    return len(report.pairs)


def safe_name(name: str) -> str:
    """A file name from a student id or notebook name: no separators, no dot files."""
    cleaned = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._") or "unnamed"
    return cleaned[:100]


def own_code_files(extract: Extract) -> dict[str, str]:
    """The student's own code as ``{notebook.py: source}``, each cell under a comment naming it."""
    files: dict[str, list[str]] = {}
    for cell in extract.code:
        name = safe_name(Path(extract.parts[cell.part]).stem) + ".py"
        header = f"# {extract.label(cell.part, cell.cell)}" + (f" (section {cell.section})" if cell.section else "")
        files.setdefault(name, []).append(header + "\n" + "\n".join(text for _, text in cell.lines) + "\n")
    return {name: "\n".join(chunks) for name, chunks in files.items()}


def _class_code(report: SimilarityReport) -> list[str]:
    """Statements the class shares (book cells of two students, or many students): base code."""
    seen: Counter[str] = Counter()
    book: Counter[str] = Counter()
    first: dict[str, str] = {}
    for extract in report.extracts:
        mine = {text.strip(): cell.book for cell in extract.code for _, text in cell.lines}
        seen.update(mine.keys())
        book.update(k for k, is_book in mine.items() if is_book)
        for key in mine:
            first.setdefault(key, key)
    return [first[k] for k in first if seen[k] >= report.shared_threshold or book[k] >= 2]


def export_for_tools(report: SimilarityReport, folder: Path) -> int:
    """Write the JPlag / Dolos layout into ``folder``; returns the number of student files."""
    subs = folder / "submissions"
    (folder / "base").mkdir(parents=True, exist_ok=True)
    subs.mkdir(parents=True, exist_ok=True)
    base = ["# base code: released stubs, --base files, and code shared by the class (not anybody's own work)"]
    base += [f"# --- {label}\n{source}" for label, source in report.base.code_sources]
    base += ["# --- shared by the class", *_class_code(report)]
    (folder / "base" / "base.py").write_text("\n\n".join(base) + "\n", encoding="utf-8")
    rows, used = [], set()
    for extract in report.extracts:
        student = safe_name(extract.student)
        while student in used:
            student += "_"
        used.add(student)
        for name, source in own_code_files(extract).items():
            target = subs / student / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source, encoding="utf-8")
            rows.append({"filename": str(target.relative_to(folder)), "full_name": extract.student, "labels": ""})
    with open(folder / "info.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=("filename", "full_name", "labels"))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return len(rows)


def summary_lines(report: SimilarityReport, *, top: int = 20) -> list[str]:
    """A short plain-text summary: what was compared and the most similar pairs."""
    flagged = report.flagged()
    lines = [f"{len(report.extracts)} students, {len(report.pairs)} pairs compared ({report.context.split('#')[0]}); "
             f"{len(flagged)} similar at code >= {report.thresholds['code']:.2f} or prose >= "
             f"{report.thresholds['prose']:.2f}",
             f"{'code':>5} {'prose':>5}  pair"]
    for pair in report.pairs[:top]:
        mark = "  <- similar: " + ", ".join(pair.flagged) if pair.flagged else ""
        lines.append(f"{pair.code:5.2f} {pair.prose:5.2f}  {pair.a} / {pair.b}{mark}")
    for cluster in report.clusters:
        lines.append(f"group ({cluster.kind}): {', '.join(cluster.students)}")
    lines += [f"note: {n}" for n in report.notes]
    lines.append("Scores show similarity of the students' own work, not misconduct: read the evidence "
                 "(--html) before drawing any conclusion.")
    return lines
