"""The reference homework re-laid out the ways students lay out the book's code, graded
as handed out.

``solutions/d2l-ch2-5.ipynb`` scores 100/100 as handed out; a student's notebook holding
the same code, laid out otherwise, must score the same. The variants are generated here
from the reference (parsed into its sections: heading, the book's cells, the exercise
answers, the discussion) and each combines several transformations, so that one graded
notebook exercises many of them:

* ``merged_bold``: every section's book code merged into one cell; headings in bold
  (``**2.1 Data Manipulation**``), bold number-only (``**2.5**``) and ``# Section 3.1``;
  exercises headed ``**Exercise 1**``, discussions ``**Discussion:**``;
* ``split_plain``: every code cell (the book's and the exercise answers) split into one
  cell per top-level statement (tests/layouts/layouts.py), plain-text headings (``2.1 Data Manipulation``, no ``#``),
  a markdown note between book cells, a cell printing the values a book cell bound after
  it, exercises headed ``Q1.``;
* ``chapters``: the notebook split into four chapter files graded as one submission,
  each opening with ``# Chapter N`` and its own ``max_epochs`` cell; headings
  ``### 2.1. Data Manipulation`` and title-only ``## Linear Algebra``; a helper cell of
  the student's own (tests/layouts/layouts.py ``HELPER``) and a markdown note after
  every third book cell.

No variant keeps a tag or the grader's metadata: the ``parameters`` cell is written
with the homework's grading budget itself (as tests/layouts does), so trainings stay as
short as when it is tagged. Each variant must give every section the reference's
outcome (present, its book code ran with nothing failed, the same errors excused for
the same exercises, no checkpoint failed), every exercise the reference's status, every
model goal its points, and 100 in total.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layouts"))

from layouts import HELPER, split_statements  # noqa: E402
from nbfactory import code, md, notebook, write  # noqa: E402

from grader.homework.sections import NUMBER  # noqa: E402
from grader.pipeline import grade  # noqa: E402

pytestmark = pytest.mark.kernel
HW = "d2l-ch2-5"
REFERENCE = Path(__file__).resolve().parents[2] / "solutions" / "d2l-ch2-5.ipynb"
BUDGET = "max_epochs = 1"
CHAPTER_TITLES = {"2": "Preliminaries", "3": "Linear Neural Networks for Regression",
                  "4": "Linear Neural Networks for Classification", "5": "Multilayer Perceptrons"}

# The reference as handed out: every exercise it answers and how it is judged ...
EXERCISES = dict.fromkeys(["2.1-1", "2.1-2", "2.2-1", "2.5-4", "3.2-2", "3.4-1", "3.4-2", "3.4-3", "5.1-act", "5.2-1"],
                          "correct")
# ... and the cells of a section that raise on purpose, by the exercise they answer.
EXCUSED = {"2.1": ["2.1-2"], "3.2": ["3.2-2"]}


# -- the reference, parsed ------------------------------------------------------------

@dataclass
class Section:
    """One section of the reference: its number, title, book cells, exercises, discussion."""

    id: str
    title: str
    book: list[str] = field(default_factory=list)
    exercises: list[tuple[str, list[str]]] = field(default_factory=list)   # (exercise id, code sources)
    discussion: str = ""


def _parse_reference() -> tuple[list[Section], str]:
    """The reference's sections, and the source of its parameters cell."""
    nb = nbformat.read(REFERENCE, as_version=4)
    sections: list[Section] = []
    parameters = ""
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            parameters = text
        elif cell.cell_type == "markdown" and text.startswith("## "):
            m = NUMBER.match(text[3:])
            assert m, text
            sections.append(Section(f"{m.group(1)}.{m.group(2)}", m.group(4).strip()))
        elif cell.cell_type == "markdown" and text.startswith("#### Exercise "):
            sections[-1].exercises.append((text.split()[-1], []))
        elif cell.cell_type == "markdown" and text.startswith("### Discussion"):
            sections[-1].discussion = text.split("\n", 1)[1].strip()
        elif cell.cell_type == "code" and sections:
            target = sections[-1].exercises[-1][1] if sections[-1].exercises else sections[-1].book
            target.append(cell.source)
        else:
            assert not sections, f"unexpected cell in the reference: {text[:60]!r}"
    assert parameters, "the reference has no parameters cell"
    return sections, parameters


SECTIONS, _ = _parse_reference()


# -- transformations --------------------------------------------------------------------

