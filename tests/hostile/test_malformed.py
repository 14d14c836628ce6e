"""Nothing from the kernel is trusted to be well formed (kernel-free, generated payloads).

Real answers are made by the runtime's own encoder (run here, as in test_values); a
generator then breaks them field by field: wrong types, missing keys, huge sizes, deep
nesting, NaN/inf where a count or text belongs, bytes (invalid UTF-8), forged ``.npy``
headers. Every variant must come back as a recorded :class:`Malformed` value, never an
exception; events and the environment answer keep only well-formed fields.
"""

from __future__ import annotations

import base64
import copy
import functools
import io
import math
import struct
from typing import Any, Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from grader.engine.runtime import load_namespace  # noqa: E402
from grader.values import ArrayValue, FigureValue, Malformed, Missing, Raised, decode_outcome  # noqa: E402
from grader.wire import Limits, WireError, clean_environment, clean_event, read_npy  # noqa: E402

RT = load_namespace()
Path = tuple[Any, ...]

# Positions whose content is free (any JSON value is a legitimate answer there): the items
# of tuples, dicts and sets, a layer's constructor config, the points of a line (None allowed).
FREE = {"__tuple__", "__set__", "__dict__", "config", "x", "y", "strings", "hparams"}
# Fields that may hold any encoded value (a probe's result): only their inside is broken.
FREE_VALUE = {"ok"}
# Fields whose absence the runtime never produces.
REQUIRED = {"__array__", "nrows", "columns", "name", "tree", "params", "class", "module", "config", "forward_from",
            "children", "__exception__", "ok", "raised", "codes", "values"}
NUMBER, TEXT, BOOL, LIST, OBJECT, NULL = "number", "text", "bool", "list", "object", "null"


def kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    return {str: TEXT, list: LIST, dict: OBJECT}.get(type(value), "bytes")


WRONG = [("int", 5), ("negative", -1), ("float", 1.5), ("nan", math.nan), ("inf", math.inf), ("bool", True),
         ("text", "x"), ("list", []), ("object", {}), ("bytes", b"\xff\xfe"), ("null", None)]


def _figure() -> Any:
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1.0, 4.0, float("nan")], label="loss")
    ax.bar([0, 1], [3.0, 2.0])
    ax.imshow(np.zeros((2, 3)))
    ax.legend()
    ax.set_title("t")
    data = RT._figure_data(fig)
    plt.close(fig)
    return data


def samples() -> dict[str, Any]:
    """Real answers of every kind, as the runtime encodes them."""
    x = torch.arange(6.0).reshape(2, 3).requires_grad_()
    (x * 2).sum().backward()
    frame = pd.DataFrame({"a": [1.0, None], "b": ["u", None], "c": pd.Categorical(["p", "q"])})
    return {
        "tensor": {"ok": RT.encode(x)},
        "scalar": {"ok": RT.encode(np.float64(2.5))},
        "frame": {"ok": RT.encode(frame)},
        "module": {"ok": RT.encode(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()))},
        "figure": {"ok": {"__figure__": _figure()}},
        "containers": {"ok": RT.encode({"k": (1, 2**70, float("nan")), "s": {3}, "c": 1 + 2j})},
        "raised": {"raised": ["ValueError", "no"]},
        "mapped": {"ok": [{"ok": RT.encode((2, 3))}, {"raised": ["ValueError", "no"]}], "mapped": True},
    }


