"""Hand marks and score overrides, kept in the gradebook file beside the automatic results.

The tables (created here, in the gradebook's SQLite file, next to the tables the
gradebook owns; see docs/GRADEBOOK.md):

* ``review_marks``: one row per (student, unit, item) a TA marked by hand: points, out
  of how many, comment, who and when;
* ``review_overrides``: one row per (student, unit, test) whose automatic score a TA
  replaced: the new score, the required reason, the automatic score it replaced, who and
  when;
* ``review_log``: every change, appended, never rewritten (the audit trail);
* ``review_settings``: what a hand-marked item is worth (``hand_points``).

Rows are keyed by student, not by submission, so they survive a regrade (a new attempt);
an override remembers the automatic score it replaced, so a changed automatic score after
a regrade is visible. Reading works on any connection, even read-only ones opened before
the tables existed (no rows then).

Items that ask for hand-marking: an exercise's written answers (cells tagged
``answer:<id>``) and each section's discussion of a free-form homework. An item is
expected of every student who submitted its unit once any student has it, so a student
who wrote no answer gets the item too (to be marked 0) and percentages compare.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from grader.classroom.gradebook import now_iso, open_gradebook
from grader.errors import InputError
from grader.results import SubmissionResult, TestResult
from grader.rounding import round_points

__all__ = ["HandItem", "HandMark", "Override", "Reviews", "ReviewStore", "hand_items", "load_reviews",
           "final_scores", "apply_reviews", "class_items", "items_for", "UnitFinal", "DEFAULT_HAND_POINTS"]

DEFAULT_HAND_POINTS = 1.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS review_marks (
    student_id TEXT NOT NULL, unit_id TEXT NOT NULL, item TEXT NOT NULL,
    points REAL NOT NULL, max_points REAL NOT NULL, comment TEXT NOT NULL DEFAULT '',
    grader TEXT NOT NULL, marked_at TEXT NOT NULL,
    PRIMARY KEY (student_id, unit_id, item));
CREATE TABLE IF NOT EXISTS review_overrides (
    student_id TEXT NOT NULL, unit_id TEXT NOT NULL, test TEXT NOT NULL,
    score REAL NOT NULL, reason TEXT NOT NULL CHECK (length(trim(reason)) > 0), auto_score REAL NOT NULL,
    grader TEXT NOT NULL, marked_at TEXT NOT NULL,
    PRIMARY KEY (student_id, unit_id, test));
CREATE TABLE IF NOT EXISTS review_log (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, grader TEXT NOT NULL, action TEXT NOT NULL,
    student_id TEXT NOT NULL, unit_id TEXT NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class HandItem:
    """Something a TA marks by hand: ``item`` is ``answer`` or ``discussion:<section>``."""

    unit_id: str
    item: str
    label: str
    texts: tuple[str, ...] = ()


@dataclass
class HandMark:
    """Points a TA gave one item."""

    student: str
    unit_id: str
    item: str
    points: float
    max_points: float
    comment: str
    grader: str
    at: str


@dataclass
class Override:
    """An automatic test score replaced by a TA, with the reason."""

    student: str
    unit_id: str
    test: str
    score: float
    reason: str
    auto_score: float
    grader: str
    at: str


@dataclass
class Reviews:
    """Every hand mark and override of a gradebook, by student."""

    marks: dict[str, list[HandMark]] = field(default_factory=dict)
    overrides: dict[str, list[Override]] = field(default_factory=dict)
    hand_points: float = DEFAULT_HAND_POINTS

    def mark(self, student: str, unit_id: str, item: str) -> HandMark | None:
        """The mark of one item, if any."""
        return next((m for m in self.marks.get(student, []) if (m.unit_id, m.item) == (unit_id, item)), None)

    def override(self, student: str, unit_id: str, test: str) -> Override | None:
        """The override of one test, if any."""
        return next((o for o in self.overrides.get(student, []) if (o.unit_id, o.test) == (unit_id, test)), None)


def hand_items(result: SubmissionResult | None) -> list[HandItem]:
    """The items of one result that ask for hand-marking (written answers, discussions)."""
    items: list[HandItem] = []
    for unit in result.units if result else []:
        answers = [a for a in unit.extra.get("answers", []) if isinstance(a, dict)]
        if answers:
            items.append(HandItem(unit.id, "answer", f"{unit.title}: written answer",
                                  tuple(str(a.get("text", "")) for a in answers)))
        for section in unit.extra.get("sections", []) if unit.kind == "homework" else []:
            text = str((section.get("discussion") or {}).get("text", ""))
            items.append(HandItem(unit.id, f"discussion:{section.get('id')}",
                                  f"{section.get('title') or section.get('id')}: discussion", (text,) if text else ()))
    return items


def class_items(results: Iterable[SubmissionResult | None]) -> dict[str, list[HandItem]]:
    """Unit id -> every hand item any student has in it (text-free), in first-seen order."""
    found: dict[str, list[HandItem]] = {}
    for result in results:
        for item in hand_items(result):
            known = found.setdefault(item.unit_id, [])
            if all(k.item != item.item for k in known):
                known.append(HandItem(item.unit_id, item.item, item.label))
    return found


def items_for(result: SubmissionResult | None, expected: dict[str, list[HandItem]]) -> list[HandItem]:
    """The student's own items, plus the class's items of their units that they lack (no text)."""
    own = {(i.unit_id, i.item): i for i in hand_items(result)}
    out: list[HandItem] = []
    for unit in result.units if result else []:
        for item in expected.get(unit.id, []):
            out.append(own.get((item.unit_id, item.item), item))
    return out


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def load_reviews(conn: sqlite3.Connection) -> Reviews:
    """Every mark and override in the gradebook behind ``conn`` (none when never reviewed)."""
    reviews = Reviews()
    tables = _tables(conn)
    if "review_marks" in tables:
        for r in conn.execute("SELECT student_id, unit_id, item, points, max_points, comment, grader, marked_at "
                              "FROM review_marks ORDER BY student_id, unit_id, item"):
            reviews.marks.setdefault(r[0], []).append(HandMark(*r))
    if "review_overrides" in tables:
        for r in conn.execute("SELECT student_id, unit_id, test, score, reason, auto_score, grader, marked_at "
                              "FROM review_overrides ORDER BY student_id, unit_id, test"):
            reviews.overrides.setdefault(r[0], []).append(Override(*r))
    if "review_settings" in tables:
        row = conn.execute("SELECT value FROM review_settings WHERE key = 'hand_points'").fetchone()
        reviews.hand_points = float(row[0]) if row else DEFAULT_HAND_POINTS
    return reviews


@dataclass
class UnitFinal:
    """A unit's points after overrides and hand marks."""

    unit_id: str
    auto: float
    auto_max: float
    score: float
    max_score: float
    hand: float = 0.0
    hand_max: float = 0.0
    unmarked: int = 0
    overridden: int = 0