def _bound_names(source: str) -> list[str]:
    """Plain names the top-level statements of ``source`` assign (not functions or classes)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) else [])
        for target in targets:
            for elt in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                if isinstance(elt, ast.Name) and elt.id not in names:
                    names.append(elt.id)
    return names


def _print_cell(source: str) -> list[nbformat.NotebookNode]:
    """A cell printing what a book cell bound (``print('X:', type(X).__name__, X)``), if anything."""
    names = _bound_names(source)
    if not names:
        return []
    return [code("\n".join(f"print('{n}:', type({n}).__name__, getattr({n}, 'shape', ''))" for n in names))]


@dataclass(frozen=True)
class Layout:
    """How a variant writes the reference (each field one transformation)."""

    heading: Callable[[Section], str]
    exercise_heading: Callable[[int, str], str]
    discussion_heading: str
    merge_book: bool = False
    split: bool = False           # the book's cells split into one cell per statement
    split_answers: bool = False   # the exercise answers too
    notes_every: int = 0          # a markdown note after every n-th book cell (0: none)
    prints: bool = False          # a cell printing the values each book cell bound
    helpers_every: int = 0        # a helper cell of the student's own after every n-th book cell
    chapters: bool = False        # one file per chapter


def _code_cells(sources: list[str], split: bool) -> list[nbformat.NotebookNode]:
    cells = []
    for source in sources:
        cells += [code(p) for p in (split_statements(source) if split else [source])]
    return cells


def _book_cells(section: Section, layout: Layout) -> list[nbformat.NotebookNode]:
    if not section.book:
        return []
    if layout.merge_book:
        return [code("\n\n".join(s.strip() for s in section.book))]
    cells: list[nbformat.NotebookNode] = []
    for number, source in enumerate(section.book, 1):
        cells += _code_cells([source], layout.split)
        if layout.prints:
            cells += _print_cell(source)
        if layout.notes_every and number % layout.notes_every == 0:
            cells.append(md(f"Note: step {number} of the book's code ran as the book shows; "
                            "I checked the shapes myself."))
        if layout.helpers_every and number % layout.helpers_every == 0:
            cells.append(code(HELPER))
    return cells


def _section_cells(section: Section, layout: Layout) -> list[nbformat.NotebookNode]:
    cells = [md(layout.heading(section))] + _book_cells(section, layout)
    for number, (exercise, sources) in enumerate(section.exercises, 1):
        cells.append(md(layout.exercise_heading(number, exercise)))
        cells += _code_cells(sources, layout.split_answers)
    cells.append(md(f"{layout.discussion_heading}\n\n{section.discussion}"))
    return cells


def write_variant(layout: Layout, directory: Path) -> list[Path]:
    """The reference rewritten in ``layout``: one notebook, or one per chapter."""
    title = md("# Deep Learning homework 1: d2l chapters 2-5")
    if not layout.chapters:
        cells = [title, code(BUDGET)]
        for section in SECTIONS:
            cells += _section_cells(section, layout)
        return [write(notebook(cells), directory / "hw.ipynb")]
    paths = []
    for chapter, name in CHAPTER_TITLES.items():
        cells = [md(f"# Chapter {chapter} {name}"), code(BUDGET)]
        for section in (s for s in SECTIONS if s.id.split(".")[0] == chapter):
            cells += _section_cells(section, layout)
        paths.append(write(notebook(cells), directory / f"ch{chapter}.ipynb"))
    return paths


def _mixed_bold(section: Section) -> str:
    chapter_first = {"2.1", "3.1", "4.1", "5.1"}
    if section.id in chapter_first:
        return f"# Section {section.id}"
    if section.id in ("2.5", "4.3"):
        return f"**{section.id}**"
    return f"**{section.id} {section.title}**"


def _chapters_heading(section: Section) -> str:
    if section.id in ("2.3", "3.2", "4.2"):
        return f"## {section.title}"
    return f"### {section.id}. {section.title}"


VARIANTS: dict[str, Layout] = {
    "merged_bold": Layout(heading=_mixed_bold, exercise_heading=lambda n, _: f"**Exercise {n}**",
                          discussion_heading="**Discussion:**", merge_book=True),
    "split_plain": Layout(heading=lambda s: f"{s.id} {s.title}", exercise_heading=lambda n, _: f"Q{n}.",
                          discussion_heading="My summary", split=True, split_answers=True, notes_every=2, prints=True),
    "chapters": Layout(heading=_chapters_heading, exercise_heading=lambda n, e: f"### Exercise {n} ({e})",
                       discussion_heading="#### Discussion", notes_every=3, helpers_every=3, chapters=True),
}


# -- the outcome compared ---------------------------------------------------------------------

def _outcome(result: Any) -> dict[str, Any]:
    """What must not depend on the layout: per section, per exercise, per test."""
    [unit] = result.units
    sections = {}
    for s in unit.extra["sections"]:
        excused = sorted({e.rsplit("(", 1)[1].split(",")[0].rstrip(")") for e in s["ran"]["expected_errors"]})
        sections[s["id"]] = {
            "present": s["present"], "failed": s["ran"]["failed"], "environment": s["ran"]["environment"],
            "ran": s["ran"]["ok"] + len(s["ran"]["expected_errors"]) == s["ran"]["code_cells"],
            "excused": excused, "exercises": s["exercises"],
            "checkpoints failed": [(c["title"], c["status"], c["message"]) for c in s["checkpoints"]
                                   if c["status"] not in ("passed", "unmeasurable")]}
    return {"sections": sections, "exercises": {e["id"]: e["status"] for e in unit.extra["exercises"]},
            "messages": {e["id"]: _without_cells(e["message"]) for e in unit.extra["exercises"]},
            "tests": {t.name: t.score for t in unit.tests if t.score != t.max_score}, "notes": unit.notes,
            "score": result.score}


def _without_cells(message: str) -> str:
    """An exercise's message without the cell labels, which every layout numbers differently,
    and without its numbers (a chapter file runs in a kernel of its own, whose random draws
    differ): what was found and measured, and how it was judged."""
    message = re.sub(r"(?:(?:ch\d\.ipynb )?cell \d+(?:, )?)+: ", "", message)
    return re.sub(r" ]", "]", " ".join(re.sub(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", "#", message).split()))


def _expected(messages: dict[str, str]) -> dict[str, Any]:
    sections = {}
    for s in SECTIONS:
        sections[s.id] = {"present": True, "failed": [], "environment": [], "ran": True,
                          "excused": EXCUSED.get(s.id, []), "exercises": [e for e, _ in s.exercises],
                          "checkpoints failed": []}
    return {"sections": sections, "exercises": EXERCISES, "messages": messages, "tests": {}, "notes": [], "score": 100}


def _messages(result: Any) -> str:
    [unit] = result.units
    return "\n".join(f"{t.name}: {t.score:g}/{t.max_score:g}\n  " + t.message.replace("\n", "\n  ")
                     for t in unit.tests if t.score != t.max_score) + "\n" + "\n".join(
        f"{e['id']}: {e['status']}: {e['message']}" for e in unit.extra["exercises"])


@pytest.fixture(scope="module")
def reference_messages(options: Any) -> dict[str, str]:
    """The reference graded as handed out (it must score 100), and its exercises' messages:
    what each variant's measurements must say too."""
    result = grade([REFERENCE], options=options, homework_id=HW)
    outcome = _outcome(result)
    assert outcome == _expected(outcome["messages"]), _messages(result)
    return outcome["messages"]


