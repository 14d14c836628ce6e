"""What measuring a homework's models imports in the grader is imported while the
kernel runs the notebook (homework/trained.py ``warm_imports``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grader.homework.trained import warm_imports


def test_nothing_to_do_when_everything_is_imported() -> None:
    assert warm_imports(["json", "sys"]) is None


def test_missing_modules_are_imported_in_a_thread_and_failures_stay_quiet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "warm_me_d2lgrade.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "warm_me_d2lgrade", raising=False)
    thread = warm_imports(["no_such_module_d2lgrade", "warm_me_d2lgrade"])
    assert thread is not None and not thread.daemon   # exit waits for an import rather than cutting it
    thread.join(30)
    assert sys.modules["warm_me_d2lgrade"].VALUE == 42
    assert "no_such_module_d2lgrade" not in sys.modules
    sys.modules.pop("warm_me_d2lgrade")
