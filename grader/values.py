"""Decode what the kernel sent into grader-owned plain values.

The kernel's JSON (see ``runtime/encode.py``) becomes Python builtins, numpy arrays
parsed by :func:`grader.wire.read_npy` (plain number dtypes, never pickle), and the
small frozen records below. Nothing here calls back into student code or trusts a type
the student could define, and nothing trusts the JSON to be well formed: every field is
checked for its type, and :func:`decode_outcome` turns whatever is not what the runtime
sends into :class:`Malformed` (see :mod:`grader.wire` for the caps).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.wire import LIMITS, Limits, WireError, check_tree, clean_figure, clean_text, read_npy

__all__ = ["ArrayValue", "ModuleValue", "FrameValue", "FigureValue", "Unsupported", "Raised",
           "Missing", "Malformed", "MALFORMED", "decode", "decode_outcome"]

MALFORMED = "the probe's answer could not be read"


@dataclass(frozen=True)
class ArrayValue:
    """A tensor or array: its data, where it came from, and torch metadata."""

    array: np.ndarray
    framework: str = "numpy"
    dtype: str = ""
    requires_grad: bool = False
    is_leaf: bool = True
    subclass: str = ""
    grad: ArrayValue | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def describe(self) -> str:
        kind = "tensor" if self.framework == "torch" else "array"
        return f"{kind} of shape {self.shape} and dtype {self.dtype or self.array.dtype}"


@dataclass(frozen=True)
class ModuleValue:
    """An ``nn.Module``: its layer tree, parameters and named tensor attributes."""

    tree: dict[str, Any]
    params: dict[str, Any]
    buffers: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, Any] = field(default_factory=dict)
    training: bool = True

    @property
    def class_name(self) -> str:
        return str(self.tree.get("class", "?"))


@dataclass(frozen=True)
class FrameValue:
    """A pandas DataFrame as columns: name, dtype and values (array, strings or categories)."""

    columns: list[dict[str, Any]]
    nrows: int

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def to_pandas(self) -> Any:
        """A grader-owned DataFrame with the same columns, dtypes and missing values."""
        import pandas as pd

        data = {}
        for col in self.columns:
            if "categories" in col:
                codes = col["codes"].array
                data[col["name"]] = pd.Categorical.from_codes(codes, categories=col["categories"])
            elif "values" in col:
                data[col["name"]] = pd.Series(col["values"].array)
            else:
                data[col["name"]] = pd.Series(col["strings"], dtype=object)
        frame = pd.DataFrame(data)
        frame.columns = self.names
        return frame


@dataclass(frozen=True)
class FigureValue:
    """A matplotlib figure read as numbers (axes, lines, bars, images)."""

    data: dict[str, Any]

    @property
    def axes(self) -> list[dict[str, Any]]:
        return list(self.data.get("axes", []))


@dataclass(frozen=True)
class Unsupported:
    """A value of a type the grader does not read (its type name only)."""

    type_name: str


@dataclass(frozen=True)
class Raised:
    """An exception raised by student code, as its type name and message."""

    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class Missing:
    """A value the probe could not obtain, with the reason shown to the student."""

    reason: str


@dataclass(frozen=True)
class Malformed(Missing):
    """An answer the kernel sent that is not what the runtime sends (a tampered runtime,
    a forged message): recorded for that probe, never an exception. Being a
    :class:`Missing`, every test that needs the value fails with ``reason``."""


def _bool(node: dict[str, Any], name: str, default: bool) -> bool:
    value = node.get(name, default)
    if type(value) is not bool:
        raise WireError(f"{name} is not a boolean")
    return value


def _text(node: dict[str, Any], name: str, default: str = "") -> str:
    """An optional text field: absent gives ``default``; present, it must be text."""
    if name not in node:
        return default
    try:
        return clean_text(node[name], 200)
    except WireError as exc:
        raise exc.inside(f".{name}") from None


def _array(node: dict[str, Any], limits: Limits = LIMITS) -> ArrayValue:
    data = node["__array__"]
    if type(data) is not str:
        raise WireError("array data is not text")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise WireError(f"array data is not base64 ({exc})") from None
    arr = read_npy(raw, limits)
    if _bool(node, "scalar", False):
        if arr.size != 1:
            raise WireError(f"a scalar of {arr.size} elements")
        arr = arr.reshape(())
    grad_node = node.get("grad")
    grad = None
    if "grad" in node:
        if type(grad_node) is not dict or "__array__" not in grad_node:
            raise WireError("grad is not an array")
        grad = _array(grad_node, limits)
    torch_dtype, dtype = _text(node, "torch_dtype"), _text(node, "dtype")  # both checked
    return ArrayValue(arr, framework=_text(node, "framework", "numpy"), dtype=torch_dtype or dtype or str(arr.dtype),
                      requires_grad=_bool(node, "requires_grad", False), is_leaf=_bool(node, "is_leaf", True),
                      subclass=_text(node, "subclass"), grad=grad)


def _strings(value: Any, *, none: bool = False) -> list[str | None]:
    if type(value) is not list:
        raise WireError("a list of strings is not a list")
    return [None if v is None and none else clean_text(v, 20_000) for v in value]


def _column(col: Any, limits: Limits) -> dict[str, Any]:
    if type(col) is not dict:
        raise WireError("a column is not an object")
    if "name" not in col:
        raise WireError("a column has no name")
    out: dict[str, Any] = {"name": _text(col, "name"), "dtype": _text(col, "dtype")}
    if "categories" in col:
        out["categories"] = _strings(col["categories"])
        out["codes"] = _array(_object(col.get("codes")), limits)
    elif "values" in col:
        out["values"] = _array(_object(col["values"]), limits)
    elif "strings" in col:
        out["strings"] = _strings(col["strings"], none=True)
    else:
        raise WireError("a column holds neither values, categories nor strings")
    return out


def _object(value: Any) -> dict[str, Any]:
    if type(value) is not dict or "__array__" not in value:
        raise WireError("an array is missing")
    return value


def _tree(node: Any) -> dict[str, Any]:
    """A module's layer tree: class, module, config of scalars, children as [name, tree]."""
    if type(node) is not dict:
        raise WireError("a module tree node is not an object")
    missing = {"class", "module", "config", "forward_from", "children"} - set(node)
    if missing:
        raise WireError(f"a module tree node lacks {', '.join(sorted(missing))}")
    config = node["config"]
    if type(config) is not dict or not all(type(v) in (int, float, bool, str, type(None)) for v in config.values()):
        raise WireError("a module config is not an object of plain values")
    children = node["children"]
    if type(children) is not list or not all(type(c) is list and len(c) == 2 and type(c[0]) is str for c in children):
        raise WireError("module children are not [name, node] pairs")
    return {"class": clean_text(node["class"], 200), "module": _text(node, "module"),
            "config": {clean_text(k, 100): v for k, v in config.items()},
            "forward_from": _text(node, "forward_from"),
            "children": [[clean_text(name, 200), _tree(child)] for name, child in children]}


