"""Plain data a gradebook row can always hold, whatever a result carries.

A result may hold what JSON cannot (an array in a homework's ``extra``, an object left
by a bug), text SQLite cannot store (lone surrogates from a forged kernel message), or
be too big for one row. These helpers turn each into something storable and say what
was changed, so that ``Gradebook.record`` never fails for what a result holds.
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import SubmissionResult, to_dict

__all__ = ["canonical", "safe_canonical", "storable", "sqlite_text", "result_json", "MAX_RESULT_JSON"]

MAX_RESULT_JSON = 16 * 1024 * 1024  # characters of one result's JSON; bigger loses details and extra
MAX_STORABLE_DEPTH = 60


def sqlite_text(value: str) -> str:
    """Text SQLite can store: lone surrogates (from a forged kernel message) replaced."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def safe_canonical(value: Any) -> str:
    """:func:`canonical`, with what JSON cannot hold replaced by markers (see :func:`storable`)."""
    try:
        return sqlite_text(canonical(value))
    except (TypeError, ValueError, RecursionError):
        return sqlite_text(canonical(storable(value, [])))


def storable(value: Any, dropped: list[str], where: str = "result", depth: int = 0) -> Any:
    """``value`` as plain JSON data; what JSON cannot hold becomes ``{"__unencodable__": type}``
    and its place is appended to ``dropped``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value if type(value) in (bool, int, float, type(None)) else _plain_number(value)
    if isinstance(value, str):
        return sqlite_text(value)
    if depth > MAX_STORABLE_DEPTH:
        dropped.append(f"{where} (nested too deep)")
        return {"__unencodable__": "nested too deep"}
    if isinstance(value, dict):
        return {sqlite_text(str(k)): storable(v, dropped, f"{where}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v, dropped, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    dropped.append(f"{where} ({type(value).__name__})")
    return {"__unencodable__": type(value).__name__}


def _plain_number(value: Any) -> Any:
    return bool(value) if isinstance(value, bool) else int(value) if isinstance(value, int) else float(value)


def result_json(result: SubmissionResult) -> tuple[str, list[str]]:
    """The result's JSON and notes on what had to be changed to store it."""
    data = to_dict(result)
    notes: list[str] = []
    try:
        encoded = json.dumps(data, ensure_ascii=False)
        encoded.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError, OverflowError):
        dropped: list[str] = []
        encoded = json.dumps(storable(data, dropped), ensure_ascii=False)
        if dropped:
            notes.append(f"{len(dropped)} values could not be stored as JSON: {', '.join(dropped[:5])}"
                         + (" ..." if len(dropped) > 5 else ""))
    if len(encoded) > MAX_RESULT_JSON:
        size = len(encoded)
        data = json.loads(encoded)
        for unit in data.get("units", []):
            unit["extra"] = {"dropped": "too large to store"}
            for test in unit.get("tests", []):
                test["details"] = {}
                test["message"] = test["message"][:2000]
        data["executions"] = [dict(e, cells=e["cells"][:500], malformed=e.get("malformed", [])[:5])
                              for e in data.get("executions", [])]
        encoded = json.dumps(data, ensure_ascii=False)
        notes.append(f"the result's {size:,} characters were over the cap of {MAX_RESULT_JSON:,}: "
                     "test details and extra were dropped")
    return encoded, notes


def canonical(value: Any) -> str:
    """JSON with sorted keys: equal data gives equal text, so it can be compared in SQL."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
