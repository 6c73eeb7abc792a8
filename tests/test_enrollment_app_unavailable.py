"""The enrollment app when its database cannot answer (Streamlit AppTest, real PostgreSQL, no mocks): a
table held locked by another connection (the app's service waits at most lock_timeout, 0.3 s) or a
database server that is not there (a closed port; a connection is waited for 0.5 s). The person reads
plain words instead of a traceback, the drawing stays on the pad, nothing saved before is lost, and once
the database answers again the same action succeeds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from streamlit.testing.v1 import AppTest

from enrollment_app import resources
from enrollment_core import step_plan
from enrollment_core.config import DatabaseLimits, Settings
from enrollment_core.service import EnrollmentService
from tests.flows import draw_signin, draw_signup, locked, register_user, service_on
from tests.streamlit_server import free_port
from tests.test_enrollment_app_flow import (
    APP,
    TIMEOUT,
    FakePad,
    assert_no_exception,
    button,
    save,
    start,
    step_drawing,
    texts,
)
from tests.test_enrollment_app_flow import pad as pad  # noqa: F401 - the fixture, used by name

UNREACHABLE = "We could not reach our server just now"
# A locked table costs the app lock_timeout per statement: a run that meets it twice (locating the
# session, then saving) still ends within this.
LOCKED_RUN_SECONDS = 5.0


@pytest.fixture
def impatient(db_url: str, settings: Settings) -> Iterator[EnrollmentService]:
    """The test database's service with short limits: a lock is waited for 0.3 s, a statement 1 s."""
    limits = DatabaseLimits(lock_timeout_seconds=0.3, statement_timeout_seconds=1)
    with service_on(db_url, replace(settings, database_limits=limits), name="impatient") as service:
        yield service