def _named(value: Any, limits: Limits) -> dict[str, Any]:
    if type(value) is not dict or not all(type(v) is dict for v in value.values()):
        raise WireError("named tensors are not an object of encoded tensors")
    return {clean_text(k, 500): decode(v, limits) for k, v in value.items()}


def _pair(value: Any) -> list[Any]:
    if type(value) is not list or len(value) != 2:
        raise WireError("a pair is not a list of two")
    return value


def _list_of(node: dict[str, Any], key: str) -> list[Any]:
    value = node[key]
    if type(value) is not list:
        raise WireError(f"{key} is not a list")
    return value


def decode(node: Any, limits: Limits = LIMITS) -> Any:
    """Grader-side value of one encoded node; raises :class:`~grader.wire.WireError` when malformed.

    Callers that may receive a forged node use :func:`decode_outcome`, which checks the
    tree's size and depth first and never raises."""
    if node is None or type(node) in (bool, int, float):
        return node
    if type(node) is str:
        return clean_text(node, 1_000_000)
    if type(node) is list:
        return [decode(v, limits) for v in node]
    if type(node) is not dict:
        raise WireError(f"a {type(node).__name__} is not JSON")
    try:
        return _decode_object(node, limits)
    except WireError as exc:
        marker = next((k for k in node if k.startswith("__")), "")
        raise (exc.inside(f".{marker}") if marker else exc) from None


