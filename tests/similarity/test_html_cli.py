"""The HTML pages, CSV, JSON and export of `grade similarity`, and its command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from nbfactory import code, md, notebook, write

from grader.classroom.similarity import find_similar
from grader.classroom.similarity.output import export_for_tools, write_csv
from grader.cli import main
from grader.report.similarity_html import write_similarity_html

HOSTILE = '<script>alert("x")</script>'
NAME = '=cmd|<img src=x onerror="alert(1)">'  # a file name can hold it: the student id comes from it
ANSWER = ("def fit(volts, amps, steps=200):\n    r = torch.tensor(5.0, requires_grad=True)\n"
          "    for _ in range(steps):\n        loss = ((volts / r - amps) ** 2).mean()\n        loss.backward()\n"
          "        with torch.no_grad():\n            r -= 2.0 * r.grad\n            r.grad.zero_()\n"
          f"    print('{HOSTILE}')\n    return r.item()")


@pytest.fixture
def hostile_class(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    note = f"My note {HOSTILE} on the fit of the resistance value."
    other = ("carol", "x = [i * i for i in range(10)]\nprint(sum(x))", "Squares add up quickly here.")
    for name, body, text in ((NAME, ANSWER, note), ("bob<i>", ANSWER.replace("volts", "u"), note), other):
        folder.mkdir(exist_ok=True)
        nb = notebook([md("## Answer"), code(body), md(text)])
        write(nb, folder / f"{name}.ipynb")
    return folder


def test_pages_escape_student_code_and_names_and_never_say_plagiarism(hostile_class: Path, tmp_path: Path) -> None:
    report = find_similar(folder=hostile_class, workers=1)
    out = tmp_path / "html"
    pages = write_similarity_html(report, out)
    assert pages == 3
    html_files = sorted(out.glob("*.html"))
    assert [p.name for p in html_files] == ["index.html", "pair-0001.html", "pair-0002.html", "pair-0003.html"]
    for page in html_files:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text and "<i>" not in text
        assert "Content-Security-Policy" in text
        assert "plagiari" not in text.lower() and "similar" in text
    top = (out / "pair-0001.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in top and 'class="m0"' in top  # escaped evidence, highlighted


def test_csv_quotes_formula_like_ids_and_export_keeps_files_inside(hostile_class: Path, tmp_path: Path) -> None:
    report = find_similar(folder=hostile_class, workers=1)
    assert write_csv(report, tmp_path / "pairs.csv") == 3
    rows = list(csv.DictReader((tmp_path / "pairs.csv").open(encoding="utf-8")))
    assert all(not r["a"].startswith("=") and not r["b"].startswith("=") for r in rows)
    assert rows[0]["similar"] == "code prose"
    export = tmp_path / "export"
    assert export_for_tools(report, export) == 3
    written = sorted(str(p.relative_to(export)) for p in export.rglob("*") if p.is_file())
    assert written[0] == "base/base.py" and written[1] == "info.csv"
    assert all(p.startswith("submissions/") and p.count("/") == 2 for p in written[2:])
    info = list(csv.DictReader((export / "info.csv").open(encoding="utf-8")))
    assert {r["full_name"] for r in info} == {"'" + NAME, "bob<i>", "carol"}


def test_cli_json_lists_pairs_most_similar_first(hostile_class: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similarity", str(hostile_class), "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert [set(p) >= {"a", "b", "code", "prose", "similar"} for p in pairs] == [True] * 3
    assert {pairs[0]["a"], pairs[0]["b"]} == {NAME, "bob<i>"}
    tops = [max(p["code"], p["prose"]) for p in pairs]
    assert tops == sorted(tops, reverse=True) and tops[0] > 0.9


def test_cli_writes_every_output_and_prints_a_summary(hostile_class: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similarity", str(hostile_class), "--html", str(tmp_path / "h"), "--csv", str(tmp_path / "p.csv"),
                 "--export-dir", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "3 students, 3 pairs compared" in out and "<- similar: code, prose" in out
    assert (tmp_path / "h" / "index.html").is_file() and (tmp_path / "p.csv").is_file()
    assert (tmp_path / "e" / "base" / "base.py").is_file()


@pytest.mark.parametrize("argv, message", [
    ([], "give a FOLDER of submissions or --db GRADEBOOK"),
    (["/no/such/folder"], "not a folder of submissions"),
    (["--db", "/no/such.sqlite"], "no such gradebook"),
    (["{folder}", "--code-threshold", "1.5"], "--code-threshold must be in (0, 1]"),
    (["{folder}", "--prose-threshold", "0"], "--prose-threshold must be in (0, 1]"),
    (["{folder}", "--homework", "d2l-ch2-5", "--exercise", "broadcasting"], "not both"),
    (["{folder}", "--exercise", "nope"], "nope"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, hostile_class: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{folder}", str(hostile_class)) for a in argv]
    try:
        status = main(["similarity", *argv])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