@pytest.fixture
def app(impatient: EnrollmentService, pad: FakePad, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setattr(resources, "get_service", lambda: impatient)
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def timed_run(action) -> AppTest:
    """Run an AppTest action; the run is bounded by the database's limits, not by the lock."""
    began = time.monotonic()
    at = action()
    assert time.monotonic() - began < LOCKED_RUN_SECONDS
    return at


def saved_steps(db: psycopg.Connection, session_id: str) -> list[int]:
    rows = db.execute(
        "SELECT s.step_number FROM temp_enrollment_steps s JOIN temp_enrollments e ON e.id = s.enrollment_id"
        " WHERE e.session_id = %s ORDER BY s.step_number",
        (session_id,),
    ).fetchall()
    return [r["step_number"] for r in rows]


def test_a_save_while_a_table_is_locked_keeps_the_drawing_and_succeeds_once_released(
    app: AppTest, pad: FakePad, db_url: str, db: psycopg.Connection
) -> None:
    start(app, "signup", "lena")
    pad.draw(step_drawing("signup", 1, "lena"))
    save(app)
    session_id = app.query_params["session"]
    second = step_drawing("signup", 2, "lena")
    pad.draw(second)
    shown_before = len(pad.calls)

    with locked(db_url, "temp_enrollments"):
        timed_run(lambda: save(app))
        assert_no_exception(app)
        [warning] = app.warning
        assert warning.value.startswith(f"{UNREACHABLE}, so this step is not saved yet.")
        assert "Your drawing is still here: tap **Save and continue** again" in warning.value
        assert "The step you saved before is safe." in warning.value
        assert "database" not in texts(app).lower()
        # The same page, not another: the step, its URL, and its pad, drawn again with the same key
        # and not told to redraw (the real canvas keeps its drawing; tests/browser checks it).
        assert "Step 2 of 11" in texts(app)
        assert dict(app.query_params) == {"session": session_id}
        assert len(pad.calls) == shown_before + 1
        assert pad.calls[-1]["key"] == pad.calls[shown_before - 1]["key"]
        assert pad.calls[-1]["initial"] is None
        assert pad.objects == second
        assert button(app, "Save and continue")

    assert saved_steps(db, session_id) == [1]  # nothing of the refused save, the earlier step kept
    save(app)  # the same click, now that the table is free
    assert_no_exception(app)
    assert "Step 3 of 11" in texts(app)
    assert saved_steps(db, session_id) == [1, 2]
    stored = db.execute(
        "SELECT s.raw_data FROM temp_enrollment_steps s JOIN temp_enrollments e ON e.id = s.enrollment_id"
        " WHERE e.session_id = %s AND s.step_number = 2",
        (session_id,),
    ).fetchone()
    assert len(stored["raw_data"]["objects"]) == len(second)


def test_the_first_save_while_locked_creates_nothing_then_saves(
    app: AppTest, pad: FakePad, db_url: str, db: psycopg.Connection
) -> None:
    start(app, "signup", "first_lock")
    pad.draw(step_drawing("signup", 1, "first_lock"))
    with locked(db_url, "temp_enrollments"):
        timed_run(lambda: save(app))
        assert_no_exception(app)
        assert "so this step is not saved yet" in app.warning[0].value
        assert "saved before" not in app.warning[0].value  # there is nothing before step 1
        assert dict(app.query_params) == {"flow": "signup", "user": "first_lock"}
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0
    save(app)
    assert_no_exception(app)
    assert "Step 2 of 11" in texts(app)


def test_a_link_opened_while_locked_says_so_and_try_again_continues(
    app: AppTest, impatient: EnrollmentService, db_url: str
) -> None:
    session_id = draw_signup(impatient, "reopen_rita", steps=3)
    app.query_params["session"] = session_id
    with locked(db_url, "temp_enrollments"):
        timed_run(app.run)
        assert_no_exception(app)
        assert app.title[0].value == "We can't reach our server right now"
        assert "Nothing you saved is lost" in app.warning[0].value
        assert not app.get("progress")  # no half-drawn step behind the message
        timed_run(lambda: button(app, "Try again").click().run())  # still locked: the same screen
        assert_no_exception(app)
        assert app.title[0].value == "We can't reach our server right now"
    button(app, "Try again").click().run()
    assert_no_exception(app)
    assert "Step 4 of 11" in texts(app)
    assert "Welcome back: 3 steps already saved" in texts(app)


@pytest.mark.parametrize("flow_type", ["signup", "signin"])
def test_creating_the_account_or_checking_the_signature_while_locked_can_be_tried_again(
    app: AppTest, impatient: EnrollmentService, db_url: str, db: psycopg.Connection, flow_type: str
) -> None:
    if flow_type == "signup":
        session_id = draw_signup(impatient, "finn")  # every step saved, not registered yet
        title, done = "Your account is not created yet", "Account created"
    else:
        register_user(impatient, "finn")
        session_id = draw_signin(impatient, "finn")
        title, done = "Your signature is not checked yet", "Signed in"
    app.query_params["session"] = session_id
    with locked(db_url, "users"):
        timed_run(app.run)
        assert_no_exception(app)
        assert app.title[0].value == title
        assert app.warning[0].value.startswith(UNREACHABLE)
        assert "saved: tap **Try again** in a moment." in app.warning[0].value
    assert db.execute("SELECT count(*) AS n FROM login_attempts").fetchone()["n"] == 0
    button(app, "Try again").click().run()
    assert_no_exception(app)
    assert app.title[0].value == done
    assert dict(app.query_params) == {"session": session_id}
    if flow_type == "signup":
        assert db.execute("SELECT count(*) AS n FROM users WHERE username = 'finn'").fetchone()["n"] == 1
    else:
        assert db.execute("SELECT count(*) AS n FROM login_attempts").fetchone()["n"] == 1


# ---------------------------------------------------------------- no database server at all


@pytest.fixture
def nowhere(server_url: str, settings: Settings) -> Iterator[EnrollmentService]:
    """A service whose database is not there: a port nothing listens on, a connection waited for
    0.5 s (no connection is opened in advance: min_size 0)."""
    url = make_conninfo(server_url, host="127.0.0.1", port=str(free_port()))
    gone = replace(
        settings, database_url=url, pool_min_size=0, database_limits=DatabaseLimits(pool_timeout_seconds=0.5)
    )
    with service_on(url, gone, name="nowhere") as service:
        yield service


def test_with_the_database_server_down_the_start_screen_says_so_in_plain_words(
    nowhere: EnrollmentService, pad: FakePad, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "get_service", lambda: nowhere)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    timed_run(lambda: start(at, "signup", "nobody_home"))
    assert_no_exception(at)
    assert at.warning[0].value == (
        f"{UNREACHABLE}, so your username is not checked yet. Please tap **Continue** again in a moment."
    )
    assert at.title[0].value == "Signature enrollment"  # still the start screen, the name still typed
    assert at.text_input[0].value == "nobody_home"
    assert dict(at.query_params) == {}

    linked = AppTest.from_file(APP, default_timeout=TIMEOUT)
    linked.query_params.update({"flow": "signin", "user": "nobody_home"})
    timed_run(linked.run)
    assert_no_exception(linked)
    assert linked.title[0].value == "We can't reach our server right now"
    assert [b.label for b in linked.button] == ["Try again"]
    assert step_plan.step_of("signin", 1).instruction not in texts(linked)
