"""Decode what the kernel sent into grader-owned plain values.

The kernel's JSON (see ``runtime/encode.py``) becomes Python builtins, numpy arrays
parsed with ``allow_pickle=False``, and the small frozen records below. Nothing here
calls back into student code or trusts a type the student could define.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ArrayValue", "ModuleValue", "FrameValue", "FigureValue", "Unsupported", "Raised",
           "Missing", "decode", "decode_outcome"]


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


def _array(node: dict[str, Any]) -> ArrayValue:
    raw = base64.b64decode(node["__array__"], validate=True)
    arr = np.load(io.BytesIO(raw), allow_pickle=False)
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"unexpected array dtype {arr.dtype}")
    if node.get("scalar"):
        arr = arr.reshape(())
    grad = _array(node["grad"]) if isinstance(node.get("grad"), dict) and "__array__" in node["grad"] else None
    return ArrayValue(arr, framework=str(node.get("framework", "numpy")),
                      dtype=str(node.get("torch_dtype") or node.get("dtype") or arr.dtype),
                      requires_grad=bool(node.get("requires_grad", False)), is_leaf=bool(node.get("is_leaf", True)),
                      subclass=str(node.get("subclass", "")), grad=grad)


def _column(col: dict[str, Any]) -> dict[str, Any]:
    out = {"name": str(col.get("name")), "dtype": str(col.get("dtype"))}
    if "categories" in col:
        out["categories"] = [str(c) for c in col["categories"]]
        out["codes"] = _array(col["codes"])
    elif "values" in col:
        out["values"] = _array(col["values"])
    else:
        out["strings"] = [None if s is None else str(s) for s in col.get("strings", [])]
    return out


def decode(node: Any) -> Any:
    """Grader-side value of one encoded node."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode(v) for v in node]
    if not isinstance(node, dict):
        return Unsupported(type(node).__name__)
    if "__array__" in node:
        return _array(node)
    if "__tuple__" in node:
        return tuple(decode(v) for v in node["__tuple__"])
    if "__dict__" in node:
        return {_key(decode(k)): decode(v) for k, v in node["__dict__"]}
    if "__float__" in node:
        return float(node["__float__"])
    if "__bigint__" in node:
        return int(node["__bigint__"])
    if "__str__" in node:
        return str(node["__str__"])
    if "__complex__" in node:
        re_, im = node["__complex__"]
        return complex(decode(re_), decode(im))
    if "__set__" in node:
        return {_key(decode(v)) for v in node["__set__"]}
    if "__dtype__" in node:
        return Unsupported(f"dtype {node['__dtype__']}")
    if "__module__" in node:
        m = node["__module__"]
        return ModuleValue(tree=m.get("tree", {}), params={k: decode(v) for k, v in m.get("params", {}).items()},
                           buffers={k: decode(v) for k, v in m.get("buffers", {}).items()},
                           tensors={k: decode(v) for k, v in m.get("tensors", {}).items()},
                           training=bool(m.get("training", True)))
    if "__dataframe__" in node:
        frame = node["__dataframe__"]
        return FrameValue([_column(c) for c in frame["columns"]], int(frame["nrows"]))
    if "__series__" in node:
        return FrameValue([_column(node["__series__"])], -1)
    if "__figure__" in node:
        return FigureValue(node["__figure__"])
    if "__exception__" in node:
        return Raised(*[str(x) for x in node["__exception__"]])
    if "__unsupported__" in node:
        return Unsupported(str(node["__unsupported__"]))
    return Unsupported("unknown encoding")


def _key(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def decode_outcome(entry: Any) -> Any:
    """One step's result: a value, a list of per-call outcomes, or :class:`Raised`."""
    if not isinstance(entry, dict):
        return Missing("the probe's answer was malformed")
    if "raised" in entry:
        kind, message = (list(entry["raised"]) + ["", ""])[:2]
        return Raised(str(kind), str(message))
    if entry.get("mapped"):
        return [decode_outcome(e) for e in entry.get("ok", [])]
    try:
        return decode(entry.get("ok"))
    except (ValueError, KeyError, TypeError) as exc:
        return Missing(f"the probe's answer could not be read ({exc})")
