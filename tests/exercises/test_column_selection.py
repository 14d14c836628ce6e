"""column_selection: names not positions; drop works; iloc forbidden; a frame where a Series is due."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.column_selection import hidden_frames

SOLUTION = SOLUTIONS / "column_selection.ipynb"
BODY = "    inputs = df[[name for name in df.columns if name != target]]\n    return inputs, df[target]"
Grade = Callable[..., object]


def test_hidden_targets_move_around() -> None:
    positions = {list(frame.columns).index(target) for seed in range(10)
                 for frame, target in hidden_frames(np.random.default_rng(seed))}
    assert len(positions) >= 3


@pytest.mark.kernel
def test_drop_instead_of_a_selection_full_marks(grade_file: Grade, tmp_path: Path) -> None:
    drop = from_solution(SOLUTION, {BODY: "    return df.drop(columns=target), df[target]"}, tmp_path / "drop.ipynb")
    assert grade_file(drop).score == 4


@pytest.mark.kernel
def test_positions_forbidden_and_frame_for_series(grade_file: Grade, tmp_path: Path) -> None:
    positional = from_solution(SOLUTION, {BODY: "    return df.iloc[:, :-1], df.iloc[:, -1]"}, tmp_path / "iloc.ipynb")
    result = grade_file(positional)
    assert result.score == 0
    assert find_test(result, "house frame").message == \
        "0 points: uses .iloc (code cell 1, line 7), which this exercise does not allow"
    frame = from_solution(SOLUTION, {"return inputs, df[target]": "return inputs, df[[target]]"}, tmp_path / "frame.ipynb")
    result = grade_file(frame)
    assert result.score == 0
    assert find_test(result, "house frame").message.startswith(
        "the target of `split_by_name(house, 'Price')` should be a Series (df['Price']), but it is a DataFrame")
