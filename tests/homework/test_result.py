"""The typed homework result: plain-dict round trips, older rows, the documented JSON contract."""

from __future__ import annotations

from grader.homework.result import ExerciseResult, HomeworkResult, ModelResult, Ran, SectionResult


def test_round_trip_and_contract() -> None:
    result = HomeworkResult(
        "d2l-ch2-5", "2-5", ["ch2.ipynb", "ch5.ipynb"],
        sections=[SectionResult("2.1", "Data Manipulation", True, "heading and code",
                                ran=Ran(3, 2, expected_errors=["ch2.ipynb cell 9 RuntimeError (2.1-2)"]))],
        exercises=[ExerciseResult("2.1-2", "2.1", "broadcasting with 3-D tensors", "correct", "(2, 3, 1) ...")],
        models=[ModelResult(1, 4, "MLP", 17, "ch5.ipynb cell 18", trained=True, fmnist=True, accuracy=0.81,
                            evidence="rebuilt")])
    data = result.to_dict()
    assert HomeworkResult.from_dict(data) == result
    assert (data["sections"][0]["id"], data["sections"][0]["present"], data["sections"][0]["ran"]["failed"],
            data["sections"][0]["ran"]["expected_errors"]) == ("2.1", True, [], ["ch2.ipynb cell 9 RuntimeError (2.1-2)"])
    assert (data["exercises"][0]["id"], data["exercises"][0]["title"], data["exercises"][0]["status"]) == (
        "2.1-2", "broadcasting with 3-D tensors", "correct")
    model = data["models"][0]
    assert (model["cls"], model["fmnist"], model["evidence"], model["accuracy"]) == ("MLP", True, "rebuilt", 0.81)
    assert result.models[0].rebuilt


def test_older_rows_and_unknown_fields() -> None:
    old = {"homework": "d2l-ch2-5", "sections": [{"id": "2.2", "present": False, "ran": {"code_cells": 0},
                                                  "retired_field": 1}],
           "models": [{"cls": "MLP", "evidence": "kernel predictions"}], "exercises": "not a list"}
    typed = HomeworkResult.from_dict(old)
    assert typed.sections == [SectionResult("2.2", present=False)]
    assert typed.models == [ModelResult(cls="MLP", evidence="kernel predictions")] and not typed.models[0].rebuilt
    assert typed.exercises == []
