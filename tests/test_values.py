"""The kernel-side encoder (run here) and the grader-side decoder, round trip."""

import numpy as np
import pandas as pd
import pytest
import torch

from grader.engine.runtime import MIME_EVENT, MIME_RESULT, load_namespace
from grader.values import ArrayValue, FrameValue, ModuleValue, Raised, Unsupported, decode, decode_outcome

RT = load_namespace()


def roundtrip(value: object) -> object:
    return decode(RT.encode(value))


def test_plain_values() -> None:
    value = {"a": [1, 2.5, float("nan"), float("inf")], 3: (None, True, "한국어"), "big": 2**70, "c": 1 + 2j}
    back = roundtrip(value)
    assert back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2]) and back["a"][3] == float("inf")
    assert back[3] == (None, True, "한국어") and back["big"] == 2**70 and back["c"] == 1 + 2j


def test_tensors_keep_dtype_grad_and_metadata() -> None:
    x = torch.arange(6.0).reshape(2, 3).requires_grad_()
    (x * 2).sum().backward()
    back = roundtrip([x, torch.tensor([True, False]), torch.ones(2, dtype=torch.bfloat16), torch.Size([2, 3])])
    t, b, h, size = back
    assert isinstance(t, ArrayValue) and t.dtype == "torch.float32" and t.requires_grad and t.shape == (2, 3)
    assert np.array_equal(t.grad.array, np.full((2, 3), 2.0))
    assert b.dtype == "torch.bool" and b.array.tolist() == [True, False]
    assert h.dtype == "torch.bfloat16" and h.array.dtype == np.float32
    assert size == (2, 3)


def test_lying_objects_cannot_choose_what_is_read() -> None:
    class Liar(torch.Tensor):
        def __eq__(self, other):  # type: ignore[override]
            return True

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func.__name__ == "numpy":
                return np.ones(3)
            return super().__torch_function__(func, types, args, kwargs or {})

    class Shape(tuple):
        def __eq__(self, other):  # type: ignore[override]
            return True

    class Number(float):
        def __float__(self) -> float:
            return 42.0

    liar = torch.zeros(3).as_subclass(Liar)
    t, shape, number = roundtrip([liar, Shape((1, 2)), Number(1.5)])
    assert t.array.tolist() == [0.0, 0.0, 0.0] and t.subclass == "Liar"
    assert isinstance(shape, Unsupported)
    assert isinstance(number, Unsupported)


def test_dataframe_and_module() -> None:
    df = pd.DataFrame({"n": [1.0, None], "c": pd.Categorical(["a", "b"]), "t": ["x", None], "b": [True, False]})
    frame = roundtrip(df)
    assert isinstance(frame, FrameValue) and frame.names == ["n", "c", "t", "b"] and frame.nrows == 2
    back = frame.to_pandas()
    assert back["n"].isna().tolist() == [False, True] and str(back["c"].dtype) == "category"
    assert back["t"].tolist() == ["x", None] and back["b"].dtype == bool
    module = roundtrip(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
    assert isinstance(module, ModuleValue) and module.class_name == "Sequential"
    assert module.params["0.weight"].shape == (2, 3)
    assert module.tree["children"][0][1]["config"] == {"in_features": 3, "out_features": 2, "bias": True}


def test_size_budget() -> None:
    with pytest.raises(RT._TooLarge):
        RT.encode(np.zeros(1000), [100])
    assert decode_outcome({"raised": ["ValueTooLarge", "too big"]}) == Raised("ValueTooLarge", "too big")


def test_malformed_arrays_are_refused() -> None:
    assert decode_outcome({"ok": {"__array__": "not base64!"}}).reason.startswith("the probe's answer could not be read")


def test_mime_types_agree_between_kernel_and_grader() -> None:
    assert (RT.MIME_EVENT, RT.MIME_RESULT) == (MIME_EVENT, MIME_RESULT)
