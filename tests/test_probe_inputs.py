"""Probe inputs and their round trip: Frame (DataFrames from plain columns), grader-only
call meta, 0-d arrays. No kernel needed: the runtime's evaluator runs in this process."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from grader.checking.probe import Args, Calls, Frame, Steps, array, build_request, call
from grader.engine.runtime import load_namespace
from grader.values import decode


def _kernel_frame(frame: Frame) -> pd.DataFrame:
    """What the kernel's runtime makes of ``frame`` after a JSON round trip."""
    request = json.loads(json.dumps(build_request(Calls("f", [(frame,)]), seed=0)))
    node = request["steps"][0][1]["calls"][0]["args"][0]
    return load_namespace()._eval(node, {})


def test_frame_columns_dtypes_and_missing_values() -> None:
    frame = Frame({"x": np.array([1.5, np.nan, 3.0]), "n": np.array([1, 2, 3]), "ok": np.array([True, False, True]),
                   "s": ["a", None, "b"], "c": ["u", "v", None]}, dtypes={"c": "category"})
    df = _kernel_frame(frame)
    assert list(df.columns) == ["x", "n", "ok", "s", "c"]
    assert df["x"].dtype == np.float64 and df["n"].dtype == np.int64 and df["ok"].dtype == bool
    assert isinstance(df["c"].dtype, pd.CategoricalDtype) and list(df["c"].cat.categories) == ["u", "v"]
    assert not pd.api.types.is_numeric_dtype(df["s"].dtype)
    assert df.isna().sum().to_dict() == {"x": 1, "n": 0, "ok": 0, "s": 1, "c": 1}
    assert frame.nrows == 3


def test_frame_as_an_argument_of_a_step() -> None:
    request = build_request(Steps({"out": call("f", Frame({"a": np.zeros(2)}))}, returns=("out",)), seed=0)
    assert request["steps"][0][1]["args"][0]["kind"] == "frame"


@pytest.mark.parametrize("columns, dtypes, words", [
    ({"a": np.zeros(2), "b": ["x"]}, {}, "different lengths"),
    ({"a": np.zeros(2)}, {"z": "category"}, "unknown columns"),
    ({"a": ["x", 3]}, {}, "only strings and None"),
    ({"a": np.zeros((2, 2))}, {}, "1-D numeric"),
])
def test_frame_rejects_malformed_columns(columns: dict, dtypes: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Frame(columns, dtypes).node()


def test_call_meta_stays_in_the_grader() -> None:
    request = build_request(Calls("f", [Args((1.0,), meta={"truth": 123456.5})]), seed=0)
    assert "123456.5" not in json.dumps(request)


def test_zero_dimensional_arrays_keep_their_shape_both_ways() -> None:
    runtime = load_namespace()
    sent = runtime._eval(array(np.array(2.5)), {})
    assert tuple(sent.shape) == () and float(sent) == 2.5
    back = decode(runtime.encode(torch.tensor(3.0, dtype=torch.float64)))
    assert back.shape == () and back.dtype == "torch.float64"
    assert decode(runtime.encode(np.float32(1.5))).shape == ()
    assert decode(runtime.encode(torch.ones(2, 3).T)).shape == (3, 2)


def test_steps_keep_stays_in_the_grader() -> None:
    request = build_request(Steps({"out": call("f", 1)}, returns=("out",), keep={"truth": 654321.5}), seed=0)
    assert "654321.5" not in json.dumps(request)


def test_one_builder_for_every_request() -> None:
    """Homework reads (no reseeding) and exercise calls come from the same builder."""
    steps = Steps({"r0": {"kind": "global", "name": "X"}}, returns=("r0",), max_bytes=1024)
    assert build_request(steps) == {"steps": [["r0", {"kind": "global", "name": "X"}]], "return": ["r0"],
                                    "max_bytes": 1024, "seed": None}
    calls = build_request(Calls("f", [(1,)]), seed=7)
    assert calls["seed"] == 7 and calls["steps"][0][1]["seed"] == 7 and "guard" not in calls