def apply_reviews(result: SubmissionResult | None, student: str, reviews: Reviews,
                  expected: dict[str, list[HandItem]]) -> SubmissionResult | None:
    """A copy of ``result`` as reviewed: overridden tests carry the TA's score and reason,
    and each hand-marked item is one more test of its unit (an unmarked one: 0 points,
    "not marked yet"), so every export and report adds them up the same way."""
    if result is None:
        return None
    out = copy.deepcopy(result)
    for unit in out.units:
        for test in unit.tests:
            o = reviews.override(student, unit.id, test.name)
            if o is not None:
                test.message = (f"{test.message}\n" if test.message else "") + (
                    f"Score changed by {o.grader} from {round_points(o.auto_score):g} to {round_points(o.score):g}: "
                    f"{o.reason}")
                test.score = o.score
                test.status = "passed" if o.score >= test.max_score - 1e-9 else "failed"
                test.details = {**test.details, "override": asdict(o)}
        for item in expected.get(unit.id, []):
            mark = reviews.mark(student, unit.id, item.item)
            if mark is None:
                unit.tests.append(TestResult(name=f"{item.label} (marked by hand)", score=0.0,
                                             max_score=reviews.hand_points, status="failed", message="not marked yet",
                                             details={"hand": {"item": item.item, "marked": False}}))
                continue
            unit.tests.append(TestResult(
                name=f"{item.label} (marked by hand)", score=mark.points, max_score=mark.max_points,
                status="passed" if mark.points >= mark.max_points - 1e-9 else "failed",
                message=(mark.comment or "no comment") + f" (marked by {mark.grader})",
                details={"hand": {"item": item.item, "marked": True, **asdict(mark)}}))
    return out


