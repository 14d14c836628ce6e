"""Anti-tampering: what the notebook does to the kernel cannot choose what the grader reads.

Values are read right after the graded cells by the grader's runtime, encoded from exact
types through methods captured at import, and answered once per request with a nonce.
"""

from __future__ import annotations

import pytest

import grader.engine.kernel
from grader.engine.runtime import MIME_EVENT, MIME_RESULT
from hostile_kit import (ALL_COMPATIBLE, ALL_EXAMPLES, ALL_INCOMPATIBLE, BROADCAST, COMPATIBLE, EXAMPLES,
                         FORBIDDEN, INCOMPATIBLE, NO_X3, TAG, TENSOR_TEST, TENSORS, assert_broadcast_only, graded, messages)
from nbfactory import code

pytestmark = pytest.mark.kernel


def cells_of(result):  # type: ignore[no-untyped-def]
    return [(c.index, c.status, c.ename, c.evalue) for c in result.executions[0].cells]


def function_with(prelude: str) -> str:
    """The solution's broadcast_shape with ``prelude`` run first in its body."""
    body = "    a, b = tuple(shape_a), tuple(shape_b)"
    indented = "".join("    " + line + "\n" for line in prelude.strip("\n").splitlines())
    return BROADCAST.replace(body, indented + body)


WRONG_Z3 = TENSORS.replace("z3 = x3 + y3", "z3 = x3 * y3")
Z3_WRONG_MESSAGE = "`z3` has wrong values: 16 of 18 elements differ"


def first_line(result, fragment):  # type: ignore[no-untyped-def]
    return messages(result)[fragment].splitlines()[0]


def test_patched_torch_cannot_forge_a_tensor(grade_cells) -> None:  # type: ignore[no-untyped-def]
    forge = WRONG_Z3 + (
        "_right = x3 + y3\n_detach = torch.Tensor.detach\n_numpy = torch.Tensor.numpy\n"
        "torch.Tensor.detach = lambda self, *a: _detach(_right) if self is z3 else _detach(self, *a)\n"
        "torch.Tensor.numpy = lambda self, *a, **k: _numpy(_right) if self.shape == _right.shape else _numpy(self)\n")
    result = grade_cells(graded(code(forge, TAG)))
    assert first_line(result, TENSOR_TEST) == Z3_WRONG_MESSAGE
    assert result.score == 7.0


def test_patched_numpy_cannot_forge_an_array(grade_cells) -> None:  # type: ignore[no-untyped-def]
    forge = WRONG_Z3 + (
        "import numpy\n_right = (x3 + y3).numpy()\n_asc = numpy.ascontiguousarray\n"
        "numpy.ascontiguousarray = lambda a, *k, **kw: _asc(_right) if a.shape == _right.shape else _asc(a, *k, **kw)\n"
        "numpy.asarray = numpy.ascontiguousarray\n")
    result = grade_cells(graded(code(forge, TAG)))
    assert first_line(result, TENSOR_TEST) == Z3_WRONG_MESSAGE
    assert result.score == 7.0


def test_patched_print_display_hooks_and_json_loads_change_nothing(grade_cells) -> None:  # type: ignore[no-untyped-def]
    patches = [
        "import builtins\nbuiltins.print = lambda *a, **k: None",
        "import IPython.display\nIPython.display.display = lambda *a, **k: None",
        "import sys\nsys.displayhook = lambda value: None",
        "get_ipython().display_pub.publish = lambda *a, **k: None",
    ]
    result = grade_cells([*(code(p) for p in patches), *graded()])
    assert [c[1] for c in cells_of(result)] == ["ok"] * 5, "each patch ran and the solution ran after them"
    assert_broadcast_only(result)


