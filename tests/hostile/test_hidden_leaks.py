"""Hidden inputs stay hidden and are each student's own (issue 14, item 7).

Every exercise is graded with a secret on a wrong notebook generated here from one
template: each function the probes call returns its first argument or raises an error
holding its arguments, by turns, so every message that quotes what the notebook did
would quote the hidden inputs. The kernel-free part runs the probes through the
kernel's own evaluator in this process; one end-to-end run adds the pipeline, a later
cell that raises the inputs it kept, and the renderers with and without --show-hidden.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from grader.checking.probe import Args, Calls, Frame, Steps
from grader.config import Options
from grader.engine.runtime import MIME_RESULT, load_namespace
from grader.notebook.load import read_notebook
from grader.notebook.static import analyse
from grader.pipeline import grade
from grader.protocol import ExecutionRun, RawAnswer
from grader.registry import exercises
from grader.report.gradescope import to_gradescope
from grader.report.html import render_html
from grader.report.junit import to_junit
from grader.report.terminal import print_report
from grader.results import ExecutionSummary, SubmissionResult
from grader.seeds import student_secret
from grader.checking.checks import Check
from grader.units.context import UnitContext
from grader.units.redact import redact
from grader.units.score import make_result
from nbfactory import code, notebook, write

SECRET = "leak-test-secret"
STUDENT = "alice"
TRAININGS = {"mlp_fashion_mnist", "softmax_fashion_mnist"}  # need the data store's 60,000 images

WRONG = '''
_turn = [0]

def _wrong(*args, **kwargs):
    _turn[0] += 1
    if _turn[0] % 2:
        raise ValueError("inputs were %r %r" % (args, kwargs))
    return args[0] if args else None
'''


def wrong_notebook(names: set[str]) -> str:
    """Source of a notebook defining every name in ``names`` as the wrong function."""
    return WRONG + "".join(f"\n{name} = _wrong\n" for name in sorted(names))


def called(exercise: Any) -> set[str]:
    """The notebook functions the exercise's probes call (with public inputs)."""
    names: set[str] = set()
    for spec in exercise.probes.values():
        descriptor = spec.descriptor(np.random.default_rng(0))
        if isinstance(descriptor, Calls):
            names.add(descriptor.function)
        elif isinstance(descriptor, Steps):
            names |= {node["name"] for node in _nodes(descriptor.steps) if node.get("kind") == "global"}
    return names


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _nodes(item)


def run_in_process(calls: list[Any], user_ns: dict[str, Any], data_dir: Path) -> ExecutionRun:
    """Each probe request evaluated by the kernel's runtime here, as the kernel would."""
    runtime = load_namespace()
    published: list[dict[str, Any]] = []
    runtime._ORIG.update({"user_ns": user_ns, "json.loads": json.loads,
                          "publish": lambda data, metadata: published.append(data[MIME_RESULT])})
    runtime._CONFIG["data_dir"] = str(data_dir)
    run = ExecutionRun(summary=ExecutionSummary())
    for call in calls:
        runtime.answer(json.dumps(dict(call.request, nonce="n")))
        run.answers[call.key] = RawAnswer("ok", json.loads(json.dumps(published.pop())))
    return run


def _texts(value: Any, out: set[str]) -> None:
    """How a hidden input could show in a report: reprs of tuples and lists, strings of
    three or more characters, non-integral floats in the usual formats."""
    if isinstance(value, Args):
        for item in list(value.args) + list(value.kwargs.values()):
            _texts(item, out)
    elif isinstance(value, Frame):
        for name, column in value.columns.items():
            _texts(str(name), out)
            _texts(column if isinstance(column, np.ndarray) else list(column), out)
    elif isinstance(value, str):
        if len(value) >= 3:
            out.add(value)
    elif isinstance(value, np.ndarray):
        for item in value.reshape(-1)[:50].tolist():
            _texts(item, out)
    elif isinstance(value, (tuple, list)):
        if value and len(repr(value)) >= 5:
            out.add(repr(value))
        for item in value[:50]:
            _texts(item, out)
    elif isinstance(value, float) and math.isfinite(value) and value != round(value):
        out.update(f for f in {repr(value), f"{value:.6g}", f"{value:.4g}", f"{value:.3g}"} if "." in f)


def hidden_values(exercise: Any, ctx: UnitContext) -> set[str]:
    """The hidden inputs' texts, less those the exercise makes public anyway (its public
    probes' inputs, its titles: the scheme name "zero", the example x = 0.5)."""
    hidden: set[str] = set()
    public: set[str] = set()
    for name, spec in exercise.probes.items():
        descriptor = ctx.descriptors[f"{exercise.id}/{name}"]
        if isinstance(descriptor, Calls):
            for item in descriptor.inputs:
                _texts(item, hidden if spec.hidden else public)
    words = " ".join([exercise.title, exercise.section, exercise.summary, *(t.title for t in exercise.tests)])
    return {v for v in hidden - public if not leaks({v}, words)}


