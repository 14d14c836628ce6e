"""HTML feedback: self-contained pages with the student's and the reference figures."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path

import pytest

import grader.course.reference as reference
from classroom import GradedClass, run_cli
from grader import results as R
from grader.report.html import render_html

PNG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def _images(page: str) -> dict[str, str]:
    return {alt: data for alt, data in PNG.findall(page)}


def _self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page


@pytest.mark.kernel
def test_report_shows_student_and_reference_figures(graded_class: GradedClass, tmp_path: Path, options) -> None:
    done = run_cli("report", "--db", str(graded_class.db), "--html", str(tmp_path / "html"), "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote 6 HTML reports in {tmp_path / 'html'}\n"
    assert sorted(p.name for p in (tmp_path / "html").iterdir()) == [
        "alice.html", "bob.html", "carol.html", "dave.html", "erin.html", "frank.html"]
    page = (tmp_path / "html" / "dave.html").read_text(encoding="utf-8")
    _self_contained(page)
    images = _images(page)
    assert sorted(images) == ["Reference figure 1", "Your figure 1 (code cell 3)"]
    conn = sqlite3.connect(f"file:{graded_class.db}?mode=ro", uri=True)
    stored = json.loads(conn.execute("SELECT result_json FROM submissions WHERE student_id = 'dave'").fetchone()[0])
    conn.close()
    (sin,) = [u for u in stored["units"] if u["id"] == "sin_derivative"]
    assert images["Your figure 1 (code cell 3)"] == sin["extra"]["figures"][0]["png"]  # the kernel's own image
    # The reference is the solution's own figure, from the cache `grade report` filled.
    (ref,) = reference.reference_figures(["sin_derivative"], options=options)["sin_derivative"]
    assert images["Reference figure 1"] == ref["png"]
    assert "x3 and y3 both have shape (2, 3, 1): give them different shapes so that they broadcast" in page
    assert "Total: 15 / 17 (88.2%)" in page
    carol = (tmp_path / "html" / "carol.html").read_text(encoding="utf-8")
    assert "Your submission could not be graded" in carol and "What went wrong: " in carol
    assert "is not valid JSON" in carol and "How to fix it: the file is damaged or is not a notebook" in carol
    assert "seeds:" not in carol and "How the notebook ran" not in carol


@pytest.mark.kernel
def test_reference_figures_are_cached(options, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = reference.reference_figures(["sin_derivative"], options=options, cache_dir=tmp_path)
    assert list(first) == ["sin_derivative"]
    (figure,) = first["sin_derivative"]
    assert [line["label"] for line in figure["axes"][0]["lines"]] == ["f(x) = sin(x)", "f'(x) by autograd"]
    assert base64.b64decode(figure["png"]).startswith(b"\x89PNG")
    assert len(list(tmp_path.glob("sin_derivative-*.json"))) == 1

    async def no_grading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")
    monkeypatch.setattr(reference, "grade_async", no_grading)
    assert reference.reference_figures(["sin_derivative"], options=options, cache_dir=tmp_path) == first


@pytest.mark.kernel
def test_grade_one_notebook_to_html(tmp_path: Path) -> None:
    out = tmp_path / "one.html"
    done = run_cli("solutions/sin_derivative.ipynb", "--html", str(out), "--threads", "1")
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    _self_contained(page)
    assert sorted(_images(page)) == ["Reference figure 1", "Your figure 1 (code cell 3)"]
    assert "Total: 8 / 8 (100%)" in page


def _result_with(extra: dict, message: str = "", details: dict | None = None) -> R.SubmissionResult:
    test = R.TestResult("train: accuracy", 1.0, 2.0, "failed", message, details=details or {})
    unit = R.UnitResult("train", "Train an MLP", tests=[test], extra=extra)
    return R.SubmissionResult(sources=["x.ipynb"], units=[unit], student="<b>mallory</b>")


def test_curves_are_drawn_with_their_band_and_details_shown() -> None:
    curves = [{"label": "validation accuracy", "x": [1, 2, 3], "y": [0.5, 0.7, 0.8],
               "band_low": [0.45, 0.65, 0.75], "band_high": [0.6, 0.8, 0.9]}]
    page = render_html([_result_with({"curves": curves}, details={"accuracy": 0.8, "band": [0.75, 0.9],
                                                                   "instructor_detail": "secret inputs"})])
    _self_contained(page)
    assert "<h3>Learning curves</h3>" in page
    assert list(_images(page)) == ["your curves against the reference band (shaded)"]
    assert "<tr><th>accuracy</th><td>0.8</td></tr>" in page and "<tr><th>band</th><td>0.75, 0.9</td></tr>" in page
    assert "secret inputs" not in page
    assert '<span class="badge partial">PART</span>' in page


def test_curves_get_full_marks_reference_chance_and_the_scored_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.report.html as html_report

    drawn: list[dict] = []
    monkeypatch.setattr(html_report, "curves_png", lambda curves, **marks: drawn.append(marks) or "AAAA")
    curves = [{"label": "test accuracy after each epoch (kernel outputs)", "x": [1, 2], "y": [0.7, 0.8],
               "band_low": None, "band_high": None, "test": "train: accuracy"}]
    details = {"measured": {"accuracy": 0.8123, "accuracy@1": 0.7}, "chance": 0.1,
               "evidence": "rebuilt from its parameters", "reference": {"mean": 0.84, "sd": 0.01, "runs": 10,
                                                                        "full_at": 0.82}}
    page = render_html([_result_with({"curves": curves}, details=details)])
    assert drawn == [{"levels": [{"y": 0.82, "label": "full marks from 0.820", "kind": "full"},
                                 {"y": 0.84, "label": "reference mean 0.840", "kind": "reference"},
                                 {"y": 0.1, "label": "chance 0.1", "kind": "chance"}],
                      "scored": {"x": 2, "y": 0.8123, "evidence": "rebuilt from its parameters"}}]
    assert "the score comes from rebuilt from its parameters" in page
    # measured values as a small table, not a dict dump
    assert "<tr><th>measured</th><td><table class=\"grid\"><tr><th>accuracy</th><td>0.8123</td></tr>" in page
    assert "{&quot;" not in page


def test_the_real_plot_draws_the_levels_outside_legend() -> None:
    from grader.report.plots import curves_png

    curves = [{"label": "accuracy", "x": [1, 2], "y": [0.7, 0.8]}]
    plain = curves_png(curves)
    marked = curves_png(curves, levels=[{"y": 0.82, "label": "full marks from 0.820", "kind": "full"}],
                        scored={"x": 2, "y": 0.81, "evidence": "rebuilt model"})
    assert plain and marked and base64.b64decode(marked).startswith(b"\x89PNG") and marked != plain


def test_notes_come_before_the_failed_rows_and_points_round_once() -> None:
    test = R.TestResult("hw: section 2.1", 0.0, 5.0, "failed", "missing")
    unit = R.UnitResult("hw", "Homework", kind="homework", tests=[test] * 3,
                        notes=["none of the homework's sections was found. Is this the right homework?"])
    page = render_html([R.SubmissionResult(sources=["x.ipynb"], units=[unit], grader_version="0.1.0")])
    assert page.index("Is this the right homework?") < page.index("badge failed")
    weird = R.SubmissionResult(sources=["y.ipynb"], units=[R.UnitResult("u", "U", tests=[
        R.TestResult("u: t", 13.6923, 17.0, "failed")])])
    assert "Total: 13.69 / 17 (80.5%)" in render_html([weird]) and "13.69/17" in render_html([weird])


def test_untrusted_text_and_images_cannot_inject() -> None:
    figure = {"png": 'AAAA"><script>alert(1)</script>', "cell": 2,
              "axes": [{"title": "$\\frac{", "lines": [{"label": "y", "x": [0, 1], "y": [1, None]}]}]}
    page = render_html([_result_with({"figures": [figure]}, message="<script>alert(2)</script>")])
    _self_contained(page)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "&lt;b&gt;mallory&lt;/b&gt;" in page
    images = _images(page)
    assert list(images) == ["Your figure 1 (cell 3)"]  # redrawn from its data, not the forged PNG
    assert base64.b64decode(images["Your figure 1 (cell 3)"]).startswith(b"\x89PNG")

