"""The `grade` command: exit codes, the report forms and one-line errors for bad input."""

from __future__ import annotations

import importlib.metadata
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers import SOLUTIONS, STUBS

from grader.cli import main
from grader.registry import exercises

FAST = ["--cell-timeout", "60", "--threads", "1"]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "is not valid JSON"),
    ('{"cells": []}', "has no 'nbformat' version"),
    ('{"nbformat": 3, "worksheets": []}', "only nbformat 4 is supported"),
    ('[1, 2]', "is JSON but not a Jupyter notebook"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         content: str | None, message: str) -> None:
    path = tmp_path / "hw.ipynb"
    if content is not None:
        path.write_text(content)
    assert main([str(path)]) == 2
    line = _error_line(capsys)
    assert line.startswith("grade: error: ") and message in line and "\n" not in line


def test_unknown_exercise_lists_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SOLUTIONS / "broadcasting.ipynb"), "--exercise", "broadcastin"]) == 2
    line = _error_line(capsys)
    assert "broadcastin" in line and "broadcasting" in line


def test_list_json_has_every_exercise(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    listed = {r["id"]: r for r in rows if r["kind"] == "exercise"}
    assert set(listed) == set(exercises())
    assert listed["broadcasting"]["points"] == 9 and listed["sin_derivative"]["chapter"] == "2.5"


@pytest.mark.kernel
def test_json_junit_and_fail_under(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "ci.xml"
    code = main([str(SOLUTIONS / "broadcasting.ipynb"), str(STUBS / "broadcasting.ipynb"), "--json",
                 "--junit", str(junit), "--fail-under", "50", *FAST])
    assert code == 1   # the stub is under 50 %
    solution, stub = json.loads(capsys.readouterr().out)
    assert (solution["score"], solution["max_score"], stub["score"]) == (9, 9, 0)
    test: dict[str, Any] = solution["tests"][0]
    assert set(test) >= {"name", "score", "max_score", "status", "output"} and test["status"] == "passed"
    assert isinstance(solution["execution_time"], float)
    execution = solution["d2l_grade"]["executions"][0]   # the extra key: environment, neutralised lines
    installed = importlib.metadata.version("torch").split("+")[0]   # the kernel's torch.__version__ adds +cpu/+cuXXX
    assert execution["environment"]["torch"].split("+")[0] == installed and execution["not_run"] == []
    suites = ET.parse(junit).getroot()
    failures = sum(int(s.get("failures", 0)) for s in suites.iter("testsuite"))
    assert failures >= 4   # the stub's four scored tests


@pytest.mark.kernel
def test_one_bad_file_among_many_keeps_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    code = main([str(broken), str(SOLUTIONS / "broadcasting.ipynb"), "--json", *FAST])
    assert code == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["score"] == 9
    assert "broken.ipynb" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["review", "--db", "missing.sqlite"], "missing.sqlite: no such gradebook"),
    (["gradescope", "build", "-o", "a.zip"], "give --exercise ID (repeatable) or --homework ID"),
    (["gradescope", "run", "--root", "nowhere"], "nowhere/source/gradescope.json: not a d2l-grade autograder bundle"),
])
def test_staff_commands_refuse_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                     message: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = _error_line(capsys)
    assert line.startswith("grade: error: ") and message in line and "\n" not in line


def test_review_serves_on_localhost_behind_its_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import threading
    import urllib.error
    import urllib.request

    import grader.classroom.review as review

    sys.path.insert(0, str(Path(__file__).parent / "staff"))
    from staffbook import make_gradebook

    db = make_gradebook(tmp_path / "class.sqlite")
    seen: dict[str, Any] = {}
    wrong = lambda token: token[:-1] + ("y" if token.endswith("x") else "x")  # noqa: E731

    def serve_once(app: Any, token: str, *, port: int, ready: Any) -> None:
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", port, app)
        ready(f"http://127.0.0.1:{server.server_port}/{token}/")
        url = f"http://127.0.0.1:{server.server_port}"
        for path in (f"/{token}/s/alice", "/s/alice", f"/{wrong(token)}/s/alice"):
            request = urllib.request.Request(url + path)
            thread = threading.Thread(target=server.handle_request)
            thread.start()
            try:
                seen[path] = urllib.request.urlopen(request, timeout=10).status
            except urllib.error.HTTPError as exc:
                seen[path] = exc.code
            thread.join()
        server.server_close()
        raise KeyboardInterrupt

    monkeypatch.setattr(review, "serve", serve_once)
    assert main(["review", "--db", str(db), "--grader", "tess"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"reviewing {db} at http://127.0.0.1:") and "review stopped" in out
    token = out.split("http://127.0.0.1:")[1].split("/")[1]
    assert len(token) >= 24
    assert seen == {f"/{token}/s/alice": 200, "/s/alice": 404, f"/{wrong(token)}/s/alice": 404}