def final_scores(result: SubmissionResult | None, student: str, reviews: Reviews,
                 expected: dict[str, list[HandItem]]) -> list[UnitFinal]:
    """Per unit: automatic points, then overrides applied and hand-marked items added.

    An unmarked item counts 0 of ``hand_points`` (so percentages compare while marking is
    under way; ``unmarked`` says how many are left)."""
    reviewed = apply_reviews(result, student, reviews, expected)
    finals = []
    for unit, done in zip(result.units if result else [], reviewed.units if reviewed else []):
        hand = [t for t in done.tests if "hand" in t.details]
        finals.append(UnitFinal(
            unit.id, unit.score, unit.max_score, done.score, done.max_score,
            hand=round(sum(t.score for t in hand), 6), hand_max=round(sum(t.max_score for t in hand), 6),
            unmarked=sum(not t.details["hand"]["marked"] for t in hand),
            overridden=sum("override" in t.details for t in done.tests)))
    return finals


class ReviewStore:
    """The review tables of one gradebook, open for writing."""

    def __init__(self, path: Path, grader: str) -> None:
        if not grader.strip():
            raise InputError("a review needs the marker's name (--grader NAME)")
        open_gradebook(path).close()  # refuses anything that is not a gradebook
        self.path, self.grader = path, grader.strip()
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def reviews(self) -> Reviews:
        """Everything stored, read now."""
        return load_reviews(self.conn)

    def set_hand_points(self, points: float) -> None:
        """What a hand-marked item is worth from now on (marks keep their own maximum)."""
        if not points > 0:
            raise InputError(f"--hand-points must be above 0, not {points:g}")
        self._write("settings", "", "", "hand_points", {"value": points},
                    "INSERT OR REPLACE INTO review_settings VALUES ('hand_points', ?)", (str(points),))

    def save_mark(self, student: str, unit_id: str, item: str, points: float, comment: str = "",
                  max_points: float | None = None) -> HandMark:
        """Record (or replace) the points of one item; 0 <= points <= its maximum."""
        top = self.reviews().hand_points if max_points is None else float(max_points)
        if not 0 <= points <= top:
            raise InputError(f"points must be between 0 and {top:g}, not {points:g}")
        mark = HandMark(student, unit_id, item, float(points), top, comment.strip(), self.grader, now_iso())
        self._write("mark", student, unit_id, item, {"points": mark.points, "max": top, "comment": mark.comment},
                    "INSERT OR REPLACE INTO review_marks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (student, unit_id, item, mark.points, top, mark.comment, self.grader, mark.at))
        return mark

    def save_override(self, student: str, unit_id: str, test: str, score: float, reason: str, *,
                      auto_score: float, max_score: float) -> Override:
        """Replace a test's automatic score; the reason is required."""
        if not reason.strip():
            raise InputError("an override needs a reason")
        if not 0 <= score <= max_score:
            raise InputError(f"the score must be between 0 and {max_score:g}, not {score:g}")
        o = Override(student, unit_id, test, float(score), reason.strip(), float(auto_score), self.grader, now_iso())
        self._write("override", student, unit_id, test, {"score": o.score, "reason": o.reason, "auto": o.auto_score},
                    "INSERT OR REPLACE INTO review_overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (student, unit_id, test, o.score, o.reason, o.auto_score, self.grader, o.at))
        return o

    def clear(self, kind: str, student: str, unit_id: str, target: str) -> None:
        """Remove a mark (``kind='mark'``) or an override; the log keeps that it existed."""
        table, column = {"mark": ("review_marks", "item"), "override": ("review_overrides", "test")}[kind]
        self._write(f"clear {kind}", student, unit_id, target, {},
                    f"DELETE FROM {table} WHERE student_id = ? AND unit_id = ? AND {column} = ?",
                    (student, unit_id, target))

    def _write(self, action: str, student: str, unit_id: str, target: str, data: dict[str, Any], sql: str,
               params: Sequence[Any]) -> None:
        """The change and its log line in one transaction, committed before returning."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(sql, params)
            self.conn.execute("INSERT INTO review_log (at, grader, action, student_id, unit_id, target, data) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (now_iso(), self.grader, action, student, unit_id, target, json.dumps(data)))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
