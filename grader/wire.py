"""What the kernel sends, checked before anything reads it: caps, .npy headers, event schemas.

Nothing from the kernel is trusted to be well formed. A notebook can replace the
runtime's send path and publish any JSON under the runtime's MIME types, so every
answer and event is checked here first:

* :func:`check_tree` walks a JSON tree without recursion and refuses one that is too
  deep, too big, holds too many nodes, or holds anything JSON cannot (bytes, objects);
* :func:`read_npy` parses ``.npy`` bytes itself: an allow-listed dtype, a shape whose
  byte size is under the cap and equal to the data present (a header claiming 8 PiB
  never allocates anything), never pickle;
* :func:`clean_event` and :func:`clean_figure` keep the known fields of a runtime event
  and of a figure, each of its declared type, and say what they refused;
* :func:`clean_environment` keeps the scalar facts of the ``environment()`` answer.

Every function here returns or raises :class:`WireError` with a message for staff; it
never lets a ``TypeError``, ``MemoryError`` or ``RecursionError`` through.
"""

from __future__ import annotations

import ast
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Limits", "LIMITS", "WireError", "check_tree", "read_npy", "clean_text", "clean_figure", "clean_event",
           "clean_environment", "EVENT_BYTES", "RUN_EVENT_BYTES"]

MiB = 1024 * 1024
# One runtime event (the end of one cell) and all events of one run, in approximate
# JSON bytes. A legitimate figure is at most ~1 MB (20,000 points per line).
EVENT_BYTES = 4 * MiB
RUN_EVENT_BYTES = 16 * MiB


