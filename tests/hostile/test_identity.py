"""Grades never go to the wrong student (kernel-free): export names, claimed ids,
duplicate ids, symbolic links, and uploads that are not notebooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.classroom.gradebook import Record, open_gradebook
from grader.classroom.submissions import describe, find_submissions
from grader.config import Options
from grader.report.escape import file_name, student_id
from grader.report.export import write_gradescope, write_html_reports
from grader import results
from grader.results import SubmissionResult, UnitResult
from nbfactory import code, notebook, write


def tiny(path: Path, student: str | None = None) -> Path:
    meta = {"d2l_grade": {"exercises": ["broadcasting"], **({"student": student} if student else {})}}
    return write(notebook([code("x3 = 1")], exercises=["broadcasting"], metadata=meta), path)


def ids(root: Path, options: Options, **kw) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s.student, s.problem) for s in describe(find_submissions(root), root, options=options, **kw)]


# -- export names -----------------------------------------------------------------------

@pytest.mark.parametrize("student, name", [
    ("alice_smith", "alice_smith"),
    ("alice~smith", "alice~7esmith"),
    ("alice smith", "alice~20smith"),
    ("../../etc/passwd", "~2e.~2f..~2fetc~2fpasswd"),
    (".hidden", "~2ehidden"),
    ("김민수", "~ea~b9~80~eb~af~bc~ec~88~98"),
    ("=2+5", "~3d2~2b5"),
    ("", "~"),
])
def test_export_names_are_safe_and_reversible(student: str, name: str) -> None:
    assert file_name(student) == name
    assert student_id(name) == student


def test_export_names_of_distinct_ids_are_distinct() -> None:
    students = ["alice~smith", "alice_smith", "alice smith", "alice/smith", "alice\\smith", "alice~7esmith",
                "a" * 300, "a" * 299 + "b", "~", "~~", ".", "..", "_", "-"]
    names = [file_name(s) for s in students]
    assert len(set(names)) == len(students)
    assert all(len(n) <= 150 and "/" not in n and not n.startswith(".") for n in names)
    assert student_id(file_name("a" * 300)) is None  # shortened: distinct, no longer reversible


def _result(student: str, score: float) -> SubmissionResult:
    test = results.TestResult("broadcasting: rule", score, 4.0, "passed" if score == 4 else "failed", "m")
    return SubmissionResult(sources=[f"{student}.ipynb"], units=[UnitResult("broadcasting", "B", tests=[test])],
                            student=student)


def test_colliding_ids_never_overwrite_each_others_exports(tmp_path: Path) -> None:
    with open_gradebook(tmp_path / "gb.sqlite", write=True) as book:
        run = book.start_run(command="t", backend="local", workers=1, seed_policy="public", options={},
                             exercise_versions={}, environment={}, grader_version="0")
        for student, score in (("alice~smith", 1.0), ("alice_smith", 4.0)):
            book.record(run, Record(student=student, source=f"{student}.ipynb", files=[], file_hash=student,
                                    unit_versions={}, status="graded", outcome="completed",
                                    result=_result(student, score)))
        assert write_gradescope(book, tmp_path / "gs") == 2
        assert write_html_reports(book, tmp_path / "html", references={}) == 2
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == ["alice_smith", "alice~7esmith"]
    assert sorted(p.name for p in (tmp_path / "html").iterdir()) == ["alice_smith.html", "alice~7esmith.html"]
    assert '"score": 1.0' in (tmp_path / "gs" / "alice~7esmith" / "results.json").read_text()
    assert '"score": 4.0' in (tmp_path / "gs" / "alice_smith" / "results.json").read_text()


# -- claimed ids (--student-from metadata) ------------------------------------------------

def test_a_claimed_id_never_takes_another_uploads_id(tmp_path: Path, options: Options) -> None:
    root = tmp_path / "class"
    tiny(root / "bob.ipynb")  # bob's own upload, no claim
    tiny(root / "upload_7.ipynb", student="bob")  # mallory claims bob
    tiny(root / "upload_9.ipynb", student="s42")  # an honest claim
    refused = ("upload_7.ipynb: its metadata claims student id 'bob', which belongs to another upload (bob.ipynb); "
               "not graded under that id (--trust-metadata accepts such claims)")
    assert ids(root, options, student_from="metadata") == [("bob", ""), ("upload_7", refused), ("s42", "")]


def test_a_claimed_id_never_replaces_a_graded_students_row(tmp_path: Path, options: Options) -> None:
    root = tmp_path / "class"
    tiny(root / "upload_7.ipynb", student="bob")
    graded = {"bob": {"bob.ipynb"}}  # the gradebook holds bob's row, graded from bob.ipynb
    kw = {"student_from": "metadata", "known_sources": lambda sid: graded.get(sid, set())}
    assert ids(root, options, **kw) == [("upload_7", "upload_7.ipynb: its metadata claims student id 'bob', which "
                                                     "belongs to another upload (bob.ipynb); not graded under that id "
                                                     "(--trust-metadata accepts such claims)")]
    assert ids(root, options, trust_metadata=True, **kw) == [("bob", "")]
    graded["bob"] = {"upload_7.ipynb"}  # a regrade of the same upload keeps its claim
    assert ids(root, options, **kw) == [("bob", "")]


def test_two_claims_of_one_id_each_get_a_row_with_the_reason(tmp_path: Path, options: Options) -> None:
    root = tmp_path / "class"
    tiny(root / "upload_1.ipynb", student="carol")
    tiny(root / "upload_2.ipynb", student="carol")
    tiny(root / "upload_3.ipynb", student="dan")
    why = ("several uploads have the student id 'carol' (upload_1.ipynb, upload_2.ipynb); none is graded under it: "
           "rename them or choose another --student-from")
    expected = [("upload:upload_1.ipynb", f"upload_1.ipynb: {why}"), ("upload:upload_2.ipynb", f"upload_2.ipynb: {why}"),
                ("dan", "")]
    assert ids(root, options, student_from="metadata") == expected
    assert ids(root, options, student_from="metadata", trust_metadata=True) == expected


# -- what leaves the folder, what is not a notebook ---------------------------------------------

def test_symbolic_links_leaving_a_submission_are_refused(tmp_path: Path, options: Options) -> None:
    outside = tiny(tmp_path / "solutions" / "broadcasting.ipynb")
    root = tmp_path / "class"
    tiny(root / "alice" / "hw.ipynb")
    (root / "mallory").mkdir(parents=True)
    os.symlink(outside, root / "mallory" / "hw.ipynb")
    os.symlink(outside, root / "trudy.ipynb")
    os.symlink(tmp_path / "solutions", root / "eve")
    (root / "zed").mkdir()
    tiny(root / "zed" / "a.ipynb")
    os.symlink(root / "zed" / "a.ipynb", root / "zed" / "b.ipynb")  # inside its own folder: fine
    got = ids(root, options)
    assert got == [
        ("alice", ""),
        ("eve", f"eve: is a symbolic link (to {tmp_path / 'solutions'}), not an uploaded file; refused"),
        ("mallory", f"mallory/: holds a symbolic link leaving the folder (mallory/hw.ipynb -> {outside}); refused: "
                    "upload the files themselves"),
        ("trudy.ipynb", f"trudy.ipynb: is a symbolic link (to {outside}), not an uploaded file; refused"),
        ("zed", "")]


def test_every_upload_gets_a_submission(tmp_path: Path, options: Options) -> None:
    root = tmp_path / "class"
    tiny(root / "alice.ipynb")
    (root / "notes.txt").write_text("hi")
    (root / "mallory.zip").write_bytes(b"PK\x03\x04")
    (root / "frank").mkdir()
    (root / "frank" / "hw1.py").write_text("x = 1")
    (root / "gina").mkdir()
    (root / ".DS_Store").write_text("")  # hidden files are not uploads
    subs = describe(find_submissions(root), root, options=options)
    assert [(s.student, s.problem, [f["path"] for f in s.files]) for s in subs] == [
        ("alice", "", ["alice.ipynb"]),
        ("frank", "frank/: no notebook (.ipynb) in the folder (it holds hw1.py)", ["frank/hw1.py"]),
        ("gina", "gina/: no notebook (.ipynb) in the folder (it is empty)", []),
        ("mallory.zip", "mallory.zip: is a zip archive; unpack it and upload the notebook (.ipynb) itself",
         ["mallory.zip"]),
        ("notes.txt", "notes.txt: is not a notebook (.ipynb)", ["notes.txt"])]
    assert len({s.file_hash for s in subs}) == 5
