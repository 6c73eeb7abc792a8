"""A session bound to the browser that started it, in the enrollment app (AppTest, real database): its
link opened in another browser says where to continue and offers to start again there, and draws no
pad; in the browser that started it, it continues; before the browser has said what it keeps, the page
waits (its answer reruns it). The real component in Chromium: tests/browser/test_browser_bound_sessions.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from enrollment_app import browser, resources
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService
from tests.test_enrollment_app_flow import APP, TIMEOUT, FakePad, assert_no_exception, texts
from tests.test_enrollment_app_flow import pad as pad  # noqa: F401 - the fixture, used by name

STARTED_IN = "the-secret-of-the-browser-it-started-in"
ANOTHER = "the-secret-of-some-other-browser-entirely"


@pytest.fixture
def bound_session(service: EnrollmentService, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(resources, "get_service", lambda: service)
    first = sample_drawing("bound_bo", 1)
    return service.save_drawing(first, ClientInfo("phone", "192.0.2.5", session_secret=STARTED_IN)).session_id


def open_link(session_id: str, kept: browser.Browser, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setattr(browser, "current", lambda: kept)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["session"] = session_id
    return at.run()


def test_the_link_in_another_browser_says_where_to_continue(
    bound_session: str, pad: FakePad, monkeypatch: pytest.MonkeyPatch, db
) -> None:
    at = open_link(bound_session, browser.Browser(answered=True, secret=ANOTHER), monkeypatch)
    assert_no_exception(at)
    assert at.title[0].value == "This enrollment continues where you started it"
    assert "open this link on the phone or computer" in texts(at)
    assert pad.calls == []  # no pad to draw on
    assert [b.label for b in at.button] == ["Start again here as bound_bo", "Back to the start page"]
    # A browser that keeps nothing (storage switched off) is another browser too.
    nothing = open_link(bound_session, browser.Browser(answered=True), monkeypatch)
    assert nothing.title[0].value == "This enrollment continues where you started it"
    # Start again here: a new enrollment, nothing of the other one touched.
    next(b for b in at.button if b.label.startswith("Start again here")).click().run()
    assert dict(at.query_params) == {"flow": "signup", "user": "bound_bo"}
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 1


def test_the_browser_it_started_in_continues_and_a_first_run_waits(
    bound_session: str, pad: FakePad, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_link(bound_session, browser.Browser(answered=True, secret=STARTED_IN), monkeypatch)
    assert_no_exception(at)
    assert "Step 2 of 11" in texts(at)
    waiting = open_link(bound_session, browser.Browser(answered=False), monkeypatch)
    assert_no_exception(waiting)
    assert [c.value for c in waiting.caption] == ["Getting ready…"] and not waiting.title
