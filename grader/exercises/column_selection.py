"""d2l 2.2, exercise 2: select columns by name instead of by position.

The book splits its house data with ``data.iloc[:, 0:2]`` and ``data.iloc[:, 2]``. The
student writes ``split_by_name(df, target)``, returning the other columns (in order) and
the target column as a Series, using names only (no ``.iloc``/``.iat``). Graded on the
book's small frame and on hidden frames with the target anywhere, gaps and text columns,
compared here with the grader's own columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.checks import (Check, check_pair, describe, failed, fraction_passed, passed)
from grader.checking.probe import CallResults, Calls, Frame
from grader.units.spec import Exercise, Forbidden
from grader.values import FrameValue

EXERCISE = Exercise(
    "column_selection", section="2.2", title="Select columns by name",
    names=("split_by_name",),
    summary="split_by_name on the house frame and hidden frames (target anywhere), no positional indexing",
    forbidden=[Forbidden((".iloc", ".iat"), functions=("split_by_name",))],
)

HOUSE = Frame({"NumRooms": np.array([np.nan, 2.0, 4.0, np.nan]), "RoofType": [None, None, "Slate", None],
               "Price": np.array([127500, 106000, 178100, 140000])})
NAMES = ("area", "rooms", "roof", "street", "price", "year", "zone", "garage", "garden", "floors")


def hidden_frames(rng: np.random.Generator) -> list[tuple[Frame, str]]:
    """Three frames of 3-6 named columns (floats with gaps, ints, labels), a random target."""
    calls = []
    for _ in range(3):
        nrows = int(rng.integers(5, 30))
        names = [str(n) for n in rng.choice(NAMES, size=int(rng.integers(3, 7)), replace=False)]
        columns: dict[str, Any] = {}
        for name in names:
            kind = int(rng.integers(3))
            if kind == 0:
                values = rng.normal(100, 30, nrows).round(1)
                values[rng.random(nrows) < 0.2] = np.nan
            elif kind == 1:
                values = rng.integers(0, 500, nrows)
            else:
                values = [None if rng.random() < 0.2 else str(rng.choice(["Slate", "Tile", "Wood"])) for _ in range(nrows)]
            columns[name] = values
        calls.append((Frame(columns), str(rng.choice(names))))
    return calls


@EXERCISE.probe
def house_call() -> Calls:
    return Calls("split_by_name", [(HOUSE, "Price")])


@EXERCISE.probe(hidden=True)
def hidden_calls(rng: np.random.Generator) -> Calls:
    return Calls("split_by_name", hidden_frames(rng))


def same_column(col: dict[str, Any], values: Any) -> bool:
    """A column sent back by the kernel equals the grader's column (NaN/None as gaps)."""
    if isinstance(values, np.ndarray):
        got = col.get("values")
        return got is not None and got.array.shape == values.shape and \
            bool(np.array_equal(got.array.astype(float), values.astype(float), equal_nan=True))
    return col.get("strings") == list(values)


def check_split(frame: Frame, target: str, outcome: object, where: str) -> Check:
    """One call: (inputs without the target, in order; the target as a Series)."""
    name = f"split_by_name({where}, {target!r})"
    pair = check_pair("split_by_name", outcome, "(inputs, target)", call=name)
    if not pair.passed:
        return pair
    inputs, series = outcome
    wanted = [c for c in frame.columns if c != target]
    if not isinstance(inputs, FrameValue) or inputs.nrows < 0:
        return failed(f"the inputs of `{name}` should be a DataFrame, but they are {describe(inputs)}")
    if inputs.names != wanted:
        return failed(f"the inputs of `{name}` have columns {inputs.names}, expected {wanted} (all but the target, "
                      "in their order)")
    bad = [c["name"] for c in inputs.columns if not same_column(c, frame.columns[c["name"]])]
    if bad:
        return failed(f"the inputs of `{name}` have changed values in columns {bad}")
    if not isinstance(series, FrameValue) or series.nrows >= 0:
        return failed(f"the target of `{name}` should be a Series (df[{target!r}]), but it is {describe(series)}")
    column = series.columns[0]
    if column["name"] != target or not same_column(column, frame.columns[target]):
        return failed(f"the target of `{name}` is not the column {target!r}")
    return passed(f"`{name}` is right")


@EXERCISE.test(points=1)
def house(house_call: CallResults) -> Check:
    """split_by_name on the book's house frame, target Price"""
    return check_split(HOUSE, "Price", house_call.outcomes[0], "house")


@EXERCISE.test(points=3, hidden=True)
def hidden(hidden_calls: CallResults) -> Check:
    """split_by_name on hidden frames, the target anywhere"""
    return fraction_passed([check_split(*args.args, outcome, f"hidden frame {i + 1}")
                            for i, (args, outcome) in enumerate(hidden_calls)], "hidden frames")
