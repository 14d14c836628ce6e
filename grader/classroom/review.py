"""``grade review``: a local web page where TAs go through the class one student at a time.

Flask serves it on 127.0.0.1 only, every URL under a random token (``/<token>/...``), so
other users of the machine and other sites in the TA's browser cannot read or change the
marks (writes are JSON POSTs, which a cross-site form cannot send without the token).
Every change is saved the moment it is made, through :class:`ReviewStore`, with the
marker's name and the time; nothing is kept in the page.

The page of a student shows the automatic results (each test with its message), an
override box per test (new score and a required reason), each written answer and
discussion with a points box and a comment, the totals before and after, and the reason
of a submission that could not be graded. Keys: ``n``/``p`` (or ``j``/``k``) next and
previous student, Enter saves the field, Escape leaves it, ``?`` lists the keys.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, abort, jsonify, redirect, render_template, request

from grader.classroom.gradebook import StoredSubmission, open_gradebook
from grader.classroom.review_store import HandItem, ReviewStore, Reviews, class_items, final_scores, items_for
from grader.rounding import round_points, show_points
from grader.errors import InputError

__all__ = ["make_app", "serve", "ReviewPages"]

HERE = Path(__file__).resolve().parent / "review"


class ReviewPages:
    """What the pages read: the gradebook's newest submissions and the stored reviews."""

    def __init__(self, db: Path, store: ReviewStore) -> None:
        self.db, self.store = db, store
        self._expected: dict[str, list[HandItem]] = {}
        self._stamp: tuple[int, int] | None = None

    def _book(self) -> Any:
        return open_gradebook(self.db)

    def students(self) -> list[str]:
        """Every student with a submission, sorted."""
        with self._book() as book:
            return [s.student for s in book.submissions(with_results=False)]

    def expected(self) -> dict[str, list[HandItem]]:
        """The class's hand items by unit, recomputed only when the gradebook got new rows."""
        with self._book() as book:
            stamp = tuple(book.conn.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM submissions").fetchone())
            if stamp != self._stamp:
                self._expected = class_items(s.result for s in book.submissions())
                self._stamp = stamp
        return self._expected

    def submission(self, student: str) -> StoredSubmission | None:
        """The newest submission of ``student``."""
        with self._book() as book:
            found = book.submissions(student=student)
        return found[0] if found else None

    def totals(self, sub: StoredSubmission, reviews: Reviews) -> dict[str, Any]:
        """Per unit and overall: automatic and final points, as numbers and as text."""
        finals = final_scores(sub.result, sub.student, reviews, self.expected())
        auto = sum(f.auto for f in finals), sum(f.auto_max for f in finals)
        final = sum(f.score for f in finals), sum(f.max_score for f in finals)
        return {"units": {f.unit_id: {**asdict(f), "text": show_points(f.score, f.max_score)} for f in finals},
                "auto": show_points(*auto), "final": show_points(*final), "final_score": round_points(final[0]),
                "unmarked": sum(f.unmarked for f in finals)}


def _number(data: dict[str, Any], key: str) -> float:
    try:
        return float(data[key])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{key} must be a number") from None


def make_app(db: Path, *, grader: str, token: str | None = None, hand_points: float | None = None,
             export_csv: Callable[[Path], str] | None = None) -> tuple[Flask, str]:
    """The review app for gradebook ``db`` and its token; ``export_csv(db)`` serves /export.csv."""
    store = ReviewStore(db, grader)
    if hand_points is not None:
        store.set_hand_points(hand_points)
    pages = ReviewPages(db, store)
    token = token or secrets.token_urlsafe(18)
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
                static_url_path=f"/{token}/static")
    base = f"/{token}"

    @app.before_request
    def _token() -> None:
        first = request.path.split("/")[1] if request.path.count("/") >= 1 else ""
        if not secrets.compare_digest(first, token):
            abort(404)

    @app.get(f"{base}/")
    def index() -> Any:
        students = pages.students()
        if not students:
            return Response("This gradebook has no submissions yet: run `grade batch` first.", mimetype="text/plain")
        return redirect(f"{base}/s/{quote(students[0], safe='')}")

    @app.get(f"{base}/s/<path:student>")
    def student_page(student: str) -> Any:
        students = pages.students()
        sub = pages.submission(student)
        if sub is None:
            abort(404)
        reviews = store.reviews()
        at = students.index(student)
        items = items_for(sub.result, pages.expected())
        return render_template(
            "student.html", base=base, sub=sub, result=sub.result, reviews=reviews, items=items,
            totals=pages.totals(sub, reviews), position=at + 1, count=len(students), grader=store.grader,
            previous=students[at - 1] if at > 0 else None, next=students[at + 1] if at + 1 < len(students) else None,
            hand_points=reviews.hand_points, show_points=show_points, round_points=round_points,
            has_export=export_csv is not None)

    def _answer(sub: StoredSubmission) -> Any:
        return jsonify({"ok": True, "totals": pages.totals(sub, store.reviews()), "grader": store.grader})

    def _target() -> tuple[dict[str, Any], StoredSubmission]:
        data = request.get_json(force=False, silent=True)
        if not isinstance(data, dict):
            abort(415)
        sub = pages.submission(str(data.get("student", "")))
        if sub is None:
            raise InputError(f"no submission of student {data.get('student')!r}")
        return data, sub

    @app.post(f"{base}/api/mark")
    def save_mark() -> Any:
        data, sub = _target()
        store.save_mark(sub.student, str(data.get("unit")), str(data.get("item")), _number(data, "points"),
                        str(data.get("comment", "")))
        return _answer(sub)

    @app.post(f"{base}/api/override")
    def save_override() -> Any:
        data, sub = _target()
        unit_id, name = str(data.get("unit")), str(data.get("test"))
        test = next((t for u in (sub.result.units if sub.result else []) if u.id == unit_id
                     for t in u.tests if t.name == name), None)
        if test is None:
            raise InputError(f"no test {name!r} in {unit_id!r}")
        store.save_override(sub.student, unit_id, name, _number(data, "score"), str(data.get("reason", "")),
                            auto_score=test.score, max_score=test.max_score)
        return _answer(sub)

    @app.post(f"{base}/api/clear")
    def clear() -> Any:
        data, sub = _target()
        kind = str(data.get("kind"))
        if kind not in ("mark", "override"):
            raise InputError("kind must be mark or override")
        store.clear(kind, sub.student, str(data.get("unit")), str(data.get("target")))
        return _answer(sub)

    @app.get(f"{base}/export.csv")
    def export() -> Any:
        if export_csv is None:
            abort(404)
        return Response(export_csv(db), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{db.stem}.csv"'})

    @app.errorhandler(InputError)
    def _bad(exc: InputError) -> Any:
        return jsonify({"ok": False, "error": str(exc)}), 400

    return app, token


def serve(app: Flask, token: str, *, port: int = 0, ready: Callable[[str], None] = print) -> None:
    """Serve on 127.0.0.1 until interrupted; ``ready`` gets the URL (with its token) once listening."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    ready(f"http://127.0.0.1:{server.server_port}/{token}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
