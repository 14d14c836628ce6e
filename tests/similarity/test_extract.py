"""Extraction: what of a notebook is the student's own, before the class is compared."""

from __future__ import annotations

from pathlib import Path

from nbfactory import code, md, notebook, write

from grader.classroom.similarity.extract import Extract, build_base, extract_notebooks

REPO = Path(__file__).resolve().parents[2]


def _own(extract: Extract) -> list[str]:
    return [text for cell in extract.code for _, text in cell.lines]


def test_book_fingerprints_magics_and_stub_code_are_not_own(tmp_path: Path) -> None:
    nb = notebook([
        md("## 2.1 Data Manipulation"),
        code("%matplotlib inline\n!pip install d2l\nimport torch\n"
             "x = torch.arange(12, dtype=torch.float32)\nx.numel()"),
        code("print(x.numel())\nmine = x.reshape(2, 6).sum(axis=0)"),
        code('print(broadcast_shape((2, 3, 1), (2, 1, 3)))   # (2, 3, 3)\nprint(broadcast_shape((3, 1), (4,)))'),
    ], homework="d2l-ch2-5")
    base = build_base(homework_id="d2l-ch2-5")
    extract = extract_notebooks("alice", [write(nb, tmp_path / "a.ipynb")], base)
    # `import torch` is in the released stubs; the rest are the book's fingerprints and a magic
    assert _own(extract) == ["mine = x.reshape(2, 6).sum(axis=0)"]
    assert [(c.cell, c.book, c.section) for c in extract.code] == [(2, True, "2.1")]
    assert {"x", "mine"} <= set(extract.bound) and "torch" not in extract.bound


def test_prompts_questions_headings_and_stub_text_are_not_own_prose(tmp_path: Path) -> None:
    nb = notebook([
        md("## 2.1 Data Manipulation"),
        md("### Discussion\n\nDo 3-D tensors broadcast as you expect?\n\n"
           "Section 2.1 adds two tensors of *different* shapes by broadcasting: each tensor is\n"
           "virtually copied along the axes where it has size 1 until both shapes agree.\n\n"
           "> quoted from the book, not mine\n\n"
           "I checked (2, 3, 1) + (2, 1, 3) and got (2, 3, 3), as the rule says. 행렬 곱은 mv로 계산했다."),
    ], exercises=["broadcasting"])
    base = build_base(exercise_ids=["broadcasting"])
    extract = extract_notebooks("bob", [write(nb, tmp_path / "b.ipynb")], base)
    sentences = [s for block in extract.prose for s in block.sentences]
    assert sentences == ["I checked (2, 3, 1) + (2, 1, 3) and got (2, 3, 3), as the rule says.",
                         "행렬 곱은 mv로 계산했다."]


def test_a_stub_completed_by_the_student_keeps_only_the_students_code(tmp_path: Path) -> None:
    stub = (REPO / "exercises" / "broadcasting.ipynb").read_text(encoding="utf-8")
    own_body = "    return tuple(max(a, b) for a, b in zip(shape_a, shape_b))"
    path = tmp_path / "c.ipynb"
    placeholder = '    raise NotImplementedError(\\"your solution here\\")'  # as the notebook's JSON spells it
    path.write_text(stub.replace(placeholder, own_body.replace('"', '\\"'), 1), encoding="utf-8")
    extract = extract_notebooks("carol", [path], build_base(exercise_ids=["broadcasting"]))
    own = _own(extract)
    # the completed function is the student's; the stub's untouched cells are not
    assert len(own) == 1 and own[0].startswith("def broadcast_shape") and own[0].endswith(own_body.strip())


def test_an_unreadable_notebook_is_a_note_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    extract = extract_notebooks("dave", [bad], build_base())
    assert extract.code == [] and "not valid JSON" in extract.problem


def test_extracts_round_trip_through_plain_data(tmp_path: Path) -> None:
    nb = notebook([md("# notes"), code("w = 3\nprint(w * 2)"), md("My own sentence about weights.")])
    extract = extract_notebooks("erin", [write(nb, tmp_path / "e.ipynb")], build_base())
    again = Extract.from_dict(extract.to_dict())
    assert again == extract and again.code[0].lines == [(1, "w = 3"), (2, "print(w * 2)")]


def test_pathological_cells_are_left_out_and_the_rest_still_counts(tmp_path: Path) -> None:
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000
    nb = notebook([code(deep), code("y = 'a\x00b'\nprint(y)"), code("weights = [w * 2 for w in range(9)]")])
    extract = extract_notebooks("frank", [write(nb, tmp_path / "f.ipynb")], build_base())
    own = _own(extract)
    assert "weights = [w * 2 for w in range(9)]" in own
    assert "print(y)" in " ".join(own)
