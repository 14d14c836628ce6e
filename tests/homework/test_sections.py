"""Section finding without a kernel: heading styles, wrong numbers, no headings, split
files, merged cells, discussions."""

from __future__ import annotations

from pathlib import Path

import pytest

from book import BOOK, homework_cells, section_cells
from nbfactory import code, md, notebook, write
from grader.homeworks.d2l_ch2_5 import SECTIONS as SPECS
from grader.notebook.load import read_notebook
from grader.homework.sections import CellRef, discussion_text, find_sections, heading_claims, place_cells
from grader.notebook.static import analyse


def _found(tmp_path: Path, *cell_lists: list) -> dict[str, object]:
    parts = []
    for i, cells in enumerate(cell_lists):
        nb = read_notebook(write(notebook(cells), tmp_path / f"part{i}.ipynb"))
        parts.append((nb, analyse(nb.cells)))
    return {s.id: s for s in find_sections(parts, SPECS)}


@pytest.mark.parametrize("line, claims", [
    ("## 2.1 Data Manipulation", ["2.1"]),
    ("# 2.1", ["2.1"]),
    ("#5.1", ["5.1"]),
    ("**2.2 Data Preprocessing**", ["2.2"]),
    ("2.3. Linear Algebra", ["2.3"]),
    ("2.1.3 Operations", ["2.1"]),
    ("2.1. Discussion", ["2.1"]),
    ("2.5 Data Manipulation", ["2.5", "2.1"]),          # number and title disagree: both, number first
    ("2.4.2.backward for non-scalar variables", ["other:2.4"]),
    ("## Automatic Differentitation", ["2.5"]),         # a typo in the title
    ("### Softmax Regression Implementation from Scratch", ["4.4"]),
    ("## Linear Regression", ["3.1"]),
    ("# Chapter 3 Linear Neural Networks", ["other:chapter"]),
    ("2.5 times faster than the loop, as expected.", None),  # prose, not a heading
    ("We used 2.1 GB of memory", None),
    ("", None),
])
def test_heading_claims(line: str, claims: list[str] | None) -> None:
    assert heading_claims(line, SPECS) == claims


def test_book_code_with_markdown_headings(tmp_path: Path) -> None:
    found = _found(tmp_path, homework_cells())
    assert {sid: s.how for sid, s in found.items()} == {
        sid: ("heading" if sid in ("4.1", "5.3") else "heading and code") for sid in found}
    # the heading, then each of the book's cells
    assert [len(found[s].code_cells) for s in ("2.1", "2.2", "4.4")] == [len(BOOK["2.1"]), len(BOOK["2.2"]), len(BOOK["4.4"])]
    assert all(not s.notes for s in found.values())


@pytest.mark.parametrize("style", ["# {id}", "#{id}", "**{id} {title}**", "{id} {title}", "{id}. {title}"])
def test_heading_styles(tmp_path: Path, style: str) -> None:
    found = _found(tmp_path, homework_cells(["2.1", "2.2", "2.3"], style=style, parameters=False))
    assert [(s.id, s.how, len(s.code_cells)) for s in found.values() if s.present] == [
        ("2.1", "heading and code", len(BOOK["2.1"])), ("2.2", "heading and code", len(BOOK["2.2"])),
        ("2.3", "heading and code", len(BOOK["2.3"]))]


def test_no_headings_at_all(tmp_path: Path) -> None:
    found = _found(tmp_path, homework_cells(["2.1", "2.5", "3.4"], style="", parameters=False))
    assert [(s.id, s.how) for s in found.values() if s.present] == [
        ("2.1", "code (no heading)"), ("2.5", "code (no heading)"), ("3.4", "code (no heading)")]
    assert len(found["2.5"].code_cells) == len(BOOK["2.5"])


def test_number_and_title_disagree(tmp_path: Path) -> None:
    # "2.5 Data Manipulation" over the autograd code: the number agrees with the code
    cells = section_cells("2.1") + [md("## 2.5 Data Manipulation")] + [code(s) for s in BOOK["2.5"]]
    found = _found(tmp_path, cells)
    assert len(found["2.5"].code_cells) == len(BOOK["2.5"])
    assert found["2.5"].headings[0][1] == "## 2.5 Data Manipulation"
    assert len(found["2.1"].code_cells) == len(BOOK["2.1"])


def test_wrong_heading_is_overruled_by_its_code(tmp_path: Path) -> None:
    # a second "2.1" heading over 2.5's code: the whole segment goes to 2.5, with a note
    cells = section_cells("2.1") + [md("## 2.1 Data Manipulation (continued)")] + [code(s) for s in BOOK["2.5"]]
    found = _found(tmp_path, cells)
    assert len(found["2.5"].code_cells) == len(BOOK["2.5"])
    assert len(found["2.1"].code_cells) == len(BOOK["2.1"])
    assert found["2.5"].notes == ["the heading at cell 26 claims 2.1, but the code under it is 2.5's"]


def test_whole_section_merged_into_one_cell(tmp_path: Path) -> None:
    found = _found(tmp_path, homework_cells(["2.1", "2.2"], merged=["2.1"], parameters=False))
    assert found["2.1"].how == "heading and code"
    assert len(found["2.1"].code_cells) == 1
    assert len(found["2.1"].fingerprints) == len(SPECS[0].fingerprints)


def test_chapters_split_across_files(tmp_path: Path) -> None:
    found = _found(tmp_path, homework_cells(["2.1", "2.2"]), homework_cells(["3.1", "3.2"]))
    assert {c.part for c in found["2.1"].cells} == {0}
    assert {c.part for c in found["3.2"].cells} == {1}
    assert found["3.1"].cells[0] == CellRef(1, 2)
    assert CellRef(1, 2).label(["ch2.ipynb", "ch3.ipynb"]) == "ch3.ipynb cell 3"


def test_missing_section_and_extra_book_section(tmp_path: Path) -> None:
    cells = section_cells("2.1") + [md("## 2.4 Calculus"), code("import numpy as np\ndef f(x):\n    return 3 * x ** 2")] \
        + section_cells("2.5")
    found = _found(tmp_path, cells)
    assert not found["2.2"].present and not found["2.3"].present
    placements = place_cells(read_notebook(tmp_path / "part0.ipynb"), analyse(read_notebook(tmp_path / "part0.ipynb").cells), SPECS)
    calculus = [p for p in placements if p.ref.cell in (len(section_cells("2.1")), len(section_cells("2.1")) + 1)]
    assert [(p.section, p.reason) for p in calculus] == [(None, "other"), (None, "other")]


def test_code_comment_heading(tmp_path: Path) -> None:
    cells = [code("# 3.1 Linear Regression\n" + BOOK["3.1"][0])] + [code(s) for s in BOOK["3.1"][1:]]
    found = _found(tmp_path, cells)
    assert found["3.1"].how == "heading and code" and len(found["3.1"].code_cells) == len(BOOK["3.1"])


def test_discussion_text_keeps_own_words_only() -> None:
    text, marker = discussion_text([
        "## 2.1 Data Manipulation\n\n### Discussion\n텐서는 메모리를 공유한다. Reshape shares storage.",
        "1. What happens if we use X < Y?\n2. Try 3-D tensors?",
        "> quoted from the book\n\nThe section :numref:`sec_ndarray` shows tensors.",
        "```python\nx = 1\n```\nMy note after code.",
    ], SPECS)
    assert marker
    assert text == "텐서는 메모리를 공유한다. Reshape shares storage.\nMy note after code."