def leaks(values: set[str], text: str) -> list[str]:
    """The values found in ``text`` as whole words (a label "fir" is not in "first")."""
    return sorted(v for v in values if re.search(rf"(?<![\w.]){re.escape(v)}(?![\w])", text))


def unexplained(values: set[str], result: SubmissionResult) -> set[str]:
    """``values`` less those a public test's message shows (a public example's expected
    ``(2, 3, 3)`` may equal a hidden pair by chance: public tests see no hidden input)."""
    public = "\n".join(t.message for t in result.tests if not t.hidden)
    return {v for v in values if not leaks({v}, public)}


def student_facing(result: SubmissionResult) -> dict[str, str]:
    """Every document a student may see of ``result``."""
    terminal = io.StringIO()
    print_report(result, file=terminal)
    page = re.sub(r"<style>.*?</style>", "", render_html([result]), flags=re.S)
    return {"gradescope": json.dumps(to_gradescope(result), ensure_ascii=False), "junit": to_junit([result]),
            "html": html.unescape(re.sub(r"<[^>]+>", " ", page)), "terminal": terminal.getvalue()}


def grade_in_process(exercise: Any, tmp_path: Path, data_dir: Path) -> tuple[SubmissionResult, set[str]]:
    source = wrong_notebook(called(exercise))
    path = write(notebook([code(source, f"exercise:{exercise.id}")], exercises=[exercise.id]),
                 tmp_path / f"{exercise.id}.ipynb")
    nb = read_notebook(path)
    ctx = UnitContext(notebook=nb, codes=analyse(nb.cells), secret=student_secret(SECRET, STUDENT),
                      origin_to_position=lambda i: i, show_hidden_details=False, data_root=data_dir)
    calls = exercise.plan(ctx)
    user_ns: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), user_ns)  # the test's own wrong functions, not a student's
    run = run_in_process(calls, user_ns, data_dir)
    unit = exercise.evaluate([(ctx, run)])
    result = SubmissionResult(sources=[str(path)], units=[unit], student=STUDENT, seed_policy="secret")
    return result, hidden_values(exercise, ctx)


def _ids() -> list[str]:
    return sorted(exercises())


@pytest.mark.parametrize("exercise_id", _ids())
def test_no_hidden_input_reaches_what_students_see(exercise_id: str, tmp_path: Path, options: Options) -> None:
    exercise = exercises()[exercise_id]
    if exercise_id in TRAININGS and not (options.data_path / "fashion-mnist").exists():
        pytest.skip("the data store has no Fashion-MNIST")
    result, values = grade_in_process(exercise, tmp_path, options.data_path)
    values = unexplained(values, result)
    hidden_tests = [t for t in result.tests if t.hidden]
    assert hidden_tests and all(t.score == 0 for t in hidden_tests)
    for where, text in student_facing(result).items():
        leaked = leaks(values, text)
        assert not leaked, f"{exercise_id}: {where} shows hidden inputs {leaked[:5]}"
        assert "seeds" not in json.dumps([t.details for t in hidden_tests])
    # the instructor still has every shortened message in full
    assert all("full message: " in t.details.get("instructor_detail", "") for t in hidden_tests
               if "hidden case" in t.message)


def test_the_failing_hidden_case_is_named(tmp_path: Path, options: Options) -> None:
    exercise = exercises()["broadcasting"]
    result, _ = grade_in_process(exercise, tmp_path, options.data_path)
    messages = {t.name.split(": ", 1)[1]: t.message for t in result.tests}
    compatible = messages["broadcast_shape on hidden pairs that broadcast (ranks 0-4)"]
    # the first call raises (odd turn), the second returns its first argument
    assert compatible == ("0 of 13 hidden compatible pairs correct; first problem: hidden case 1 of 25: "
                          "`broadcast_shape(…, …)` raised ValueError")
    incompatible = messages["broadcast_shape raises ValueError on hidden pairs that do not broadcast"]
    assert incompatible.startswith("0 of 12 hidden incompatible pairs correct; first problem: hidden case 2 of 25: "
                                   "`broadcast_shape(…, …)` should raise ValueError, but it returned …")