def field_paths(node: Any, path: Path = ()) -> Iterator[Path]:
    """Every path ending at a key of an object, outside free-form content."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,)
            if key not in FREE:
                yield from field_paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from field_paths(value, path + (i,))


def get(node: Any, path: Path) -> Any:
    for step in path:
        node = node[step]
    return node


def replaced(root: Any, path: Path, value: Any) -> Any:
    out = copy.deepcopy(root)
    get(out, path[:-1])[path[-1]] = value
    return out


def without(root: Any, path: Path) -> Any:
    out = copy.deepcopy(root)
    del get(out, path[:-1])[path[-1]]
    return out


def wrong_for(path: Path, original: Any) -> Iterator[tuple[str, Any]]:
    """Values of another kind than ``original`` (a value of its own kind may be legitimate)."""
    for label, value in WRONG:
        if value is None and path[-1] in ("x", "y"):
            continue  # a line whose data matplotlib could not give as numbers is sent as null
        if kind(value) != kind(original):
            yield label, value


def variants() -> Iterator[tuple[str, Any]]:
    """(label, payload) for every broken field of every sample."""
    for name, sample in samples().items():
        for path in field_paths(sample):
            original = get(sample, path)
            where = f"{name}:{'.'.join(map(str, path))}"
            if path[-1] not in FREE_VALUE:
                for label, value in wrong_for(path, original):
                    yield f"{where}={label}", replaced(sample, path, value)
            if path[-1] in REQUIRED:
                yield f"{where} missing", without(sample, path)
            if kind(original) in (LIST, OBJECT):
                deep: Any = original
                for _ in range(600):
                    deep = [deep]
                yield f"{where} nested 600 deep", replaced(sample, path, deep)


VARIANTS = list(variants())


def test_the_samples_themselves_decode() -> None:
    decoded = {name: decode_outcome(s) for name, s in samples().items()}
    assert not [n for n, v in decoded.items() if isinstance(v, Missing)]
    assert isinstance(decoded["tensor"], ArrayValue) and decoded["tensor"].grad is not None
    assert isinstance(decoded["figure"], FigureValue) and decoded["figure"].axes[0]["lines"][0]["label"] == "loss"
    assert decoded["mapped"] == [(2, 3), Raised("ValueError", "no")]


def test_the_generator_covers_every_kind_of_break() -> None:
    labels = [label for label, _ in VARIANTS]
    assert len(labels) > 1000
    for fragment in ("=nan", "=inf", "=bytes", " missing", " nested 600 deep", "figure:ok.__figure__.axes.0.lines.0"):
        assert any(fragment in label for label in labels), fragment


def _malformed_anywhere(value: Any) -> bool:
    if isinstance(value, Malformed):
        return True
    return isinstance(value, list) and any(_malformed_anywhere(v) for v in value)


def test_every_broken_answer_is_a_recorded_malformed_value() -> None:
    accepted = []
    for label, payload in VARIANTS:
        value = decode_outcome(payload)  # must not raise
        if not _malformed_anywhere(value):
            accepted.append(label)
    assert accepted == []


def test_malformed_messages_say_what_was_wrong() -> None:
    sample = samples()["figure"]
    forged = replaced(sample, ("ok", "__figure__", "axes", 0, "lines"), [5])
    assert decode_outcome(forged) == Malformed(
        "the probe's answer could not be read: __figure__.axes[0].lines[0]: is an integer, not an object")
    assert decode_outcome([1]) == Malformed("the probe's answer could not be read: it is list, not an object")


@pytest.mark.parametrize("limits, payload, message", [
    (Limits(max_nodes=1000), {"ok": list(range(2000))}, "more than 1,000 values"),
    (Limits(max_chars=10_000), {"ok": "x" * 20_000}, "more than 10,000 bytes"),
    (Limits(max_depth=64), {"ok": functools.reduce(lambda a, _: [a], range(600), [])},
     "nested deeper than 64 levels"),
])
def test_caps_on_size_count_and_depth(limits: Limits, payload: Any, message: str) -> None:
    assert decode_outcome(payload, limits) == Malformed(f"the probe's answer could not be read: {message}")


def npy(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> str:
    head = header.encode("latin1")
    size = struct.pack("<H", len(head)) if version == b"\x01\x00" else struct.pack("<I", len(head))
    return base64.b64encode(b"\x93NUMPY" + version + size + head + data).decode("ascii")


def saved(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


EIGHT_PIB = "{'descr': '<f8', 'fortran_order': False, 'shape': (1048576, 1048576, 1024), }"


@pytest.mark.parametrize("raw, message", [
    (npy(EIGHT_PIB, b"\0" * 8), ".npy header claims 9,007,199,254,740,992 bytes, over the cap of 268,435,456"),
    (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", b"\0" * 8),
     ".npy header claims 32 bytes but 8 follow"),
    (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16),
     ".npy header claims 8 bytes but 16 follow"),
    (base64.b64encode(saved(np.array([{"a": 1}], dtype=object), allow_pickle=True)).decode(),
     ".npy dtype '|O' is not a plain number type"),
    (base64.b64encode(saved(np.array(["ab"]))).decode(), ".npy dtype '<U2' is not a plain number type"),
    (base64.b64encode(saved(np.zeros(2, dtype=[("a", "<f8")]))).decode(),
     ".npy dtype \"[('a', '<f8')]\" is not a plain number type"),
    (npy("{'descr': '<f8', 'fortran_order': 'x', 'shape': (1,), }", b"\0" * 8), ".npy fortran_order is not a boolean"),
    (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"), ".npy shape (-1,) is not a tuple of sizes"),
    (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,), }"), ".npy shape (1.5,) is not a tuple of sizes"),
    (npy("__import__('os').system('true')"), ".npy header is not a Python literal"),
    (npy("(" * 3000 + ")" * 3000), ".npy header of 6000 bytes"),
    (npy("{'descr': '<f8'}"), ".npy header lacks descr, fortran_order and shape"),
    (npy("{}", version=b"\x09\x00"), ".npy version 9 is not read"),
    (base64.b64encode(b"PK\x03\x04 a zip file").decode(), "not .npy data"),
    ("not base64!", "array data is not base64 (Only base64 data is allowed)"),
])
def test_forged_npy_is_refused_without_allocating(raw: str, message: str) -> None:
    value = decode_outcome({"ok": {"__array__": raw, "framework": "numpy", "dtype": "float64"}})
    assert value == Malformed(f"the probe's answer could not be read: __array__: {message}")


def test_read_npy_keeps_every_plain_dtype_and_fortran_order() -> None:
    for dtype in ("bool", "int8", "uint16", "int32", "int64", "float16", "float32", "float64", "complex128"):
        arr = np.arange(6).reshape(2, 3).astype(dtype)
        for a in (arr, np.asfortranarray(arr)):
            back = read_npy(saved(a))
            assert back.dtype == arr.dtype and np.array_equal(back, arr)
    with pytest.raises(WireError, match="not .npy data"):
        read_npy(b"")


def test_text_from_the_kernel_is_storable() -> None:
    value = decode_outcome({"raised": ["Value\udcffError", "bad \ud800 text"]})
    assert value == Raised("Value?Error", "bad ? text")
    value.message.encode("utf-8")


# -- events ---------------------------------------------------------------------------

def event() -> dict[str, Any]:
    return {"figures": [_figure()], "network": ["connect to ('1.2.3.4', 80)"], "offline": ["fashion-mnist"],
            "models": [{"id": 1, "class": "Net", "event": "trained"}], "errors": ["hook: KeyError"]}


def event_variants() -> Iterator[tuple[str, Any]]:
    base = event()
    for path in field_paths(base):
        for label, value in wrong_for(path, get(base, path)):
            yield f"{'.'.join(map(str, path))}={label}", replaced(base, path, value)
    yield "not an object", [base]
    yield "600 deep", replaced(base, ("errors",), functools.reduce(lambda a, _: [a], range(600), []))


def test_every_broken_event_keeps_only_well_formed_fields_and_says_why() -> None:
    silent = []
    for label, payload in event_variants():
        cleaned, problems = clean_event(payload)
        if not problems:
            silent.append(label)
        assert clean_event(cleaned) == (cleaned, []), label  # what is kept is itself well formed
    assert silent == []


@pytest.mark.parametrize("payload, kept, problem", [
    ({"figures": [{"axes": [{"lines": [5]}]}]},
     {"figures": [{"axes": [], "error": "malformed figure from the kernel: axes[0].lines[0]: is an integer, not an object"}]},
     "malformed figure from the kernel: axes[0].lines[0]: is an integer, not an object"),
    ({"figures": ["fig"], "network": ["x"]},
     {"figures": [{"axes": [], "error": "malformed figure from the kernel: is a string, not an object"}],
      "network": ["x"]},
     "malformed figure from the kernel: is a string, not an object"),
    ({"network": 7, "offline": []}, {"offline": []}, "event field 'network' was dropped: network: is an integer, not a list"),
    ({"models": ["trained"]}, {}, "event field 'models' was dropped: models[0]: is a string, not an object"),
    ({"errors": ["x" * 10]}, {}, "an event of about 28 bytes was dropped (over the cap of 20)"),
])
def test_event_problems_are_named(payload: Any, kept: Any, problem: str) -> None:
    budget = 20 if "errors" in payload else 4 * 1024 * 1024
    cleaned, problems = clean_event(payload, budget=budget)
    assert (cleaned, problems) == (kept, [problem])


def test_the_environment_answer_keeps_scalars_only() -> None:
    answer = decode_outcome({"ok": RT.encode({"torch": "2.14.1", "threads": 2, "x": np.zeros(3), "nested": {"a": 1},
                                               "hook_errors": ["e"], "bad": float("nan")})})
    assert clean_environment(answer) == {"torch": "2.14.1", "threads": 2, "hook_errors": ["e"]}
    assert clean_environment(Malformed("x")) == {} and clean_environment([1]) == {}