def _decode_object(node: dict[str, Any], limits: Limits) -> Any:
    if "__array__" in node:
        return _array(node, limits)
    if "__tuple__" in node:
        return tuple(decode(v, limits) for v in _list_of(node, "__tuple__"))
    if "__dict__" in node:
        return {_key(decode(k, limits)): decode(v, limits) for k, v in map(_pair, _list_of(node, "__dict__"))}
    if "__float__" in node:
        text = clean_text(node["__float__"], 64)
        if text not in ("nan", "inf", "-inf"):
            raise WireError(f"{text!r} is not a special float")
        return float(text)
    if "__bigint__" in node:
        digits = clean_text(node["__bigint__"], 5000)
        if not digits.lstrip("-").isdigit() or len(digits) > 4000:
            raise WireError("a big integer is not digits")
        return int(digits)
    if "__str__" in node:
        return clean_text(node["__str__"], 1_000_000)
    if "__complex__" in node:
        re_, im = map(lambda v: decode(v, limits), _pair(node["__complex__"]))
        if type(re_) not in (int, float) or type(im) not in (int, float):
            raise WireError("a complex number's parts are not numbers")
        return complex(re_, im)
    if "__set__" in node:
        return {_key(decode(v, limits)) for v in _list_of(node, "__set__")}
    if "__dtype__" in node:
        return Unsupported(f"dtype {clean_text(node['__dtype__'], 100)}")
    if "__module__" in node:
        m = node["__module__"]
        if type(m) is not dict:
            raise WireError("a module is not an object")
        return ModuleValue(tree=_tree(m.get("tree")), params=_named(m.get("params"), limits),
                           buffers=_named(m.get("buffers", {}), limits), tensors=_named(m.get("tensors", {}), limits),
                           training=_bool(m, "training", True))
    if "__dataframe__" in node:
        frame = node["__dataframe__"]
        if type(frame) is not dict or type(frame.get("nrows")) is not int or frame["nrows"] < 0:
            raise WireError("a data frame lacks its columns or row count")
        return FrameValue([_column(c, limits) for c in _list_of(frame, "columns")], frame["nrows"])
    if "__series__" in node:
        return FrameValue([_column(node["__series__"], limits)], -1)
    if "__figure__" in node:
        return FigureValue(clean_figure(node["__figure__"]))
    if "__exception__" in node:
        kind, message = _pair(node["__exception__"])
        return Raised(clean_text(kind, 200), clean_text(message, 2000))
    if "__unsupported__" in node:
        return Unsupported(clean_text(node["__unsupported__"], 500))
    raise WireError(f"an object of unknown encoding (keys {', '.join(sorted(node)[:5])[:100]})")


def _key(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def decode_outcome(entry: Any, limits: Limits = LIMITS) -> Any:
    """One step's result: a value, a list of per-call outcomes, or :class:`Raised`.

    Never raises: whatever the kernel sent that is not what the runtime sends (too big,
    too deep, a forged ``.npy`` header, a field of the wrong type) becomes
    :class:`Malformed` saying what was wrong."""
    try:
        check_tree(entry, limits)
        return _outcome(entry, limits)
    except WireError as exc:
        return Malformed(f"{MALFORMED}: {exc}")
    except Exception as exc:  # a decoder bug must not stop the grading of this notebook
        return Malformed(f"{MALFORMED}: {type(exc).__name__}: {str(exc)[:200]}")


def _outcome(entry: Any, limits: Limits) -> Any:
    if type(entry) is not dict:
        raise WireError(f"it is {'null' if entry is None else type(entry).__name__}, not an object")
    if "raised" in entry:
        raised = entry["raised"]
        if type(raised) is not list or not 1 <= len(raised) <= 2:
            raise WireError("raised is not [type, message]")
        kind, message = (raised + [""])[:2]
        return Raised(clean_text(kind, 200), clean_text(message, 2000))
    if "mapped" in entry:
        if entry["mapped"] is not True or type(entry.get("ok")) is not list:
            raise WireError("mapped results are not a list")
        return [decode_outcome(e, limits) for e in entry["ok"]]
    if "ok" not in entry:
        raise WireError("it holds neither a value nor an exception")
    return decode(entry["ok"], limits)
