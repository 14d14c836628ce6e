"""Probes: what the grader asks the kernel for, and what it makes of the answer.

A probe is declared in the grader's process as one of three descriptors:

* :class:`Value` reads a global of the notebook (``x3``);
* :class:`Calls` calls a student function on inputs the grader chose, one outcome per
  call (a value or the exception it raised);
* :class:`Steps` chains calls (build a model, train it, compute logits on test images)
  with :func:`call`, :func:`glob`, :func:`ref`, :func:`const`, :func:`array`,
  :func:`fashion`, :func:`take` and :func:`logits`, returning only the named results;
  what the grader keeps for itself (held-out labels, a label permutation) rides along
  in ``keep`` and never reaches the kernel.

Inputs are numbers, strings, tuples, lists, numpy arrays (torch tensors in the kernel)
and :class:`Frame` (a pandas DataFrame in the kernel, built from plain columns).

:func:`build_request` turns a descriptor into the JSON the kernel's runtime evaluates;
:func:`read_answer` turns the kernel's :class:`~grader.engine.execute.RawAnswer` into the
value a test receives. Inputs never leave as pickles and answers are never trusted
beyond being data.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from grader.protocol import RawAnswer
from grader.values import Missing, Raised, decode_outcome

__all__ = [
    "Value", "Calls", "Steps", "CallResults", "Args", "Frame", "call", "glob", "ref", "const", "array", "fashion",
    "logits", "take", "build_request", "guarded_calls", "GuardedCall", "read_answer", "ProbeDescriptor",
]


def const(value: Any) -> dict[str, Any]:
    """A JSON constant (tuples survive as tuples)."""
    return {"kind": "const", "value": _jsonable(value)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def array(values: Any, *, torch: bool = True, requires_grad: bool = False, dtype: str | None = None) -> dict[str, Any]:
    """A numeric array sent as .npy bytes; a torch tensor in the kernel unless ``torch=False``."""
    given = np.asarray(values, dtype=dtype)
    arr = np.ascontiguousarray(given).reshape(given.shape)  # ascontiguousarray alone makes 0-d arrays 1-d
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return {"kind": "array", "npy": base64.b64encode(buf.getvalue()).decode("ascii"), "torch": torch,
            "requires_grad": requires_grad}


@dataclass(frozen=True)
class Frame:
    """A pandas DataFrame that the kernel builds from plain columns, in order.

    Each column is a 1-D numeric or boolean array (``nan`` marks a missing float), or a
    list of strings with ``None`` for missing entries (pandas then picks its string
    dtype: ``object``, or ``str`` from pandas 3 on). ``dtypes`` converts named columns to
    a pandas dtype such as ``"category"``. Tests receive the very same object among a
    call's arguments, so they can compute expected values from its columns."""

    columns: dict[str, Any]
    dtypes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"Frame columns have different lengths: {sorted(lengths)}")
        unknown = set(self.dtypes) - set(self.columns)
        if unknown:
            raise ValueError(f"Frame dtypes name unknown columns {sorted(unknown)}")

    @property
    def nrows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def node(self) -> dict[str, Any]:
        """The JSON node the kernel's runtime decodes with pandas."""
        columns = []
        for name, values in self.columns.items():
            col: dict[str, Any] = {"name": str(name), "dtype": self.dtypes.get(name)}
            if isinstance(values, np.ndarray):
                if values.ndim != 1 or values.dtype.kind not in "biuf":
                    raise ValueError(f"Frame column {name!r}: expected a 1-D numeric array, got {values.dtype}")
                col["npy"] = array(values, torch=False)["npy"]
            else:
                if not all(v is None or isinstance(v, str) for v in values):
                    raise ValueError(f"Frame column {name!r}: a list column holds only strings and None")
                col["strings"] = list(values)
            columns.append(col)
        return {"kind": "frame", "columns": columns}


def glob(name: str) -> dict[str, Any]:
    """The notebook's global ``name``."""
    return {"kind": "global", "name": name}


def ref(name: str) -> dict[str, Any]:
    """The result of an earlier step of the same :class:`Steps`."""
    return {"kind": "ref", "name": name}


