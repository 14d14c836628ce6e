"""d2l 2.2, exercise 1: the Abalone data set, its missing values and its variable types.

The student writes ``load_abalone()`` (through ``ucimlrepo`` or ``pandas.read_csv`` of
the UCI file; both are served offline from the data store at grade time) and three
functions of any DataFrame: ``missing_fraction``, ``missing_fraction_by_column`` and
``type_fractions``. Graded on the real frame and on hidden frames the grader builds
(injected NaNs, booleans, label columns, free text, category dtype, the 20/21 distinct
values boundary), with expectations computed here from the grader's own columns.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from grader.checking.checks import (Check, all_of, as_array, check_dict_close, check_returns, check_scalar,
                      check_type, failed, fraction_passed, passed)
from grader.checking.probe import CallResults, Calls, Frame, Steps, call, ref
from grader.units.spec import Exercise
from grader.values import FrameValue

EXERCISE = Exercise(
    "abalone_missing", section="2.2", title="Abalone: missing values and variable types",
    names=("load_abalone", "missing_fraction", "missing_fraction_by_column", "type_fractions"),
    summary="load Abalone (4177 x 9); missing fractions and numerical/categorical/text shares on hidden frames",
)

COLUMNS = ("Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight",
           "Shell_weight", "Rings")
# Facts of abalone.data (UCI id 1) that a correct load reproduces.
NROWS = 4177
SEX_COUNTS = {"M": 1528, "I": 1342, "F": 1307}
RINGS_SUM = 41493
LENGTH_SUM = 2188.715
MAX_LABELS = 20  # a non-numeric column with at most this many distinct values is categorical
KINDS = ("numerical", "categorical", "text")

# -- the rules, applied to the grader's own columns ----------------------------------------


def missing_mask(values: np.ndarray | list[str | None]) -> np.ndarray:
    """Which entries of one column are missing: NaN in a float array, None in a list of strings."""
    if isinstance(values, np.ndarray):
        return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)
    return np.array([v is None for v in values], dtype=bool)


def missing_count(values: np.ndarray | list[str | None]) -> int:
    """Missing entries of one column."""
    return int(missing_mask(values).sum())


def column_kind(values: np.ndarray | list[str | None], dtype: str | None = None) -> str:
    """numerical, categorical or text, by the exercise's rules."""
    if dtype == "category":
        return "categorical"
    if isinstance(values, np.ndarray):
        return "categorical" if values.dtype.kind == "b" else "numerical"
    distinct = {v for v in values if v is not None}
    return "categorical" if len(distinct) <= MAX_LABELS else "text"


def expected_missing(frame: Frame) -> float:
    """Missing entries divided by all entries."""
    total = frame.nrows * len(frame.columns)
    return sum(missing_count(v) for v in frame.columns.values()) / total if total else 0.0


def expected_missing_by_column(frame: Frame) -> dict[str, float]:
    """Each column's share of missing entries."""
    return {name: missing_count(v) / frame.nrows for name, v in frame.columns.items()}


def expected_types(frame: Frame, kind: Callable[..., str] = column_kind) -> dict[str, float]:
    """The share of columns of each kind (numerical, categorical, text)."""
    kinds = [kind(v, frame.dtypes.get(name)) for name, v in frame.columns.items()]
    return {k: kinds.count(k) / len(kinds) for k in KINDS}


# Common misreadings of the rules, recognised to say which rule was missed.
def _bool_numerical(values: Any, dtype: str | None = None) -> str:
    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return "numerical"
    return column_kind(values, dtype)


def _category_by_count(values: Any, dtype: str | None = None) -> str:
    return column_kind(values, None)


def _strict_threshold(values: Any, dtype: str | None = None) -> str:
    if dtype != "category" and isinstance(values, list) and len({v for v in values if v is not None}) == MAX_LABELS:
        return "text"
    return column_kind(values, dtype)


