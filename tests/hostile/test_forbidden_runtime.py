"""Forbidden calls hidden from the static rules are caught when they run (issue 14, item 6).

Each notebook is made from one template: the torch-free broadcasting notebook of
``hostile_kit`` whose ``broadcast_shape`` is numpy's, reached in a way the source does not
show; the last one is the chain rule's ``df_by_hand`` taking autograd's gradient through
``operator.attrgetter``. Without the run-time guard every one scored full marks on the
rule's tests. The kernel-free tests drive the runtime's guard in this process.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from grader.checking.probe import Calls, build_request, guarded_calls
from grader.engine.runtime import load_namespace
from grader.protocol import RawAnswer
from hostile_kit import TAG
from nbfactory import code

EVASIONS = {
    "alias": "from numpy import broadcast_shapes as broadcast_shape",
    "sys_modules": '''
import sys
import numpy
def broadcast_shape(shape_a, shape_b):
    return tuple(sys.modules["numpy"].broadcast_shapes(shape_a, shape_b))''',
    "code_swap": '''
import numpy
def _shapes(shape_a, shape_b):
    return tuple(numpy.broadcast_shapes(shape_a, shape_b))
def broadcast_shape(shape_a, shape_b):
    return ()
broadcast_shape.__code__ = _shapes.__code__''',
    "callable_instance": '''
import numpy
class _Shapes:
    def __call__(self, shape_a, shape_b):
        return tuple(numpy.broadcast_shapes(shape_a, shape_b))
broadcast_shape = _Shapes()''',
    "importlib": '''
import importlib
def broadcast_shape(shape_a, shape_b):
    return tuple(importlib.__import__("numpy").broadcast_shapes(shape_a, shape_b))''',
}

CHAIN_RULE = '''
import operator
import torch

def f(x):
    return torch.log(x**2) * torch.sin(x) + 1 / x

def df_by_hand(x):
    x = x.detach().clone()
    x.requires_grad = True
    return operator.attrgetter("autograd.grad")(torch)(f(x).sum(), x)[0]

def df_autograd(x):
    x = x.detach().clone().requires_grad_(True)
    f(x).sum().backward()
    return x.grad
'''

BROADCAST_RULE_TESTS = ("example pairs", "hidden pairs that broadcast", "raises ValueError on hidden pairs")
RUN_TIME = ("uses numpy.broadcast_shapes, which this exercise does not allow: `broadcast_shape` called it at run "
            "time through a name or path the source does not show")


def _test(result, fragment):  # type: ignore[no-untyped-def]
    return next(t for t in result.tests if fragment in t.name)


@pytest.mark.kernel
@pytest.mark.parametrize("evasion", sorted(EVASIONS))
def test_numpy_reached_around_the_static_rules_is_caught_at_run_time(grade_cells, evasion: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells([code(EVASIONS[evasion], TAG)])
    forbidden = _test(result, "forbidden calls")
    assert forbidden.status == "failed"
    assert forbidden.message.startswith(RUN_TIME)
    for fragment in BROADCAST_RULE_TESTS:
        test = _test(result, fragment)
        assert test.score == 0.0 and test.message.startswith("0 points: " + RUN_TIME)


@pytest.mark.kernel
def test_autograd_through_attrgetter_is_caught_at_run_time(grade_cells) -> None:  # type: ignore[no-untyped-def]
    result = grade_cells([code(CHAIN_RULE, "exercise:chain_rule")], exercises=("chain_rule",))
    forbidden = _test(result, "forbidden calls")
    assert forbidden.message.startswith("uses torch.autograd.grad, which this exercise does not allow: "
                                        "`df_by_hand` called it at run time")
    assert _test(result, "df_by_hand on hidden inputs").score == 0.0
    # df_autograd is not under the rule: the guard watches only the functions it names
    assert _test(result, "df_autograd on hidden inputs").status == "passed"


# -- the runtime's guard in this process ------------------------------------------------------


def _guarded(fn, rules, args=((2, 1), (1, 3))):  # type: ignore[no-untyped-def]
    """Run the runtime's evaluator on one guarded call of ``fn``; (outcome, records as read back)."""
    runtime = load_namespace()
    runtime._ORIG["user_ns"] = {"f": fn}
    request = json.loads(json.dumps(build_request(Calls("f", [args]), 0, guard=[(rules, ("f",))])))
    runtime._GUARD["groups"] = request["guard"]
    runtime._GUARD["found"] = []
    outcome = runtime._eval(request["steps"][0][1], {})[0]
    payload = {"guarded": runtime._GUARD["found"]}
    assert sys.getprofile() is None  # the profile function is gone after the call
    return outcome, [(r.rule, r.name, r.function) for r in guarded_calls(RawAnswer("ok", payload))]


def test_a_clean_function_records_nothing() -> None:
    outcome, found = _guarded(lambda a, b: tuple(max(p, q) for p, q in zip(a, b)), ("torch", "numpy"))
    assert outcome == (2, 3) and found == []


def test_methods_count_only_when_the_student_calls_them() -> None:
    norms = ("torch.norm", "torch.linalg", ".norm")
    outcome, found = _guarded(lambda a, b: float(torch.tensor([3.0, 4.0]).norm()), norms)
    assert outcome == 5.0 and found[0] == (0, ".norm", "f")
    outcome, found = _guarded(lambda a, b: float((torch.tensor([3.0, 4.0]) ** 2).sum().sqrt()), norms)
    assert outcome == 5.0 and found == []


def test_removing_the_guard_is_recorded() -> None:
    def remove(a, b):  # type: ignore[no-untyped-def]
        sys.setprofile(None)
        return np.broadcast_shapes(a, b)

    outcome, found = _guarded(remove, ("numpy",))
    assert outcome == (2, 3) and found == [(-1, "sys.setprofile", "f")]


def test_only_the_named_functions_are_watched() -> None:
    request = build_request(Calls("other", [((1,), (1,))]), 0, guard=[(("numpy",), ("f",))])
    assert "guard" not in request
    request = build_request(Calls("f", [((1,), (1,))]), 0, guard=[(("scipy",), ("g",)), (("numpy",), ("f",))])
    assert request["guard"] == [{"rule": 1, "rules": ["numpy"], "functions": ["f"]}]


def test_malformed_records_are_ignored() -> None:
    payload = {"guarded": [{"rule": "0", "name": "x"}, "numpy.cos", {"rule": 0, "name": 5},
                           {"rule": 0, "name": "numpy.cos", "function": "f"}]}
    assert [r.name for r in guarded_calls(RawAnswer("ok", payload))] == ["numpy.cos"]
    assert guarded_calls(RawAnswer("ok", {"guarded": "numpy.cos"})) == []
    assert guarded_calls(RawAnswer("timeout", None)) == []