def _node(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "kind" in value:
        return value
    if isinstance(value, np.ndarray):
        return array(value)
    if isinstance(value, Frame):
        return value.node()
    return const(value)


def call(fn: str | dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call the notebook's function ``fn`` (a name) or any callable node, with nodes or constants."""
    target = glob(fn) if isinstance(fn, str) else fn
    return {"kind": "call", "fn": target, "args": [_node(a) for a in args],
            "kwargs": {k: _node(v) for k, v in kwargs.items()}}


def fashion(split: str, part: str, indices: Sequence[int] | np.ndarray | None = None,
            flatten: bool = False) -> dict[str, Any]:
    """Fashion-MNIST from the kernel's data store: images as float in [0, 1] (N x 784 if
    ``flatten``, else N x 1 x 28 x 28), or int64 labels; optionally a subset."""
    node: dict[str, Any] = {"kind": "fashion", "split": split, "part": part, "flatten": flatten, "indices": None}
    if indices is not None:
        node["indices"] = array(np.asarray(indices, dtype=np.int64), torch=False)["npy"]
    return node


def take(values: Any, indices: dict[str, Any]) -> dict[str, Any]:
    """``values[indices]`` in the kernel, e.g. training labels renamed by a grader-chosen
    permutation: ``take(permutation, fashion("train", "labels", idx))``."""
    return call({"kind": "attribute", "of": _node(values), "name": "__getitem__"}, indices)


def logits(model: dict[str, Any], X: dict[str, Any]) -> dict[str, Any]:
    """``model(X)`` in evaluation mode without gradients, in batches."""
    return {"kind": "logits", "model": model, "X": X}


@dataclass(frozen=True)
class Args:
    """Positional and keyword arguments of one call in :class:`Calls`.

    ``meta`` holds grader-only facts about the call, such as the true parameter behind
    generated data; tests read it back from :class:`CallResults`, and it is never sent to
    the kernel."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Value:
    """Read the notebook's global ``name``."""

    name: str


@dataclass(frozen=True)
class Calls:
    """Call the notebook's function ``function`` once per item of ``inputs``.

    Each input is an :class:`Args` or a tuple of positional arguments. The test receives a
    :class:`CallResults` with the inputs (as the grader made them) and the outcomes."""

    function: str
    inputs: Sequence[Any]
    max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Steps:
    """Named steps evaluated in order in the kernel; only ``returns`` come back.

    ``keep`` holds grader-side values (held-out labels, a permutation) that the test
    receives with the results under their own names; they are never sent to the kernel."""

    steps: dict[str, dict[str, Any]]
    returns: tuple[str, ...]
    max_bytes: int = 256 * 1024 * 1024
    keep: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = set(self.keep) & set(self.returns)
        if clash:
            raise ValueError(f"Steps: {sorted(clash)} are both returned and kept")


ProbeDescriptor = Value | Calls | Steps


@dataclass(frozen=True)
class CallResults:
    """Inputs given to a student function and what each call returned or raised."""

    function: str
    inputs: list[Args]
    outcomes: list[Any]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(zip(self.inputs, self.outcomes))

    def __len__(self) -> int:
        return len(self.inputs)


def _as_args(item: Any) -> Args:
    if isinstance(item, Args):
        return item
    if isinstance(item, tuple):
        return Args(item)
    return Args((item,))


def _called_globals(descriptor: ProbeDescriptor) -> set[str]:
    """The notebook functions a probe calls by name."""
    if isinstance(descriptor, Calls):
        return {descriptor.function}
    if not isinstance(descriptor, Steps):
        return set()
    found: set[str] = set()
    stack: list[Any] = list(descriptor.steps.values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            fn = node.get("fn")
            if node.get("kind") in ("call", "map") and isinstance(fn, dict) and fn.get("kind") == "global":
                found.add(str(fn.get("name")))
            stack += node.values()
        elif isinstance(node, (list, tuple)):
            stack += node
    return found


def build_request(descriptor: ProbeDescriptor, seed: int | None = None, *,
                  guard: Sequence[tuple[Sequence[str], Sequence[str]]] = ()) -> dict[str, Any]:
    """The JSON request the kernel's runtime evaluates for ``descriptor``: the one place
    probe requests are made (exercises, homework checkpoints, model reads).

    ``seed`` reseeds random, numpy and torch before the probe (and before every call of a
    :class:`Calls`); None leaves the notebook's random stream alone. ``guard`` lists the
    exercise's forbidden rules as ``(rules, functions)`` pairs (``(("numpy", "torch"),
    ("broadcast_shape",))``): while the probe calls one of those functions, the runtime
    records every call of a callable the rules name, whatever alias reached it, and
    :func:`guarded_calls` reads the records back (indices refer to ``guard``)."""
    if isinstance(descriptor, Value):
        request: dict[str, Any] = {"steps": [["value", glob(descriptor.name)]], "return": ["value"]}
    elif isinstance(descriptor, Calls):
        calls = []
        for item in map(_as_args, descriptor.inputs):
            calls.append({"args": [_node(a) for a in item.args],
                          "kwargs": {k: _node(v) for k, v in item.kwargs.items()}})
        node = {"kind": "map", "fn": glob(descriptor.function), "calls": calls, "seed": seed}
        request = {"steps": [["calls", node]], "return": ["calls"], "max_bytes": descriptor.max_bytes}
    elif isinstance(descriptor, Steps):
        request = {"steps": [[k, v] for k, v in descriptor.steps.items()], "return": list(descriptor.returns),
                   "max_bytes": descriptor.max_bytes}
    else:
        raise TypeError(f"not a probe descriptor: {descriptor!r}")
    request["seed"] = seed
    called = _called_globals(descriptor)
    groups = [{"rule": i, "rules": list(rules), "functions": sorted(called & set(functions))}
              for i, (rules, functions) in enumerate(guard) if called & set(functions)]
    if groups:
        request["guard"] = groups
    return request


@dataclass(frozen=True)
class GuardedCall:
    """A forbidden callable the kernel saw called while a probe ran: the index of the rule
    group in the request's ``guard`` (-1: the student's code removed the guard), the
    callable's name (``numpy.broadcast_shapes``, ``.norm``, ``import scipy``) and the
    student function the grader was calling."""

    rule: int
    name: str
    function: str


def guarded_calls(answer: RawAnswer | None) -> list[GuardedCall]:
    """The forbidden calls recorded in a probe's answer (empty when none, or when the
    answer carries nothing readable). Only ever a reason to take points away: a kernel
    that hides its calls still faces the static rules and the hidden inputs."""
    if answer is None or answer.status != "ok" or not isinstance(answer.payload, dict):
        return []
    found = answer.payload.get("guarded")
    if not isinstance(found, list):
        return []
    out = []
    for item in found[:50]:
        if isinstance(item, dict) and isinstance(item.get("rule"), int) and isinstance(item.get("name"), str):
            out.append(GuardedCall(item["rule"], item["name"][:200], str(item.get("function", ""))[:200]))
    return out


def _missing_name(raised: Raised, name: str) -> Missing | Raised:
    if raised.type == "NameError":
        return Missing(f"`{name}` is not defined: the notebook must define it at the top level")
    return raised


def _failure(answer: RawAnswer, what: str) -> Missing:
    reasons = {
        "timeout": f"{what} did not finish within the time limit and was interrupted",
        "killed": f"{what} ignored the interrupt after its time limit; the kernel was killed",
        "dead_kernel": f"the kernel died while running {what}",
        "tampered": answer.message,
    }
    return Missing(reasons.get(answer.status) or answer.message or "no answer from the kernel")


def read_answer(descriptor: ProbeDescriptor, answer: RawAnswer | None) -> Any:
    """What a test receives for ``descriptor``: a value, :class:`CallResults`, a dict of
    step results, or :class:`~grader.values.Missing` with the reason."""
    if isinstance(descriptor, Value):
        what = f"reading `{descriptor.name}`"
    elif isinstance(descriptor, Calls):
        what = f"calling `{descriptor.function}`"
    else:
        what = "the grader's calls"
    if answer is None:
        return Missing(f"{what} was not attempted")
    if answer.status != "ok" or answer.payload is None:
        return _failure(answer, what)
    results = answer.payload.get("results") or {}
    if isinstance(descriptor, Value):
        value = decode_outcome(results.get("value"))
        return _missing_name(value, descriptor.name) if isinstance(value, Raised) else value
    if isinstance(descriptor, Calls):
        outcome = decode_outcome(results.get("calls"))
        if isinstance(outcome, Raised):
            return _missing_name(outcome, descriptor.function)
        if isinstance(outcome, Missing):
            return outcome
        inputs = [_as_args(i) for i in descriptor.inputs]
        if not isinstance(outcome, list) or len(outcome) != len(inputs):
            return Missing(f"{what}: the answer does not match the calls made")
        return CallResults(descriptor.function, inputs, outcome)
    out = {name: decode_outcome(results.get(name)) for name in descriptor.returns}
    out.update(descriptor.keep)
    return out