def test_reference_as_handed_out(reference_messages: dict[str, str]) -> None:
    assert sorted(reference_messages) == sorted(EXERCISES)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_grades_as_the_reference(variant: str, tmp_path: Path, grade_file: Any,
                                         reference_messages: dict[str, str]) -> None:
    paths = write_variant(VARIANTS[variant], tmp_path)
    result = grade_file(*paths, homework_id=HW)
    assert _outcome(result) == _expected(reference_messages), _messages(result)


def test_variants_drop_tags_and_change_the_layout(tmp_path: Path) -> None:
    """The variants are what they claim: no tag or grader metadata; merged, split, chapter files."""
    reference = nbformat.read(REFERENCE, as_version=4)
    ref_code = sum(c.cell_type == "code" for c in reference.cells)
    counts = {}
    for name, layout in VARIANTS.items():
        paths = write_variant(layout, tmp_path / name)
        nbs = [nbformat.read(p, as_version=4) for p in paths]
        assert all("d2l_grade" not in nb.metadata and not any(c.metadata.get("tags") for c in nb.cells) for nb in nbs)
        counts[name] = (len(paths), sum(c.cell_type == "code" for nb in nbs for c in nb.cells))
    assert counts["merged_bold"][1] < ref_code < counts["split_plain"][1]
    assert counts["chapters"][0] == 4
