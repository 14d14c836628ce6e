"""The fixture guard (grader/units/fixtures.py): a test whose probe has no value is not called."""

from __future__ import annotations

from grader.checking.probe import Args, CallResults
from grader.registry import get_exercise
from grader.units.fixtures import probe_failure
from grader.values import Missing, Raised

OHM = get_exercise("ohm_fit")


def test_a_missing_or_raising_probe_fails_the_test_with_one_message() -> None:
    gone = Missing("`fit_resistance` is not defined: the notebook must define it at the top level")
    check = probe_failure(OHM, ("example_fit",), {"example_fit": gone})
    assert (check.passed, check.message) == (False, gone.reason)
    raised = probe_failure(OHM, ("example_fit",), {"example_fit": Raised("TypeError", "'int' object is not callable")})
    assert (raised.passed, raised.message, raised.detail) == (
        False, "`fit_resistance` raised TypeError", "TypeError: 'int' object is not callable")
    stub = probe_failure(OHM, ("hidden_fits",), {"hidden_fits": Raised("NotImplementedError", "")})
    assert stub.message == "`fit_resistance` raised NotImplementedError (the exercise is not done yet)"


def test_answers_and_built_in_fixtures_pass_through() -> None:
    answered = CallResults("fit_resistance", [Args((1,))], [Raised("ValueError", "bad")])  # one call raised: the test says
    assert probe_failure(OHM, ("example_fit", "context"), {"example_fit": answered, "context": Missing("x")}) is None
