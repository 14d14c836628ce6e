"""The checking vocabulary: small functions that compare and explain.

Every check takes the name shown to the student, then the expected value, then what the
notebook produced, then keyword tolerances, and returns a :class:`Check`: whether it
passed, the credit (partial where it makes sense), a one-line message and details.
Cheap checks come first (defined, type, shape, dtype), values last, and the later
checks reuse the earlier ones. Checks on the notebook's source (forbidden calls,
autograd) are in :mod:`grader.checking.code`, checks on figures in
:mod:`grader.checking.figures`. Messages name the object and say expected vs got, how
far and where; ``detail`` may reveal inputs and reference values, so the scorer hides
it for hidden tests graded with the instructor's secret.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from grader.values import ArrayValue, FigureValue, FrameValue, Missing, ModuleValue, Raised, Unsupported

__all__ = [
    "Check", "passed", "failed", "all_of", "fraction_passed", "check_defined", "check_type",
    "check_shape", "check_dtype", "check_scalar", "check_array_close", "check_array_equal",
    "check_raises", "check_returns", "check_dict_close", "check_decreasing",
    "describe", "as_array", "merge_data", "first_missing",
    "check_pair", "check_example_calls", "check_hidden_calls", "number",
]

ROWS_SHOWN = 5


@dataclass(frozen=True)
class Check:
    """The outcome of one check: credit in [0, 1], a one-line message and optional details.

    ``data`` is plain data for reports, never shown as text: what was measured
    (``measured``: name -> number, read by calibration), reference bands, the kind of
    evidence, and ``curves`` (learning curves the scorer moves to the unit's ``extra``)."""

    passed: bool
    message: str
    detail: str = ""
    fraction: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def credit(self) -> float:
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0


def passed(message: str, detail: str = "") -> Check:
    """A passing check."""
    return Check(True, message, detail)


def failed(message: str, detail: str = "", fraction: float | None = None) -> Check:
    """A failing check, optionally with partial credit."""
    return Check(False, message, detail, fraction)


def first_missing(*values: Any) -> Check | None:
    """A failed check naming why the first :class:`Missing` value could not be obtained
    (a fixture that did not load, a step that never ran), or None when all are present."""
    for value in values:
        if isinstance(value, Missing):
            return failed(value.reason)
    return None


def merge_data(checks: Iterable[Check]) -> dict[str, Any]:
    """The ``data`` of several checks in one dict: ``measured`` and ``curves`` are
    combined, other keys taken from the last check that has them."""
    out: dict[str, Any] = {}
    for check in checks:
        for key, value in check.data.items():
            if key == "measured":
                out.setdefault(key, {}).update(value)
            elif key == "curves":
                out.setdefault(key, []).extend(value)
            else:
                out[key] = value
    return out


def all_of(*checks: Check) -> Check:
    """Passes when every check passes; otherwise reports the first failure (credit 0).
    The data of every check is kept."""
    data = merge_data(checks)
    for check in checks:
        if not check.passed:
            return Check(check.passed, check.message, check.detail, check.fraction, data)
    return Check(True, checks[-1].message if checks else "ok", "\n".join(c.detail for c in checks if c.detail),
                 data=data)


def fraction_passed(checks: Sequence[Check], what: str) -> Check:
    """Partial credit: the share of ``checks`` that passed, with the first failure explained."""
    if not checks:
        return failed(f"no {what} could be checked")
    good = sum(c.passed for c in checks)
    data = merge_data(checks)
    if good == len(checks):
        return Check(True, f"all {len(checks)} {what} correct", data=data)
    first = next(c for c in checks if not c.passed)
    return Check(False, f"{good} of {len(checks)} {what} correct; first problem: {first.message}",
                 first.detail, good / len(checks), data)


def describe(value: Any) -> str:
    """A short, safe description of a probed value for messages."""
    if isinstance(value, ArrayValue):
        return value.describe()
    if isinstance(value, Missing):
        return value.reason
    if isinstance(value, Raised):
        return f"raised {value}"
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name}"
    if isinstance(value, ModuleValue):
        return f"a module {value.class_name}"
    if isinstance(value, FrameValue):
        return f"a DataFrame with {value.nrows} rows and {len(value.columns)} columns"
    if isinstance(value, FigureValue):
        return "a figure"
    text = repr(_plain(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (also inside tuples and lists), so that messages
    show ``9.0`` rather than numpy's ``np.float64(9.0)``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)) and len(value) <= 1000:
        return type(value)(_plain(v) for v in value) if isinstance(value, tuple) else [_plain(v) for v in value]
    return value


def number(value: Any) -> str:
    """A number as a student reads it: ``9.0``, ``3``, ``True``, ``nan`` (never a numpy repr)."""
    return repr(_plain(value))


def check_defined(name: str, value: Any) -> Check:
    """``value`` was obtained (not :class:`Missing`, not an exception)."""
    if isinstance(value, Missing):
        return failed(value.reason)
    if isinstance(value, Raised):
        return failed(f"`{name}` raised {value}")
    return passed(f"`{name}` is defined")


KINDS: dict[str, Callable[[Any], bool]] = {
    "tensor": lambda v: isinstance(v, ArrayValue) and v.framework == "torch",
    "array": lambda v: isinstance(v, ArrayValue),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    or isinstance(v, ArrayValue) and v.array.ndim == 0,
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "tuple": lambda v: isinstance(v, tuple),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "frame": lambda v: isinstance(v, FrameValue),
    "module": lambda v: isinstance(v, ModuleValue),
    "figure": lambda v: isinstance(v, FigureValue),
}


def check_type(name: str, kinds: str | Sequence[str], value: Any) -> Check:
    """``value`` is one of ``kinds`` (see ``KINDS``: tensor, array, int, float, tuple, ...)."""
    defined = check_defined(name, value)
    if not defined.passed:
        return defined
    wanted = [kinds] if isinstance(kinds, str) else list(kinds)
    if any(KINDS[k](value) for k in wanted):
        return passed(f"`{name}` is a {' or '.join(wanted)}")
    return failed(f"`{name}` should be a {' or '.join(wanted)}, but it is {describe(value)}")


def as_array(value: Any) -> np.ndarray | None:
    """A numeric ndarray for numbers, tensors, arrays and nested lists of numbers; else None."""
    if isinstance(value, ArrayValue):
        return value.array
    if isinstance(value, bool) or value is None:
        return np.asarray(value) if isinstance(value, bool) else None
    if isinstance(value, (int, float)):
        return np.asarray(value, dtype=float)
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray([as_array(v) for v in value])
        except (ValueError, TypeError):
            return None
        return arr if arr.dtype.kind in "biuf" else None
    return None


def check_shape(name: str, expected: Sequence[int], value: Any) -> Check:
    """``value`` is a tensor/array of shape ``expected``."""
    arr = as_array(value)
    if arr is None:
        return failed(f"`{name}` should be a tensor of shape {tuple(expected)}, but it is {describe(value)}")
    if tuple(arr.shape) != tuple(expected):
        return failed(f"`{name}` has shape {tuple(arr.shape)}, expected {tuple(expected)}")
    return passed(f"`{name}` has shape {tuple(expected)}")


def check_dtype(name: str, expected: str, value: Any) -> Check:
    """``value``'s dtype is ``expected`` (``torch.bool``, ``float32``, ...)."""
    if not isinstance(value, ArrayValue):
        return failed(f"`{name}` should have dtype {expected}, but it is {describe(value)}")
    got = value.dtype
    if got == expected or got.replace("torch.", "") == expected.replace("torch.", ""):
        return passed(f"`{name}` has dtype {expected}")
    return failed(f"`{name}` has dtype {got}, expected {expected}")


def _close(expected: float, got: float, rtol: float, atol: float) -> bool:
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    return abs(got - expected) <= atol or abs(got - expected) <= rtol * abs(expected)


def check_scalar(name: str, expected: float, value: Any, *, rtol: float = 1e-6, atol: float = 0.0) -> Check:
    """A number close to ``expected``: within ``atol`` absolutely OR ``rtol`` relatively
    (set either to 0 to switch it off)."""
    arr = as_array(value)
    if arr is None or arr.size != 1:
        return failed(f"`{name}` should be a number, but it is {describe(value)}")
    got = float(arr.reshape(-1)[0])
    if _close(expected, got, rtol, atol):
        return passed(f"`{name}` = {got:.6g}", f"expected {expected:.6g}")
    diff = abs(got - expected)
    rel = diff / abs(expected) if expected else math.inf
    return failed(f"`{name}` is off: got {got:.6g}",
                  f"expected {expected:.6g}, got {got:.6g} (absolute difference {diff:.3g}, relative {rel:.3g}; "
                  f"allowed rtol={rtol:g}, atol={atol:g})")


def _mismatch_report(expected: np.ndarray, got: np.ndarray, bad: np.ndarray) -> str:
    idx = np.argwhere(bad)
    lines = [f"{len(idx)} of {bad.size} elements differ"]
    if expected.dtype.kind in "fc" or got.dtype.kind in "fc":
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.abs(got.astype(float) - expected.astype(float))
            rel = diff / np.abs(expected.astype(float))
        lines.append(f"largest absolute difference {np.nanmax(diff):.3g}, largest relative {np.nanmax(rel):.3g}")
    lines.append("index: got vs expected")
    for i in idx[:ROWS_SHOWN]:
        key = tuple(int(k) for k in i)
        lines.append(f"  {key}: {number(got[key])} vs {number(expected[key])}")
    if len(idx) > ROWS_SHOWN:
        lines.append(f"  ... and {len(idx) - ROWS_SHOWN} more")
    return "\n".join(lines)


def check_array_close(name: str, expected: Any, value: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> Check:
    """Shape first, then every element within ``atol + rtol * |expected|``."""
    exp = np.asarray(expected, dtype=float)
    shape = check_shape(name, exp.shape, value)
    if not shape.passed:
        return shape
    got = np.asarray(as_array(value), dtype=float)
    bad = ~np.isclose(got, exp, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return passed(f"`{name}` matches (shape {exp.shape})")
    return failed(f"`{name}` has wrong values: {int(bad.sum())} of {bad.size} elements differ",
                  _mismatch_report(exp, got, bad))


def check_array_equal(name: str, expected: Any, value: Any) -> Check:
    """Shape, then exact equality (booleans, integers)."""
    exp = np.asarray(expected)
    shape = check_shape(name, exp.shape, value)
    if not shape.passed:
        return shape
    got = as_array(value)
    bad = got != exp
    if not np.any(bad):
        return passed(f"`{name}` matches (shape {exp.shape})")
    return failed(f"`{name}` has wrong values: {int(np.sum(bad))} of {bad.size} elements differ",
                  _mismatch_report(exp, got, np.asarray(bad)))


def check_returns(name: str, outcome: Any, kind: str | Sequence[str] | None = None, *, call: str = "") -> Check:
    """A call of function ``name`` returned normally and, when ``kind`` is given, returned
    one of those kinds (named ``call``, e.g. with its arguments, in that message)."""
    if isinstance(outcome, Missing):
        return failed(outcome.reason)
    if isinstance(outcome, Raised):
        hint = " (the exercise is not done yet)" if outcome.type == "NotImplementedError" else ""
        return failed(f"`{name}` raised {outcome.type}{hint}", str(outcome))
    if kind is not None:
        return check_type(call or name, kind, outcome)
    return passed(f"`{name}` returned")


def check_raises(name: str, expected: str | Sequence[str], outcome: Any, *, match: str | None = None) -> Check:
    """A call raised one of ``expected`` (type names), its message matching ``match``."""
    wanted = [expected] if isinstance(expected, str) else list(expected)
    if isinstance(outcome, Missing):
        return failed(outcome.reason)
    if not isinstance(outcome, Raised):
        return failed(f"`{name}` should raise {' or '.join(wanted)}, but it returned {describe(outcome)}")
    if outcome.type not in wanted:
        return failed(f"`{name}` raised {outcome.type}, expected {' or '.join(wanted)}", str(outcome))
    if match and not re.search(match, outcome.message):
        return failed(f"`{name}` raised {outcome.type} with an unexpected message", f"{outcome.message!r} "
                      f"does not match {match!r}")
    return passed(f"`{name}` raised {outcome.type}")


def check_dict_close(name: str, expected: dict[str, float], value: Any, *, rtol: float = 1e-6,
                     atol: float = 1e-9) -> Check:
    """Same keys as ``expected``, each value close to its expected number."""
    if not isinstance(value, dict):
        return failed(f"`{name}` should be a dict with keys {sorted(expected)}, but it is {describe(value)}")
    missing = sorted(set(expected) - set(value))
    extra = sorted(set(value) - set(expected), key=str)
    if missing:
        return failed(f"`{name}` lacks the keys {missing}", f"keys present: {sorted(map(str, value))}")
    if extra:
        return failed(f"`{name}` has unexpected keys {extra}")
    for key, exp in expected.items():
        check = check_scalar(f"{name}[{key!r}]", exp, value[key], rtol=rtol, atol=atol)
        if not check.passed:
            return check
    return passed(f"`{name}` has the right values for {sorted(expected)}")


def check_decreasing(name: str, values: Any, *, min_drop: float = 0.0) -> Check:
    """A loss history that ends lower than it starts (by at least ``min_drop`` relative),
    with no step blowing up to a non-finite value."""
    arr = as_array(values)
    if arr is None or arr.ndim != 1 or arr.size < 2:
        return failed(f"`{name}` should be a list of at least two losses, but it is {describe(values)}")
    if not np.all(np.isfinite(arr)):
        return failed(f"`{name}` contains nan or inf: the training diverged")
    first, last = float(arr[0]), float(arr[-1])
    if last < first * (1 - min_drop):
        return passed(f"`{name}` decreases from {first:.4g} to {last:.4g}")
    return failed(f"`{name}` does not decrease enough: from {first:.4g} to {last:.4g}")


def check_pair(function: str, outcome: Any, parts: str, *, call: str = "") -> Check:
    """A call of ``function`` (named ``call`` in the message) returned a pair; ``parts``
    names its halves, e.g. ``"(W, b)"``."""
    returned = check_returns(function, outcome)
    if not returned.passed:
        return returned
    if isinstance(outcome, (tuple, list)) and len(outcome) == 2:
        return passed(f"`{call or function}` returned a pair {parts}")
    return failed(f"`{call or function}` should return a pair {parts}, but it returned {describe(outcome)}")


def _per_call(results: Iterable[tuple[Any, Any]], check_one: Callable[..., Check]) -> list[Check]:
    return [check_one(*args.args, outcome) for args, outcome in results]


def check_example_calls(results: Iterable[tuple[Any, Any]], check_one: Callable[..., Check]) -> Check:
    """The calls on the exercise text's examples (``check_one(*args, outcome)`` each):
    every one must be right."""
    return all_of(*_per_call(results, check_one))


def check_hidden_calls(results: Iterable[tuple[Any, Any]], check_one: Callable[..., Check], what: str) -> Check:
    """The calls on hidden inputs: partial credit for the share that is right."""
    return fraction_passed(_per_call(results, check_one), what)