MISREADINGS = (
    (_bool_numerical, "bool columns count as categorical, not numerical"),
    (_category_by_count, "a column of pandas category dtype is categorical whatever its number of values"),
    (_strict_threshold, "a column with exactly 20 distinct values is still categorical (at most 20)"),
)

# -- hidden frames ---------------------------------------------------------------------------

WORDS = ("red", "green", "blue", "amber", "violet", "grey", "black", "white", "north", "south", "east", "west",
         "low", "mid", "high", "small", "large", "alpha", "beta", "gamma", "delta", "kappa", "sigma", "omega",
         "oak", "elm", "pine", "ash", "fir", "yew")


def _labels(rng: np.random.Generator, nrows: int, distinct: int) -> list[str | None]:
    """Strings drawn from ``distinct`` labels, each label used at least once."""
    pool = [f"{WORDS[i % len(WORDS)]}{i // len(WORDS) or ''}" for i in range(distinct)]
    picks = list(pool) + [pool[int(i)] for i in rng.integers(0, distinct, size=nrows - distinct)]
    rng.shuffle(picks)
    return picks


def _with_none(rng: np.random.Generator, values: list[str | None], rate: float) -> list[str | None]:
    return [None if rng.random() < rate else v for v in values]


def _column(rng: np.random.Generator, kind: str, nrows: int, rate: float) -> tuple[Any, str | None]:
    """One column of ``kind``, with a share ``rate`` of missing entries where the kind allows gaps."""
    if kind == "float":
        values = rng.normal(10, 3, size=nrows).round(3)
        gaps = rng.random(nrows) < rate
        if rate > 0 and not gaps.any():
            gaps[rng.integers(nrows)] = True
        values[gaps] = np.nan
        return values, None
    if kind == "int":
        return rng.integers(0, 30, size=nrows), None
    if kind == "bool":
        return rng.random(nrows) < 0.5, None
    if kind == "labels":
        return _with_none(rng, _labels(rng, nrows, int(rng.integers(2, MAX_LABELS + 1))), rate), None
    if kind == "boundary20":
        return _labels(rng, nrows, MAX_LABELS), None
    if kind == "boundary21":
        return _labels(rng, nrows, MAX_LABELS + 1), None
    if kind == "text":
        words = [f"{WORDS[int(a)]} {WORDS[int(b)]} #{int(n)}" for a, b, n in
                 zip(rng.integers(0, len(WORDS), nrows), rng.integers(0, len(WORDS), nrows), rng.integers(0, 999, nrows))]
        return _with_none(rng, words, min(rate, 0.05)), None  # few gaps: it stays above 20 values
    if kind == "category":
        return _with_none(rng, _labels(rng, nrows, int(rng.integers(2, 13))), rate), "category"
    if kind == "category_many":
        return _labels(rng, nrows, int(rng.integers(MAX_LABELS + 1, 31))), "category"  # no gaps: keeps > 20 values
    raise ValueError(kind)


ALL_KINDS = ("float", "int", "bool", "labels", "text", "category", "category_many", "boundary20", "boundary21")
RATES = (0.0, 0.05, 0.2, 0.4)


def hidden_frames(rng: np.random.Generator, count: int = 6) -> list[Frame]:
    """Frames of 40-150 rows: the first holds every kind of column, the others a random mix;
    each has a float column with gaps, so that no frame is free of missing values."""
    frames = []
    for i in range(count):
        nrows = int(rng.integers(40, 151))
        kinds = list(ALL_KINDS) if i == 0 else ["float", *rng.choice(ALL_KINDS, size=int(rng.integers(2, 8)))]
        rates = [float(rng.choice(RATES[1:]))] + [float(rng.choice(RATES)) for _ in kinds[1:]]
        order = rng.permutation(len(kinds))
        columns, dtypes = {}, {}
        for j, k in enumerate(order):
            values, dtype = _column(rng, str(kinds[k]), nrows, rates[k])
            columns[f"v{j}"] = values
            if dtype:
                dtypes[f"v{j}"] = dtype
        frames.append(Frame(columns, dtypes))
    return frames