class WireError(ValueError):
    """Something the kernel sent is not what the runtime sends; the message says what and where."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path

    def __str__(self) -> str:
        return f"{self.path.lstrip('.')}: {self.problem}" if self.path else self.problem

    def inside(self, step: str) -> WireError:
        """The same problem, one step further from the root (``.name`` or ``[i]``)."""
        return WireError(self.problem, step + self.path)


@dataclass(frozen=True)
class Limits:
    """Caps on one answer of the kernel (a probe's result, one event)."""

    max_chars: int = 400_000_000  # all strings together (arrays travel as base64 text)
    max_nodes: int = 2_000_000  # lists, dicts and scalars together
    max_depth: int = 64  # the runtime nests at most ~40 levels (a module tree 12 deep)
    max_array_bytes: int = 256 * MiB  # one decoded array
    max_ndim: int = 32


LIMITS = Limits()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def check_tree(node: Any, limits: Limits = LIMITS) -> int:
    """Refuse a JSON tree over ``limits`` or holding a non-JSON value; its approximate size in bytes."""
    stack: list[tuple[Any, int]] = [(node, 1)]
    nodes = chars = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise WireError(f"more than {limits.max_nodes:,} values")
        if depth > limits.max_depth:
            raise WireError(f"nested deeper than {limits.max_depth} levels")
        kind = type(value)
        if kind is str:
            chars += len(value) + 2
        elif kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    raise WireError(f"an object key is {_kind(key)}")
                chars += len(key) + 4
                stack.append((item, depth + 1))
        elif kind is list:
            stack.extend((item, depth + 1) for item in value)
        elif kind not in (int, float, bool, type(None)):
            raise WireError(f"holds {_kind(value)}, which JSON has not")
        chars += 2
        if chars > limits.max_chars:
            raise WireError(f"more than {limits.max_chars:,} bytes")
    return chars


# -- .npy ---------------------------------------------------------------------------------

_ALLOWED_DTYPES = frozenset(
    [f"{order}{kind}{size}" for order in "<>|" for kind, sizes in
     (("b", (1,)), ("i", (1, 2, 4, 8)), ("u", (1, 2, 4, 8)), ("f", (2, 4, 8)), ("c", (8, 16)))
     for size in sizes])
_MAX_HEADER = 4096


def read_npy(raw: bytes, limits: Limits = LIMITS) -> np.ndarray:
    """The array in ``.npy`` bytes; refuses other dtypes, forged shapes and sizes over the cap."""
    if raw[:6] != b"\x93NUMPY" or len(raw) < 10:
        raise WireError("not .npy data")
    major = raw[6]
    if major == 1:
        size, start = struct.unpack("<H", raw[8:10])[0], 10
    elif major in (2, 3) and len(raw) >= 12:
        size, start = struct.unpack("<I", raw[8:12])[0], 12
    else:
        raise WireError(f".npy version {major} is not read")
    if size > _MAX_HEADER or start + size > len(raw):
        raise WireError(f".npy header of {size} bytes")
    try:
        header = ast.literal_eval(raw[start:start + size].decode("latin1"))
    except Exception:  # SyntaxError, ValueError, MemoryError, RecursionError: all mean a forged header
        raise WireError(".npy header is not a Python literal") from None
    descr, fortran, shape = _header_fields(header, limits)
    itemsize = np.dtype(descr).itemsize
    count = math.prod(shape)
    nbytes = count * itemsize
    if nbytes > limits.max_array_bytes:
        raise WireError(f".npy header claims {nbytes:,} bytes, over the cap of {limits.max_array_bytes:,}")
    data = raw[start + size:]
    if len(data) != nbytes:
        raise WireError(f".npy header claims {nbytes:,} bytes but {len(data):,} follow")
    flat = np.frombuffer(data, dtype=np.dtype(descr), count=count).copy()
    return flat.reshape(shape, order="F" if fortran else "C")


def _header_fields(header: Any, limits: Limits) -> tuple[str, bool, tuple[int, ...]]:
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise WireError(".npy header lacks descr, fortran_order and shape")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or descr not in _ALLOWED_DTYPES:
        raise WireError(f".npy dtype {str(descr)[:40]!r} is not a plain number type")
    if type(fortran) is not bool:
        raise WireError(".npy fortran_order is not a boolean")
    if (not isinstance(shape, tuple) or len(shape) > limits.max_ndim
            or not all(type(n) is int and 0 <= n < 2**62 for n in shape)):
        raise WireError(f".npy shape {str(shape)[:60]} is not a tuple of sizes")
    return descr, fortran, shape


# -- text ---------------------------------------------------------------------------------

def clean_text(value: Any, limit: int = 10_000) -> str:
    """A string from the kernel, cut at ``limit`` and with lone surrogates replaced (storable)."""
    if type(value) is not str:
        raise WireError(f"is {_kind(value)}, not text")
    text = value[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# -- field schemas ------------------------------------------------------------------------

def _number(value: Any) -> float:
    if type(value) not in (int, float):
        raise WireError(f"is {_kind(value)}, not a number")
    return float(value)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise WireError(f"is {_kind(value) if type(value) is not int else 'negative'}, not a count")
    return value


def _point(value: Any) -> float | None:
    return None if value is None else _number(value)


def _list(value: Any, item: Callable[[Any], Any], cap: int) -> list[Any]:
    if type(value) is not list:
        raise WireError(f"is {_kind(value)}, not a list")
    if len(value) > cap:
        raise WireError(f"has {len(value):,} items, over the cap of {cap:,}")
    out = []
    for i, v in enumerate(value):
        try:
            out.append(item(v))
        except WireError as exc:
            raise exc.inside(f"[{i}]") from None
    return out


def _record(value: Any, fields: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """The known fields of an object, each checked; unknown fields are dropped."""
    if type(value) is not dict:
        raise WireError(f"is {_kind(value)}, not an object")
    out = {}
    for name, check in fields.items():
        if name in value:
            try:
                out[name] = check(value[name])
            except WireError as exc:
                raise exc.inside(f".{name}") from None
    return out


def _points(value: Any) -> list[float | None] | None:
    return None if value is None else _list(value, _point, 20_000)


def _text(limit: int) -> Callable[[Any], str]:
    return lambda value: clean_text(value, limit)


_LINE = {"label": clean_text, "x": _points, "y": _points, "linestyle": clean_text, "marker": clean_text}
_BAR = {"x": _number, "width": _number, "height": _number}
_COLLECTION = {"kind": clean_text, "points": _count}
_AXES: dict[str, Callable[[Any], Any]] = {
    "title": clean_text, "xlabel": clean_text, "ylabel": clean_text, "xscale": clean_text, "yscale": clean_text,
    "lines": lambda v: _list(v, lambda x: _record(x, _LINE), 256),
    "bars": lambda v: _list(v, lambda x: _record(x, _BAR), 10_000),
    "collections": lambda v: _list(v, lambda x: _record(x, _COLLECTION), 256),
    "images": lambda v: _list(v, lambda shape: _list(shape, _count, 8), 64),
    "legend": lambda v: _list(v, clean_text, 256),
}


def _axes(value: Any) -> dict[str, Any]:
    out = _record(value, _AXES)
    for name in ("lines", "bars", "collections", "images", "legend"):
        out.setdefault(name, [])
    return out


_FIGURE: dict[str, Callable[[Any], Any]] = {
    "axes": lambda v: _list(v, _axes, 64),
    "size": lambda v: _list(v, _number, 2),
    "suptitle": clean_text,
    "png": _text(4 * MiB),
    "png_error": clean_text,
    "error": clean_text,
}
MALFORMED_FIGURE = "malformed figure from the kernel: "


def clean_figure(value: Any) -> dict[str, Any]:
    """A figure as the runtime describes it; raises :class:`WireError` for anything else."""
    out = _record(value, _FIGURE)
    out.setdefault("axes", [])
    return out


_NOTICE = {"id": _count, "class": clean_text, "event": clean_text}
# A homework cell's trace (runtime/trace.py): capped lists here; grader/homework/trace.py checks each entry.
_TRACE: dict[str, Callable[[Any], Any]] = {
    **{name: (lambda v: _list(v, lambda item: item, 64)) for name in ("ops", "errors", "backward", "grad_ops", "frames")},
    "calls": _count, "truncated": lambda v: v is True,
}
_EVENT: dict[str, Callable[[Any], Any]] = {
    "network": lambda v: _list(v, _text(500), 50),
    "offline": lambda v: _list(v, _text(500), 50),
    "models": lambda v: _list(v, lambda n: _record(n, _NOTICE), 1000),
    "errors": lambda v: _list(v, _text(2000), 50),
    "models_called": lambda v: _list(v, _count, 1000),
    "trace": lambda v: _record(v, _TRACE),
}


def _figures(value: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The event's figures; one of the wrong shape becomes a figure holding only its error."""
    def one(fig: Any) -> dict[str, Any]:
        try:
            return clean_figure(fig)
        except WireError as exc:
            problems.append(MALFORMED_FIGURE + str(exc))
            return {"axes": [], "error": MALFORMED_FIGURE + str(exc)}
    return _list(value, one, 64)


def clean_event(value: Any, limits: Limits = LIMITS, budget: int = EVENT_BYTES) -> tuple[dict[str, Any], list[str]]:
    """The known fields of one runtime event, each well formed, and what was refused.

    A field of the wrong shape is dropped and named in the problems; a figure of the
    wrong shape becomes a figure holding only its ``error``."""
    try:
        size = check_tree(value, limits)
    except WireError as exc:
        return {}, [f"an event was dropped: {exc}"]
    if size > budget:
        return {}, [f"an event of about {size:,} bytes was dropped (over the cap of {budget:,})"]
    if type(value) is not dict:
        return {}, [f"an event was dropped: it is {_kind(value)}, not an object"]
    out: dict[str, Any] = {}
    problems: list[str] = []
    checks: dict[str, Callable[[Any], Any]] = {"figures": lambda v: _figures(v, problems), **_EVENT}
    for name, check in checks.items():
        if name in value:
            try:
                out[name] = check(value[name])
            except WireError as exc:
                problems.append(f"event field {name!r} was dropped: {exc.inside(name)}")
    return out, problems


def clean_environment(value: Any) -> dict[str, Any]:
    """The ``environment()`` answer's scalar facts (versions, threads); anything else is dropped."""
    if type(value) is not dict:
        return {}
    out: dict[str, Any] = {}
    for key, item in list(value.items())[:64]:
        if type(key) is not str:
            continue
        if type(item) in (str, int, bool, type(None)) or type(item) is float and math.isfinite(item):
            out[clean_text(key, 100)] = clean_text(item, 500) if type(item) is str else item
        elif type(item) is list and len(item) <= 50 and all(type(s) is str for s in item):
            out[clean_text(key, 100)] = [clean_text(s, 500) for s in item]
    return out
