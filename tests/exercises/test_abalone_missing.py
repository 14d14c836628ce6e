"""abalone_missing: the solution, the stub, wrong and hard-coded answers, the offline data paths."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import SOLUTIONS, find_test
from nbfactory import from_solution

from grader.exercises.abalone_missing import (MISREADINGS, column_kind, expected_missing, expected_missing_by_column,
                                              expected_types, hidden_frames)
from grader.checking.probe import Frame

SOLUTION = SOLUTIONS / "abalone_missing.ipynb"
LOAD = "return pd.read_csv(ABALONE_URL, header=None, names=COLUMNS)"
MISSING = "return float(df.isna().to_numpy().mean()) if df.size else 0.0"
BOOL_RULE = "if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series.dtype):"

# -- the rules, without a kernel -------------------------------------------------------------


def test_expected_values_of_a_small_frame() -> None:
    frame = Frame({"x": np.array([1.0, np.nan, 2.0, np.nan]), "ok": np.array([True, False, True, True]),
                   "s": ["a", None, "b", "a"], "c": ["p", "q", "r", None]}, dtypes={"c": "category"})
    assert expected_missing(frame) == 4 / 16
    assert expected_missing_by_column(frame) == {"x": 0.5, "ok": 0.0, "s": 0.25, "c": 0.25}
    assert expected_types(frame) == {"numerical": 0.25, "categorical": 0.75, "text": 0.0}


def test_column_kinds_at_the_boundary() -> None:
    twenty = [f"w{i}" for i in range(20)]
    assert column_kind(twenty) == "categorical"
    assert column_kind(twenty + ["w20"]) == "text"
    assert column_kind(twenty + ["w20"], "category") == "categorical"
    assert column_kind(np.array([1, 2])) == "numerical"
    assert column_kind(np.array([True])) == "categorical"


def test_hidden_frames_cover_every_kind_and_differ_by_seed() -> None:
    frames = hidden_frames(np.random.default_rng(0))
    first = frames[0]
    kinds = [column_kind(v, first.dtypes.get(n)) for n, v in first.columns.items()]
    assert {"numerical", "categorical", "text"} <= set(kinds)
    assert "category" in first.dtypes.values()
    assert expected_missing(first) > 0
    distinct = sorted(len({v for v in values if v is not None}) for values in first.columns.values()
                      if isinstance(values, list))
    assert 20 in distinct and 21 in distinct
    other = hidden_frames(np.random.default_rng(1))
    assert [f.nrows for f in other] != [f.nrows for f in frames]


def test_each_misreading_changes_the_first_hidden_frame() -> None:
    frame = hidden_frames(np.random.default_rng(0))[0]
    for rule, _ in MISREADINGS:
        assert expected_types(frame, rule) != expected_types(frame)


# -- graded notebooks (real kernels) ----------------------------------------------------------

Grade = Callable[..., object]


@pytest.mark.kernel
def test_hard_coded_answers_pass_only_the_abalone_frame(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {
        MISSING: "return 0.0",
        'return {str(name): float(df[name].isna().mean()) for name in df.columns}':
            "return dict.fromkeys(COLUMNS, 0.0)",
        'kinds = [kind(df[name]) for name in df.columns]': "kinds = ['numerical'] * 8 + ['categorical']",
    }, tmp_path / "hard_coded.ipynb")
    result = grade_file(nb)
    assert find_test(result, "4177 x 9").score == 2
    assert find_test(result, "on the Abalone frame").score == 2
    assert find_test(result, "missing_fraction on hidden").score == 0
    assert find_test(result, "missing_fraction_by_column on hidden").score == 0
    assert find_test(result, "type_fractions on hidden").score == 0
    assert result.score == 4
    message = find_test(result, "type_fractions on hidden").message
    assert message.startswith("0 of 6 hidden frames correct; first problem: `type_fractions(hidden frame 1 (")
    assert "lacks the keys" in find_test(result, "missing_fraction_by_column on hidden").message


@pytest.mark.kernel
def test_wrong_answers_say_which_rule(grade_file: Grade, tmp_path: Path) -> None:
    nb = from_solution(SOLUTION, {
        MISSING: "return float(df.isna().any(axis=1).mean())",
        BOOL_RULE: "if isinstance(series.dtype, pd.CategoricalDtype):",
    }, tmp_path / "wrong.ipynb")
    result = grade_file(nb)
    missing = find_test(result, "missing_fraction on hidden")
    assert missing.score == 0
    assert "share of rows with a missing value" in missing.message
    types = find_test(result, "type_fractions on hidden")
    assert types.score == 1     # 2 of the 6 public-seed frames have no bool column
    assert "is off: bool columns count as categorical, not numerical" in types.message
    assert result.score == 7
    assert find_test(result, "on the Abalone frame").score == 2   # Abalone has no gaps and no bool
    assert find_test(result, "missing_fraction_by_column on hidden").score == 2


@pytest.mark.kernel
def test_ucimlrepo_path_and_header_mistake(grade_file: Grade, tmp_path: Path) -> None:
    uci = from_solution(SOLUTION, {LOAD: "from ucimlrepo import fetch_ucirepo\n"
                                         "    return fetch_ucirepo(id=1).data.original"}, tmp_path / "uci.ipynb")
    assert grade_file(uci).score == 11
    header = from_solution(SOLUTION, {LOAD: "return pd.read_csv(ABALONE_URL, names=COLUMNS, header=0)"},
                           tmp_path / "header.ipynb")
    test = find_test(grade_file(header), "4177 x 9")
    assert test.score == 0
    assert "4176 rows, expected 4177 (was the first row read as a header? the file has none)" in test.message


@pytest.mark.kernel
def test_missing_data_store_names_the_file_and_the_fix(grade_file: Grade, tmp_path: Path) -> None:
    empty = tmp_path / "empty-store"
    empty.mkdir()
    result = grade_file(SOLUTION, data_dir=str(empty))
    test = find_test(result, "4177 x 9")
    assert test.score == 0
    assert "could not read the data" in test.message
    assert "has no abalone/abalone.data" in test.message and "grade data import" in test.message
    assert find_test(result, "on the Abalone frame").score == 0
    assert find_test(result, "type_fractions on hidden").score == 3   # the frame functions still count
