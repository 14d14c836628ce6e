"""What a student sees of a hidden test graded with the instructor's secret.

A hidden test's inputs are the student's own (secret + student id) and stay the same on
every resubmission, so a report that showed them, or the values expected for them, would
be an answer key. Exercise messages are written for the instructor's eyes too (``broadcast_shape((5,
1, 2), (1, 1)) returned (5, 1, 2)``); this module makes the student's version of any
of them in one place, whatever exercise wrote it:

* which case failed, when the test reads one :class:`~grader.checking.probe.CallResults`
  of hidden calls: ``hidden case 3 of 25``, found by running the test on that case alone;
* what was wrong, from the message with every number, every string the hidden inputs
  hold, and everything the notebook produced for them (returned values, exception texts,
  class names of its own) replaced by ``…``, so that a function that returns or raises its
  inputs cannot read them back either. ``k of n`` counts stay.

Tests whose hidden fixtures are whole trainings (:class:`~grader.checking.probe.Steps`)
keep their measurements (accuracy, losses): their inputs are data sets no message
prints. The full message always goes to the instructor (``instructor_detail``).
"""

from __future__ import annotations

import builtins
import re
from typing import Any, Callable, Iterable, Sequence

from grader.checking.checks import Check, describe
from grader.checking.probe import Args, CallResults, Frame
from grader.values import ArrayValue, FrameValue, Missing, ModuleValue, Raised, Unsupported

__all__ = ["student_message", "training_message", "failing_case", "hidden_texts", "produced_texts", "redact", "FIRST_PROBLEM"]

FIRST_PROBLEM = "; first problem: "
HIDDEN = "…"
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w|-D\b)")
_KEEP = re.compile(r"\b(?:\d+ of \d+|all \d+)\b")
_GROUP = re.compile(r"(?<![\w\])])[(\[]\s*(?:…(?:\s*,\s*…)*\s*,?)?\s*[)\]]")  # (…, …), [], ()
_MIN_TEXT = 3  # shorter strings are not hunted for (numbers always are)


def _strings(value: Any, out: set[str], depth: int = 0) -> None:
    """Every string inside a grader-made input (tuples, lists, dicts, Frame names and cells)."""
    if depth > 6:
        return
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, Frame):
        for name, column in value.columns.items():
            out.add(str(name))
            if not hasattr(column, "dtype"):
                _strings(list(column), out, depth + 1)
    elif isinstance(value, Args):
        _strings(list(value.args) + list(value.kwargs.values()), out, depth + 1)
    elif isinstance(value, dict):
        _strings(list(value.values()), out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value[:10_000]:
            _strings(item, out, depth + 1)


def hidden_texts(results: Iterable[CallResults]) -> set[str]:
    """The strings the hidden inputs of ``results`` hold (column names, labels, targets)."""
    out: set[str] = set()
    for result in results:
        for args in result.inputs:
            _strings(args, out)
    return out


def _produced(value: Any, out: set[str], depth: int = 0) -> None:
    if depth > 6 or isinstance(value, Missing):  # a Missing reason is the grader's own text
        return
    if isinstance(value, Raised):
        out.update({value.message, str(value)})
        if not isinstance(getattr(builtins, value.type, None), type):
            out.add(value.type)  # a class of the notebook's own may spell anything
        return
    if isinstance(value, FrameValue):
        out.update(str(n) for n in value.names)
    elif isinstance(value, ModuleValue):
        out.add(value.class_name)
    elif isinstance(value, Unsupported):
        out.add(value.type_name)
    elif isinstance(value, str):
        out.add(value)
    elif isinstance(value, (list, tuple)):
        for item in value[:1000]:
            _produced(item, out, depth + 1)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:1000]:
            _produced(str(key), out, depth + 1)
            _produced(item, out, depth + 1)
    if not isinstance(value, ArrayValue):
        out.add(repr(value) if not isinstance(value, (FrameValue, ModuleValue)) else "")
    out.add(describe(value))


def produced_texts(results: Iterable[CallResults]) -> set[str]:
    """What the notebook returned or raised for the hidden calls, as text in any form a
    message may quote it."""
    out: set[str] = set()
    for result in results:
        for outcome in result.outcomes:
            _produced(outcome, out)
    return out


def redact(message: str, texts: Iterable[str] = (), *, numbers: bool = True) -> str:
    """``message`` with ``texts`` (longest first) and, with ``numbers``, every number
    replaced by ``…``; ``k of n`` counts are kept, and brackets holding only ``…`` shrink
    to one."""
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return "\x00" + chr(0xE000 + len(kept) - 1) + "\x00"  # no digit for the number rule to eat

    text = message
    for fragment in sorted({t for t in texts if t and len(t) >= _MIN_TEXT}, key=len, reverse=True):
        # whole words only: a hidden label "fir" must not eat the "fir" of "first"
        text = re.sub(rf"(?<!\w){re.escape(fragment)}(?!\w)", HIDDEN, text)
    if not numbers:
        return text
    text = _KEEP.sub(keep, text)  # after the notebook's texts: a returned "5 of 6" is not a count
    text = _NUMBER.sub(HIDDEN, text)
    for _ in range(8):  # ((…, …), (…)) -> (…, …) -> …, innermost first
        shorter = _GROUP.sub(HIDDEN, text)
        if shorter == text:
            break
        text = shorter
    return re.sub("\x00(.)\x00", lambda m: kept[ord(m.group(1)) - 0xE000], text)


def _problem(message: str) -> str:
    return message.split(FIRST_PROBLEM, 1)[1] if FIRST_PROBLEM in message else message


def failing_case(run_test: Callable[[CallResults], Check], results: CallResults, check: Check) -> int | None:
    """The index of the hidden call behind ``check``'s first problem: the first call that,
    graded alone, fails with the same problem (None when no call does)."""
    wanted = _problem(check.message)
    for i in range(len(results)):
        alone = CallResults(results.function, [results.inputs[i]], [results.outcomes[i]])
        try:
            single = run_test(alone)
        except Exception:
            continue
        if not single.passed and _problem(single.message) == wanted:
            return i
    return None


def training_message(check: Check, steps: Sequence[dict[str, Any]]) -> str:
    """The message a student sees for a hidden test on whole trainings (:class:`Steps`):
    its measurements stay, but nothing the notebook returned or the grader kept aside
    (true parameters, held-out labels) is quoted."""
    texts: set[str] = set()
    for values in steps:
        for value in values.values():
            _produced(value, texts)
            if isinstance(value, (float, dict, list, tuple)) and not isinstance(value, ArrayValue):
                _strings(value, texts)
    return redact(check.message, {t for t in texts if not t.isidentifier()}, numbers=False)


def student_message(check: Check, results: Sequence[CallResults], case: int | None) -> str:
    """The message a student sees for a hidden test that read ``results``."""
    texts = hidden_texts(results) | produced_texts(results)
    where = f"hidden case {case + 1} of {len(results[0])}: " if case is not None and results else ""
    summary, sep, problem = check.message.partition(FIRST_PROBLEM)
    if sep:
        return f"{redact(summary, texts)}{sep}{where}{redact(problem, texts)}"
    return where + redact(check.message, texts)