@EXERCISE.probe
def real() -> Steps:
    return Steps({"df": call("load_abalone"),
                  "missing": call("missing_fraction", ref("df")),
                  "by_column": call("missing_fraction_by_column", ref("df")),
                  "types": call("type_fractions", ref("df"))},
                 returns=("df", "missing", "by_column", "types"))


@EXERCISE.probe(hidden=True)
def hidden_missing(rng: np.random.Generator) -> Calls:
    return Calls("missing_fraction", [(f,) for f in hidden_frames(rng)])


@EXERCISE.probe(hidden=True)
def hidden_by_column(rng: np.random.Generator) -> Calls:
    return Calls("missing_fraction_by_column", [(f,) for f in hidden_frames(rng)])


@EXERCISE.probe(hidden=True)
def hidden_types(rng: np.random.Generator) -> Calls:
    return Calls("type_fractions", [(f,) for f in hidden_frames(rng)])


# -- checks ------------------------------------------------------------------------------------


def _where(index: int, frame: Frame) -> str:
    return f"hidden frame {index + 1} ({frame.nrows} rows x {len(frame.columns)} columns)"


def check_missing(where: str, frame: Frame, outcome: object) -> Check:
    """missing_fraction on one frame, naming the usual confusions."""
    name = f"missing_fraction({where})"
    returned = check_returns(name, outcome)
    if not returned.passed:
        return returned
    want = expected_missing(frame)
    check = check_scalar(name, want, outcome, rtol=1e-9, atol=1e-12)
    got_array = as_array(outcome)
    if check.passed or got_array is None or got_array.size != 1:
        return check
    got = float(got_array.reshape(-1)[0])
    rows = np.any([missing_mask(v) for v in frame.columns.values()], axis=0)
    total = frame.nrows * len(frame.columns)
    if abs(got - rows.mean()) < 1e-9 and abs(rows.mean() - want) > 1e-9:
        return failed(f"`{name}` returned the share of rows with a missing value; the exercise asks for "
                      "missing entries divided by all entries (rows x columns)", check.detail)
    if abs(got - want * total) < 1e-6 and total > 1:
        return failed(f"`{name}` returned a count ({got:g}), not a fraction: divide by the number of entries",
                      check.detail)
    return check


def check_by_column(where: str, frame: Frame, outcome: object) -> Check:
    """missing_fraction_by_column on one frame: a dict with one share per column."""
    name = f"missing_fraction_by_column({where})"
    returned = check_returns(name, outcome)
    if not returned.passed:
        return returned
    if isinstance(outcome, FrameValue):
        return failed(f"`{name}` returned a pandas Series; convert it with .to_dict()")
    return check_dict_close(name, expected_missing_by_column(frame), outcome, rtol=1e-9, atol=1e-12)


def check_types(where: str, frame: Frame, outcome: object) -> Check:
    """type_fractions on one frame; a wrong answer that matches a known misreading says which."""
    name = f"type_fractions({where})"
    returned = check_returns(name, outcome)
    if not returned.passed:
        return returned
    check = check_dict_close(name, expected_types(frame), outcome, rtol=1e-9, atol=1e-9)
    if check.passed or not isinstance(outcome, dict) or set(outcome) != set(KINDS):
        return check
    for rule, hint in MISREADINGS:
        alt = expected_types(frame, rule)
        if alt != expected_types(frame) and check_dict_close(name, alt, outcome, rtol=1e-9, atol=1e-9).passed:
            return failed(f"`{name}` is off: {hint}", check.detail)
    return check


def _per_frame(results: CallResults, checker: Callable[[str, Frame, object], Check]) -> list[Check]:
    return [checker(_where(i, args.args[0]), args.args[0], outcome) for i, (args, outcome) in enumerate(results)]


# -- tests -------------------------------------------------------------------------------------