def test_patched_json_loads_makes_the_kernel_deaf_not_the_grader(grade_cells, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # jupyter_client unpacks the grader's requests with json.loads: the kernel stops listening
    patch = "import json\njson.loads = lambda *a, **k: {'nonce': 'forged', 'steps': [], 'return': []}"
    result = grade_cells(graded(patch, "after = 1"), cell_timeout=2.0, kill_grace=2.0)
    assert cells_of(result) == [(0, "ok", "", ""), (1, "ok", "", ""),
                                (2, "killed", "Timeout", "did not stop after being interrupted; kernel killed")]
    assert (result.executions[0].outcome, result.executions[0].message) == (
        "timeout", "code cell 3 ran past its time limit and ignored the interrupt")
    assert_broadcast_only(result)


def test_broken_message_serialiser_is_reported_not_a_crash(grade_cells) -> None:  # type: ignore[no-untyped-def]
    # json.dumps is what jupyter_client uses to pack the kernel's messages
    result = grade_cells(graded("import json\njson.dumps = lambda *a, **k: '{}'", "after = 1"))
    summary = result.executions[0]
    assert summary.outcome == "dead_kernel"
    assert summary.message == "the kernel broke the messaging protocol in code cell 2"
    assert cells_of(result) == [(0, "ok", "", ""), (1, "error", "ProtocolError", grader.engine.kernel.MALFORMED),
                                (2, "not_run", "", "")]
    assert_broadcast_only(result)  # probed after cell 1, before the patch


def test_patching_the_runtime_in_the_kernel_is_detected(grade_cells) -> None:  # type: ignore[no-untyped-def]
    wrong = "def broadcast_shape(shape_a, shape_b):\n    return ()"
    forge = '''
import numpy, sys
_runtime = sys.modules["_d2lgrade_runtime"]
_call = _runtime._call
def _numpy_call(fn, args, kwargs):
    if getattr(fn, "__name__", "") == "broadcast_shape":
        return tuple(int(n) for n in numpy.broadcast_shapes(*args))
    return _call(fn, args, kwargs)
_runtime._call = _numpy_call
'''
    result = grade_cells([code(forge), code(wrong, TAG)])
    # the patched runtime answers with numpy while the grader calls broadcast_shape: the
    # run-time guard sees numpy called (a patch that avoids numpy must still be right)
    assert messages(result)[FORBIDDEN].startswith("uses numpy.broadcast_shapes, which this exercise does not allow: "
                                                  "`broadcast_shape` called it at run time")
    assert messages(result)[EXAMPLES].startswith("0 points: ")


def test_redefinition_after_the_graded_cells_is_graded(grade_cells) -> None:  # type: ignore[no-untyped-def]
    # a later rebinding wins (issue 12): the function is graded as the notebook leaves it
    result = grade_cells(graded("def broadcast_shape(shape_a, shape_b):\n    return ()"))
    assert messages(result)[EXAMPLES].startswith("0 of 8 example shape pairs correct")


def test_imitated_protocol_messages_in_cells_are_dropped(grade_cells) -> None:  # type: ignore[no-untyped-def]
    imitation = (f"from IPython.display import display\n"
                 f"display({{{MIME_RESULT!r}: {{'nonce': 'guess', 'results': {{}}}}}}, raw=True)\n"
                 f"print('{{\"nonce\": \"guess\", \"results\": {{}}}}')")
    result = grade_cells([code(imitation), *graded(imitation)])
    assert [c[1] for c in cells_of(result)] == ["ok", "ok", "ok"]
    assert_broadcast_only(result)


def test_imitated_answer_during_a_probe_is_tampering(grade_cells) -> None:  # type: ignore[no-untyped-def]
    fake = (f"from IPython.display import display\n"
            f"display({{{MIME_RESULT!r}: {{'nonce': 'guess', 'results': {{}}}}}}, raw=True)")
    result = grade_cells([code(function_with(fake), TAG)])
    tampered = "the probe received more than one answer: the notebook imitated the grader's messages"
    assert result.score == 0.0
    assert messages(result) == {
        EXAMPLES: tampered, COMPATIBLE: tampered, INCOMPATIBLE: tampered,  # the fixture guard's message
        TENSOR_TEST: NO_X3, "forbidden calls": "no forbidden calls"}


def test_forged_runtime_events_only_reach_the_report(grade_cells) -> None:  # type: ignore[no-untyped-def]
    forged = (f"from IPython.display import display\n"
              f"display({{{MIME_EVENT!r}: {{'network': ['connect to forged'], 'figures': []}}}}, raw=True)")
    result = grade_cells(graded(forged))
    assert result.executions[0].network_attempts == ["connect to forged"]  # documented: events are not evidence
    assert_broadcast_only(result)


def test_exits_interrupts_and_a_deleted_working_directory(grade_cells) -> None:  # type: ignore[no-untyped-def]
    delete = "import os, shutil\nshutil.rmtree(os.getcwd())\nraise Exception(os.path.isdir(os.getcwd()))"
    result = grade_cells([code(delete), *graded("import sys\nsys.exit()", "raise SystemExit(3)",
                                                "raise KeyboardInterrupt", "import os\nos._exit(1)", "after = 1")])
    assert cells_of(result) == [
        (0, "error", "FileNotFoundError", "[Errno 2] No such file or directory"),  # cwd gone; grading goes on
        (1, "ok", "", ""),
        (2, "error", "SystemExit", ""), (3, "error", "SystemExit", "3"), (4, "error", "KeyboardInterrupt", ""),
        (5, "error", "DeadKernel", "the kernel died while running this cell (e.g. os._exit, a crash)"),
        (6, "not_run", "", "")]
    assert (result.executions[0].outcome, result.executions[0].message) == ("dead_kernel", "the kernel died in code cell 6")
    assert_broadcast_only(result)


def test_exits_inside_the_graded_function_are_outcomes(grade_cells) -> None:  # type: ignore[no-untyped-def]
    function = function_with("import sys\nif tuple(shape_a) == (3, 1):\n    sys.exit('bye')\n"
                             "if len(shape_a) == 4:\n    raise KeyboardInterrupt")
    result = grade_cells([code(function, TAG)])
    assert messages(result)[EXAMPLES] == ("7 of 8 example shape pairs correct; first problem: "
                                          "`broadcast_shape((3, 1), (4,))` raised SystemExit\nSystemExit: bye")
    # a KeyboardInterrupt stops the probe's remaining calls, as the grader's own interrupt does
    assert messages(result)[COMPATIBLE] == "`broadcast_shape` raised KeyboardInterrupt\nKeyboardInterrupt"
    assert result.executions[0].outcome == "completed" and result.score == 1.75


def test_infinite_loop_in_a_graded_function_keeps_other_results(grade_cells) -> None:  # type: ignore[no-untyped-def]
    function = function_with("while tuple(shape_a) == (3, 1):\n    pass")
    result = grade_cells([code(function, TAG), code("after = 1")], probe_timeout=2.0)
    assert messages(result)[EXAMPLES] == ("calling `broadcast_shape` did not finish within the time limit and was "
                                          "interrupted")
    assert messages(result)[COMPATIBLE] == ALL_COMPATIBLE and messages(result)[INCOMPATIBLE] == ALL_INCOMPATIBLE
    assert result.executions[0].outcome == "completed" and result.score == 5.0
    assert cells_of(result) == [(0, "ok", "", ""), (1, "ok", "", "")]


def test_ignored_interrupt_in_a_graded_function_kills_the_kernel(grade_cells, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    function = function_with("import signal\nif len(shape_a) == 4:\n"
                             "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass")
    result = grade_cells([code(function, TAG), code("after = 1")], probe_timeout=2.0, kill_grace=2.0)
    stopped = ("the notebook's code called by the grader after code cell 1 ignored the interrupt after its time limit; "
               "the kernel was killed")
    summary = result.executions[0]
    assert (summary.outcome, summary.message) == ("timeout", stopped)
    assert messages(result) == {
        EXAMPLES: ALL_EXAMPLES,  # answered before the hidden probe hung
        COMPATIBLE: "calling `broadcast_shape` ignored the interrupt after its time limit; the kernel was killed",
        INCOMPATIBLE: "calling `broadcast_shape` ignored the interrupt after its time limit; the kernel was killed",
        TENSOR_TEST: stopped, "forbidden calls": "no forbidden calls"}
    assert cells_of(result) == [(0, "ok", "", ""), (1, "not_run", "", "")]
    assert result.score == 2.0


def test_lying_objects_and_huge_values(grade_cells) -> None:  # type: ignore[no-untyped-def]
    liars = '''
class Liar(tuple):
    def __eq__(self, other):
        return True
    __hash__ = tuple.__hash__
class Arrayish:
    def __eq__(self, other):
        return True
    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the grader never calls __array__")
def broadcast_shape(shape_a, shape_b):
    if tuple(shape_a) == (2, 3, 1):
        return tuple(range(10**6))
    if len(shape_a) == 2:
        return Arrayish()
    return Liar((7,))
'''
    result = grade_cells([code(liars, TAG)])
    assert messages(result)[EXAMPLES] == (
        "0 of 8 example shape pairs correct; first problem: `broadcast_shape((2, 3, 1), (2, 1, 3))` raised "
        "ValueTooLarge\nValueTooLarge: the value is too large for the grader (sequence of 1000000 items)")
    assert messages(result)[COMPATIBLE] == (
        "0 of 13 hidden compatible pairs correct; first problem: broadcast_shape((1, 3, 3, 4), (3, 1, 4)) should "
        "return a tuple of ints, but returned an object of type __main__.Liar")  # tuple subclasses are not read
    assert messages(result)[INCOMPATIBLE] == (
        "0 of 12 hidden incompatible pairs correct; first problem: `broadcast_shape((2, 3), (1, 4, 1))` should "
        "raise ValueError, but it returned an object of type __main__.Arrayish")
    assert result.score == 0.0


def test_tensor_subclass_with_lying_methods(grade_cells) -> None:  # type: ignore[no-untyped-def]
    sneaky = TENSORS.replace("z3 = x3 + y3", '''
class Sneaky(torch.Tensor):
    def __eq__(self, other):
        return torch.ones_like(other, dtype=torch.bool)
    def __array__(self, dtype=None, copy=None):
        return (x3 + y3).numpy()
    def numpy(self, *args, **kwargs):
        return (x3 + y3).numpy()
z3 = ((x3 + y3) * 0).as_subclass(Sneaky)
''')
    result = grade_cells(graded(code(sneaky, TAG)))
    assert first_line(result, TENSOR_TEST) == "`z3` has wrong values: 17 of 18 elements differ"
    assert result.score == 7.0