def test_hidden_inputs_are_each_students_own(tmp_path: Path) -> None:
    exercise = exercises()["broadcasting"]
    path = write(notebook([code("def broadcast_shape(a, b):\n    return a", "exercise:broadcasting")]),
                 tmp_path / "nb.ipynb")
    nb = read_notebook(path)

    def hidden_pairs(secret: str, student: str) -> list[Any]:
        ctx = UnitContext(notebook=nb, codes=analyse(nb.cells), secret=student_secret(secret, student),
                          origin_to_position=lambda i: i)
        exercise.plan(ctx)
        return [a.args if isinstance(a, Args) else a for a in ctx.descriptors["broadcasting/hidden_calls"].inputs]

    alice, bob = hidden_pairs(SECRET, "alice"), hidden_pairs(SECRET, "bob")
    assert alice == hidden_pairs(SECRET, "alice")  # the instructor reproduces them from secret + id
    assert alice != bob and alice != hidden_pairs(SECRET, "")
    # without a secret everyone has the public inputs, as a local check does
    assert hidden_pairs("", "alice") == hidden_pairs("", "bob") == hidden_pairs("", "")


LATER_CELL = '''
try:
    raise ValueError("I kept %r" % (KEPT[-1],))
finally:
    pass
'''
KEEPING = '''
KEPT = []
def broadcast_shape(shape_a, shape_b):
    KEPT.append((shape_a, shape_b))
    return shape_a
'''


@pytest.mark.kernel
def test_end_to_end_with_a_later_cell_and_the_show_hidden_flag(tmp_path: Path, options: Options) -> None:
    """The probes run after the tagged cell; a later cell raises what the function kept."""
    path = write(notebook([code(KEEPING, "exercise:broadcasting"), code(LATER_CELL)], exercises=["broadcasting"]),
                 tmp_path / "bob" / "hw.ipynb")
    secret = dataclasses.replace(options, secret=SECRET)
    result = grade(path, options=secret, student="bob")
    exercise = exercises()["broadcasting"]
    nb = read_notebook(path)
    ctx = UnitContext(notebook=nb, codes=analyse(nb.cells), secret=student_secret(SECRET, "bob"),
                      origin_to_position=lambda i: i)
    exercise.plan(ctx)
    values = unexplained(hidden_values(exercise, ctx), result)
    for where, text in student_facing(result).items():
        leaked = leaks(values, text)
        assert not leaked, f"{where} shows hidden inputs {leaked[:5]}"
    later = result.executions[0].cells[1]
    assert (later.ename, later.evalue.startswith("(message withheld")) == ("ValueError", True)
    document = to_gradescope(result)
    visibility = {t["name"].split(": ", 1)[1]: t["visibility"] for t in document["tests"]}
    assert visibility["broadcast_shape on hidden pairs that broadcast (ranks 0-4)"] == "after_published"
    assert visibility["broadcast_shape on the example pairs of the exercise text"] == "visible"
    # the instructor asks for the values explicitly
    shown = grade(path, options=dataclasses.replace(secret, show_hidden=True), student="bob")
    text = "\n".join(t.message for t in shown.tests)
    assert leaks(values, text) and "I kept" in shown.executions[0].cells[1].evalue


# -- the student's version of a message, kernel-free ------------------------------------------


@pytest.mark.parametrize("message, texts, student", [
    ("broadcast_shape((5, 1, 2), (1, 1)) returned (5, 1, 3)", {"(5, 1, 3)"}, "broadcast_shape(…, …) returned …"),
    ("`frobenius_norm(X of shape (3, 4), float32)` is off: got 5.2", set(),
     "`frobenius_norm(X of shape …, float32)` is off: got …"),
    ("x3 is 3-D, got np.float64(9.0) and tensor([1., 2.5e-3])", set(), "x3 is 3-D, got np.float64(…) and tensor(…)"),
    ("the target of `split_by_name(frame, 'Price')` is not the column 'Price'", {"Price"},
     "the target of `split_by_name(frame, '…')` is not the column '…'"),
    ("a hidden label 'fir' is not the first word", {"fir"}, "a hidden label '…' is not the first word"),
    ("3 of 4 elements differ; returned '5 of 6'", {"5 of 6"}, "3 of 4 elements differ; returned '…'"),
])
def test_redaction_keeps_words_and_counts(message: str, texts: set[str], student: str) -> None:
    assert redact(message, texts) == student


def test_seeds_of_hidden_tests_are_the_instructors() -> None:
    check = Check(False, "accuracy 0.52 below the band", "expected 0.80", data={"seeds": {"hidden": 123},
                                                                                 "measured": {"accuracy": 0.52}})
    student = make_result("t", 2.0, check, hidden=True, show_detail=False)
    assert student.details["measured"] == {"accuracy": 0.52} and "seeds" not in student.details
    assert student.details["instructor_detail"] == "expected 0.80\nseeds: {'hidden': 123}"
    instructor = make_result("t", 2.0, check, hidden=True, show_detail=True)
    assert instructor.details["seeds"] == {"hidden": 123} and instructor.message.endswith("expected 0.80")