def check_abalone(df: object) -> Check:
    """The frame load_abalone returned is the whole Abalone data set, named columns first."""
    if isinstance(df, FrameValue) and df.nrows < 0:
        return failed("`load_abalone()` returned a Series; return the whole DataFrame")
    kind = check_type("load_abalone()", "frame", df)
    if not kind.passed:
        if "FileNotFoundError" in kind.message or "data store" in kind.message:
            return failed(f"`load_abalone()` could not read the data: {kind.message}")
        return kind
    frame: FrameValue = df  # type: ignore[assignment]
    if frame.names != list(COLUMNS):
        return failed(f"`load_abalone()` has columns {frame.names}", f"expected, in order: {list(COLUMNS)}")
    if frame.nrows != NROWS:
        hint = " (was the first row read as a header? the file has none)" if frame.nrows == NROWS - 1 else ""
        return failed(f"`load_abalone()` has {frame.nrows} rows, expected {NROWS}{hint}")
    pdf = frame.to_pandas()
    numeric = [c for c in COLUMNS[1:] if pdf[c].dtype.kind not in "iuf"]
    if numeric:
        return failed(f"`load_abalone()`: columns {numeric} should be numeric")
    counts = {str(k): int(v) for k, v in pdf["Sex"].value_counts().items()}
    if counts != SEX_COUNTS:
        return failed(f"`load_abalone()`: Sex has counts {counts}", f"expected {SEX_COUNTS}")
    if int(pdf["Rings"].sum()) != RINGS_SUM or abs(float(pdf["Length"].sum()) - LENGTH_SUM) > 1e-6:
        return failed("`load_abalone()`: the values of Rings or Length differ from the UCI file",
                      f"expected sums {RINGS_SUM} and {LENGTH_SUM}")
    return passed(f"`load_abalone()` is the Abalone data: {NROWS} rows, columns {list(COLUMNS)}")


@EXERCISE.test(points=2)
def loads_abalone(real: dict[str, Any]) -> Check:
    """load_abalone returns the 4177 x 9 Abalone frame with named columns"""
    return check_abalone(real["df"])


@EXERCISE.test(points=2)
def real_frame(real: dict[str, Any]) -> Check:
    """on the Abalone frame: no missing values; 8/9 numerical, 1/9 categorical, 0 text"""
    if not check_abalone(real["df"]).passed:
        return failed("the Abalone checks need a correct `load_abalone()` first")
    checks = [
        all_of(check_returns("missing_fraction(abalone)", real["missing"]),
               check_scalar("missing_fraction(abalone)", 0.0, real["missing"], rtol=0, atol=1e-12)),
        all_of(check_returns("missing_fraction_by_column(abalone)", real["by_column"]),
               check_dict_close("missing_fraction_by_column(abalone)", dict.fromkeys(COLUMNS, 0.0),
                                real["by_column"], rtol=0, atol=1e-12)),
        all_of(check_returns("type_fractions(abalone)", real["types"]),
               check_dict_close("type_fractions(abalone)", {"numerical": 8 / 9, "categorical": 1 / 9, "text": 0.0},
                                real["types"], rtol=1e-6, atol=1e-9)),
    ]
    return fraction_passed(checks, "results on the Abalone frame")


@EXERCISE.test(points=2, hidden=True)
def hidden_missing_fraction(hidden_missing: CallResults) -> Check:
    """missing_fraction on hidden frames with injected NaNs and None"""
    return fraction_passed(_per_frame(hidden_missing, check_missing), "hidden frames")


@EXERCISE.test(points=2, hidden=True)
def hidden_missing_by_column(hidden_by_column: CallResults) -> Check:
    """missing_fraction_by_column on hidden frames"""
    return fraction_passed(_per_frame(hidden_by_column, check_by_column),
                           "hidden frames")


@EXERCISE.test(points=3, hidden=True)
def hidden_type_fractions(hidden_types: CallResults) -> Check:
    """type_fractions on hidden frames (bool, labels, free text, category dtype, 20/21 values)"""
    return fraction_passed(_per_frame(hidden_types, check_types), "hidden frames")
