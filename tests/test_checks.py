"""Check messages are part of the product: tested verbatim."""

import numpy as np

from grader.checking.checks import (Check, all_of, check_array_close, check_array_equal, check_decreasing,
                                    check_defined, check_dict_close, check_dtype, check_raises, check_returns,
                                    check_scalar, check_shape, check_type, describe, failed, fraction_passed, passed)
from grader.checking.code import not_allowed
from grader.checking.figures import check_line_matches
from grader.notebook.static import Use
from grader.values import ArrayValue, Missing, Raised


def tensor(values: object, dtype: str = "torch.float32") -> ArrayValue:
    return ArrayValue(np.asarray(values), framework="torch", dtype=dtype)


def test_defined_and_type() -> None:
    assert check_defined("x3", Missing("`x3` is not defined")).message == "`x3` is not defined"
    assert check_defined("f", Raised("ValueError", "bad")).message == "`f` raised ValueError: bad"
    assert check_type("x3", "tensor", 3).message == "`x3` should be a tensor, but it is 3"
    assert check_type("x3", ["tensor", "array"], tensor([1])).passed


def test_shape_dtype_scalar() -> None:
    assert check_shape("z", (2, 3), tensor(np.zeros((3, 2)))).message == "`z` has shape (3, 2), expected (2, 3)"
    assert check_dtype("m", "torch.bool", tensor([1], "torch.int64")).message == "`m` has dtype torch.int64, expected torch.bool"
    off = check_scalar("R", 5.0, 5.2, rtol=0.01)
    assert not off.passed and off.message == "`R` is off: got 5.2"
    assert off.detail == ("expected 5, got 5.2 (absolute difference 0.2, relative 0.04; allowed rtol=0.01, atol=0)")
    assert check_scalar("R", 5.0, tensor(5.04), rtol=0.01).passed
    assert check_scalar("R", 5.0, "five").message == "`R` should be a number, but it is 'five'"


def test_array_close_reports_like_approx() -> None:
    got = tensor([[1.0, 2.0], [3.0, 9.0]])
    check = check_array_close("y", [[1.0, 2.0], [3.0, 4.0]], got)
    assert check.message == "`y` has wrong values: 1 of 4 elements differ"
    assert check.detail.splitlines() == [
        "1 of 4 elements differ", "largest absolute difference 5, largest relative 1.25",
        "index: got vs expected", "  (1, 1): 9.0 vs 4.0"]
    assert check_array_close("y", [1.0, 2.0], tensor([1.0, 2.0 + 1e-9])).passed
    assert check_array_equal("b", [True, False], tensor([True, True], "torch.bool")).message == (
        "`b` has wrong values: 1 of 2 elements differ")


def test_calls_and_exceptions() -> None:
    assert check_returns("f", Raised("NotImplementedError", "")).message == (
        "`f` raised NotImplementedError (the exercise is not done yet)")
    assert check_raises("f", "ValueError", (1, 2)).message == "`f` should raise ValueError, but it returned (1, 2)"
    assert check_raises("f", "ValueError", Raised("TypeError", "x")).message == "`f` raised TypeError, expected ValueError"
    assert check_raises("f", "ValueError", Raised("ValueError", "shapes"), match="shape").passed


def test_dict_and_decreasing() -> None:
    assert check_dict_close("t", {"a": 0.5}, {"b": 1}).message == "`t` lacks the keys ['a']"
    assert check_dict_close("t", {"a": 0.5}, {"a": 0.6}).message == "`t['a']` is off: got 0.6"
    assert check_decreasing("losses", [3.0, 2.0, 1.0]).message == "`losses` decreases from 3 to 1"
    assert check_decreasing("losses", [1.0, float("nan")]).message == "`losses` contains nan or inf: the training diverged"


def test_not_allowed_names_place_and_counts() -> None:
    uses = [Use("torch.cos", 3, 2), Use(".cos", 4, 1), Use("torch.sin", 3, 1)]
    check = not_allowed(uses, ["torch.cos", ".cos"])
    assert check.message == "uses torch.cos (cell 4, line 2), which this exercise does not allow (and 1 more)"
    assert not_allowed([Use("builtins.getattr*", 0, 5)], ["x"]).message == (
        "uses getattr with a computed name (cell 1, line 5), which this exercise does not allow")
    assert not_allowed(uses, ["numpy"]).passed


def test_partial_credit_and_all_of() -> None:
    checks = [passed("a"), check_scalar("b", 1, 2), passed("c"), passed("d")]
    combined = fraction_passed(checks, "hidden inputs")
    assert combined.credit == 0.75 and combined.message == "3 of 4 hidden inputs correct; first problem: `b` is off: got 2"
    assert all_of(*checks).message == "`b` is off: got 2" and all_of(*checks).credit == 0.0


def test_figure_lines() -> None:
    x = np.linspace(0, 6, 50)
    fig = {"axes": [{"lines": [{"label": "s", "x": x.tolist(), "y": np.sin(x).tolist()}]}]}
    assert check_line_matches("sin", [fig], np.sin).passed
    miss = check_line_matches("cos", [fig], np.cos)
    assert miss.message == "none of the 1 plotted lines shows cos"
    assert check_line_matches("cos", [], np.cos).message.startswith("no line plot found for cos")


def test_numbers_in_messages_are_plain_numbers() -> None:
    import numpy as np

    assert describe(np.float64(9.0)) == "9.0" and describe((np.int64(2), np.float32(0.5))) == "(2, 0.5)"
    assert check_scalar("R", 5.0, "five").message == "`R` should be a number, but it is 'five'"


def test_pairs_calls_and_autograd_have_one_wording() -> None:
    from grader.checking.checks import check_example_calls, check_hidden_calls, check_pair
    from grader.checking.code import check_uses_autograd
    from grader.checking.probe import Args, CallResults
    from grader.notebook.load import Cell
    from grader.notebook.static import analyse

    assert check_pair("split", (1, 2), "(inputs, target)").passed
    assert check_pair("split", 3, "(inputs, target)", call="split(df, 'y')").message == (
        "`split(df, 'y')` should return a pair (inputs, target), but it returned 3")
    assert check_pair("split", Raised("KeyError", "'y'"), "(a, b)").message == "`split` raised KeyError"
    results = CallResults("sq", [Args((1,)), Args((2,)), Args((3,))], [1, 4, 10])

    def square(x: int, got: int) -> Check:
        return passed(f"sq({x})") if got == x * x else failed(f"`sq({x})` returned {got}")
    assert (check_example_calls(results, square).passed, check_example_calls(results, square).message) == (
        False, "`sq(3)` returned 10")
    hidden = check_hidden_calls(results, square, "hidden inputs")
    assert (hidden.credit, hidden.message) == (2 / 3, "2 of 3 hidden inputs correct; first problem: `sq(3)` returned 10")
    codes = analyse([Cell(0, "code", "import torch\ndef helper(x):\n    x.sum().backward()\n"
                                     "def grad_f(a):\n    helper(a)\n    return a.grad\ndef by_hand(a):\n    return 2 * a")])
    assert check_uses_autograd("grad_f", codes).message == "grad_f uses autograd"
    assert check_uses_autograd("by_hand", codes).message == (
        "by_hand does not call .backward() or torch.autograd.grad: the gradient must come from automatic "
        "differentiation")
    assert check_uses_autograd("missing", codes).message == "`missing` is not defined"
