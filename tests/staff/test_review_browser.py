"""`grade review` in a real browser: headless Chromium (Debian's, driven by its chromedriver
through selenium) enters points, an override, reloads, moves with the keyboard, exports;
the gradebook and the CSV must show what was entered."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest
from staffbook import make_gradebook

from grader.classroom.review import make_app
from grader.report.export import sheet_csv

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("no Chromium with chromedriver on this machine (Debian: apt-get install chromium chromium-driver; "
                ".ci/run installs them)", allow_module_level=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from werkzeug.serving import make_server

    db = make_gradebook(tmp_path / "class.sqlite")
    app, token = make_app(db, grader="tess", export_csv=sheet_csv)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{token}/", db
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _status(driver: object, starts: str) -> str:
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "status").text.startswith(starts))
    return driver.find_element(By.ID, "status").text


def _heading(driver: object, student: str) -> None:
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "student").text == student)


def test_marks_overrides_reload_keys_and_export(site: tuple[str, Path], browser: object) -> None:
    url, db = site
    d = browser
    d.get(url)
    _heading(d, "alice")
    assert d.find_element(By.ID, "final-total").text == "15 / 17 (88.2%)"  # 6/7 + 9/9 + answer 0 of 1

    mark = d.find_element(By.CSS_SELECTOR, "form.mark[data-unit='weight_init'][data-item='answer']")
    mark.find_element(By.NAME, "comment").send_keys("Right idea; say why symmetry is never broken.")
    points = mark.find_element(By.NAME, "points")
    points.send_keys("0.5", Keys.ENTER)
    assert _status(d, "saved") == "saved: answer"
    assert d.find_element(By.ID, "final-total").text == "15.5 / 17 (91.2%)"

    override = d.find_element(By.CSS_SELECTOR, "form.override[data-test='weight_init: statistics per scheme']")
    override.find_element(By.NAME, "score").send_keys("4", Keys.ENTER)
    assert _status(d, "an override") == "an override needs a reason"
    override.find_element(By.NAME, "reason").send_keys("third scheme right; the probe read the wrong cell", Keys.ENTER)
    assert _status(d, "override saved") == "override saved: weight_init: statistics per scheme"
    assert d.find_element(By.ID, "final-total").text == "16.5 / 17 (97.1%)"

    d.refresh()
    _heading(d, "alice")
    mark = d.find_element(By.CSS_SELECTOR, "form.mark[data-unit='weight_init']")
    assert mark.find_element(By.NAME, "points").get_attribute("value") == "0.5"
    assert "by tess at" in mark.find_element(By.CLASS_NAME, "saved").text
    assert d.find_element(By.ID, "final-total").text == "16.5 / 17 (97.1%)"

    d.find_element(By.TAG_NAME, "body").send_keys("n")
    _heading(d, "bob")
    assert "nothing written" in d.find_element(By.CSS_SELECTOR, ".hand").text  # the class's item, no answer
    d.find_element(By.TAG_NAME, "body").send_keys("n")
    _heading(d, "carol")
    assert "is not valid JSON" in d.find_element(By.CSS_SELECTOR, "section.invalid").text
    d.find_element(By.TAG_NAME, "body").send_keys("p")
    _heading(d, "bob")

    text = d.execute_async_script("const done = arguments[0];"
                                  "fetch(document.getElementById('export').href).then(r => r.text()).then(done);")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(text))}
    alice = rows["alice"]
    assert (alice["weight_init"], alice["weight_init_max"], alice["weight_init_percent"]) == ("7.5", "8.0", "93.8")
    assert (alice["total"], alice["total_max"], alice["percent"]) == ("16.5", "17.0", "97.1")
    assert alice["automatic"] == "15.0"
    assert (alice["hand_marked"], alice["hand_unmarked"], alice["overrides"]) == ("0.5", "0", "1")
    assert "3 -> 4 by tess (third scheme right; the probe read the wrong cell)" in alice["review_notes"]
    assert (rows["bob"]["hand_unmarked"], rows["bob"]["total_max"]) == ("1", "8.0")
    assert (rows["carol"]["status"], rows["carol"]["reason"]) == ("invalid", "carol.ipynb: is not valid JSON "
                                                                             "(line 1 column 11)")

    with sqlite3.connect(db) as conn:
        marks = conn.execute("SELECT student_id, unit_id, item, points, max_points, comment, grader, marked_at "
                             "FROM review_marks").fetchall()
        overrides = conn.execute("SELECT test, score, auto_score, reason, grader FROM review_overrides").fetchall()
        actions = [r[0] for r in conn.execute("SELECT action FROM review_log ORDER BY id")]
    assert marks[0][:7] == ("alice", "weight_init", "answer", 0.5, 1.0,
                            "Right idea; say why symmetry is never broken.", "tess") and marks[0][7]
    assert overrides == [("weight_init: statistics per scheme", 4.0, 3.0,
                          "third scheme right; the probe read the wrong cell", "tess")]
    assert actions == ["mark", "override"]  # Enter saved once; the refused override left no trace
