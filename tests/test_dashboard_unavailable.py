"""The dashboard when its database cannot answer (Streamlit AppTest, real PostgreSQL, no mocks): no
server on the configured port, a table held locked by another connection (the dashboard's limits are
set short: 0.3 s for a lock), or every pooled connection taken (one connection, waited for 0.5 s).
Each part of a page that reads the database shows a notice in staff words in its place, never a
traceback; the other parts, the sidebar and the navigation keep working; a staff action that could
not run says that it did not happen; the figures come back once the database answers."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from psycopg.conninfo import make_conninfo
from streamlit.testing.v1 import AppTest

from dashboard import data
from enrollment_core import errors
from enrollment_core.config import DatabaseLimits, Settings
from enrollment_core.service import ClientInfo
from enrollment_core.staff import StaffActions
from tests.flows import draw_signin, locked, register_user, service_on
from tests.streamlit_server import free_port
from tests.test_dashboard_app import add_session, click, metric, signed_in_app
from tests.test_dashboard_app import dashboard_env as dashboard_env  # noqa: F401 - the fixture

PAGES = ["app_pages/overview.py", "app_pages/people.py", "app_pages/sessions.py", "app_pages/maintenance.py"]
DOWN = "The database is not answering right now"
LOCKED = f"{DOWN} (a table it needs stayed locked by other work longer than a page waits)"
BY_THEMSELVES = "The figures come back by themselves when it does."
RUN_SECONDS = 10.0  # a page run meeting the outage in several parts, each bounded by a short limit


@pytest.fixture
def short_limits(dashboard_env: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """The dashboard's connections wait 0.3 s for a lock (its requests and its maintenance work)."""
    for name in ("DB_LOCK_TIMEOUT_SECONDS", "MAINTENANCE_LOCK_TIMEOUT_SECONDS"):
        monkeypatch.setenv(name, "0.3")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_SECONDS", "1")
    return dashboard_env


def timed(action) -> AppTest:
    began = time.monotonic()
    at = action()
    assert time.monotonic() - began < RUN_SECONDS
    return at


def notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith(DOWN)]


def assert_sidebar_works(at: AppTest) -> None:
    assert at.sidebar.selectbox(key="refresh_choice").value == "30 s"
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


# ---------------------------------------------------------------- no server


def test_with_no_database_server_every_page_says_so_and_the_sidebar_works(
    dashboard_env: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = make_conninfo(dashboard_env, host="127.0.0.1", port=str(free_port()))
    monkeypatch.setenv("DATABASE_URL", closed)
    data.close_service()
    at = timed(lambda: signed_in_app(monkeypatch))
    expected = f"{DOWN} (it cannot be reached: it may be down or restarting). {BY_THEMSELVES}"
    assert notices(at) == [expected]
    assert not at.metric and [b.label for b in at.main.button] == ["Try again"]
    assert_sidebar_works(at)
    parts = {
        "app_pages/overview.py": 1,
        "app_pages/people.py": 1,  # "Refused now", before any search
        "app_pages/sessions.py": 1,
        "app_pages/maintenance.py": 3,  # storage, cleanup and archive, the staff log
    }
    for page, count in parts.items():
        timed(at.switch_page(page).run)
        assert not at.exception, (page, at.exception)
        assert len(notices(at)) == count, (page, notices(at))
        assert_sidebar_works(at)
    # Parts that do not refresh by themselves (cleanup and archive, here) say to click.
    assert notices(at)[1].endswith("Click Try again when it does.")
    # With automatic refresh off, every part says to click.
    at.sidebar.selectbox(key="refresh_choice").set_value("Off").run()
    assert all(n.endswith("Click Try again when it does.") for n in notices(at))
    assert not at.exception


# ---------------------------------------------------------------- a locked table


def test_a_locked_table_gives_a_notice_where_it_is_read_and_the_figures_come_back(
    short_limits: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="lou")
    at = signed_in_app(monkeypatch)
    assert metric(at, "Live sessions") == "1"
    with locked(short_limits, "temp_enrollments"):
        timed(at.run)
        assert not at.exception
        assert notices(at) == [f"{LOCKED}. {BY_THEMSELVES}"]
        assert not at.metric and not at.get("vega_lite_chart")  # no half-drawn part above the notice
        assert_sidebar_works(at)

        timed(at.switch_page("app_pages/maintenance.py").run)
        assert not at.exception
        # Storage counts the locked table's rows; the cleanup counts (from the snapshot of a moment
        # ago) and the staff log do not read it, and show.
        assert notices(at) == [f"{LOCKED}. {BY_THEMSELVES}"]
        assert metric(at, "Cleanup would delete") == "0 sessions"
        assert [i.value for i in at.info] == ["No one has run an action from the dashboard yet."]

        timed(at.switch_page("app_pages/people.py").run)
        timed(at.text_input(key="person_search").input("lou").run)
        assert not at.exception
        assert notices(at) == [f"{LOCKED}. {BY_THEMSELVES}"]

    at.button(key="retry_person_details").click().run()  # the part's Try again
    assert not at.exception and not notices(at)
    assert at.get("subheader")[0].value == "lou"
    at.switch_page("app_pages/overview.py").run()
    assert metric(at, "Live sessions") == "1" and not notices(at)


def test_every_connection_taken_is_said_with_the_wait(
    dashboard_env: str,  # noqa: F811
    db,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dashboard's pool has one connection, waited for 0.5 s; this test holds it (the app runs in
    this process: the same cached service)."""
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "1")
    monkeypatch.setenv("DB_POOL_TIMEOUT_SECONDS", "0.5")
    add_session(db, username="pam")
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    assert len(at.dataframe[0].value) == 1
    with data.service().pool.connection():
        timed(at.run)
        assert not at.exception
        assert notices(at) == [
            f"{DOWN} (no connection to it within 0.5 s: it may be down or overloaded). {BY_THEMSELVES}"
        ]
    at.run()
    assert not notices(at) and len(at.dataframe[0].value) == 1


# ---------------------------------------------------------------- staff actions


def test_a_cleanup_the_database_does_not_answer_says_it_did_not_happen(
    short_limits: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="gone", started_ago=timedelta(hours=3))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py", staff_name="Dana Ops")
    click(at, "Run cleanup now…")
    with locked(short_limits, "temp_enrollments"):
        timed(at.button(key="confirm_cleanup").click().run)
        assert not at.exception
        assert [e.value for e in at.error] == [
            "Cleanup did not run to the end: the database is not answering right now (a table it needs "
            "stayed locked by other work longer than a page waits). Sessions it had already removed stay "
            "removed; run it again when the database answers."
        ]
        assert not at.success
        assert db.execute("SELECT count(*) AS n FROM staff_actions").fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 1
    [logged] = db.execute("SELECT action, succeeded, result FROM staff_actions").fetchall()
    assert logged["action"] == "cleanup" and not logged["succeeded"]
    assert "lock timeout" in logged["result"]["error"]

    at.run()  # the database answers again: the counts, and the action, are back
    assert metric(at, "Cleanup would delete") == "1 session"
    click(at, "Run cleanup now…")
    at.button(key="confirm_cleanup").click().run()
    assert [s.value for s in at.success] == ["Cleanup removed 1 expired session(s) and their drawings."]
    assert not at.error and not at.exception


def test_an_unlock_the_database_does_not_answer_says_it_did_not_happen(
    short_limits: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    forger = ClientInfo("Pixel Chrome", "203.0.113.5")
    with service_on(short_limits, Settings(database_url=short_limits), name="blocks") as real:
        register_user(real, "alice")
        for sample in range(5):
            real.login("alice", draw_signin(real, "alice", person="eve", sample=60 + sample), client=forger)
        at = signed_in_app(monkeypatch, "app_pages/people.py", staff_name="Dana Ops")
        at.text_input(key="person_search").input("alice").run()
        click(at, "Unlock 203\\.0\\.113\\.5…")
        with locked(short_limits, "sign_in_lockouts"):
            timed(at.button(key="confirm_sign_in_fix").click().run)
            assert not at.exception
            assert [e.value for e in at.error] == [
                "Sign-in was not unlocked for alice from 203\\.0\\.113\\.5: the database is not answering "
                "right now (a table it needs stayed locked by other work longer than a page waits). Try "
                "again when it answers."
            ]
            assert notices(at) == [f"{LOCKED}. {BY_THEMSELVES}"]  # the person's details read it too
        with pytest.raises(errors.AccountLocked):  # still locked: nothing happened
            real.login("alice", draw_signin(real, "alice"), client=forger)

        at.button(key="retry_person_details").click().run()
        assert not at.exception and not notices(at)
        assert at.warning[0].value.startswith("Locked out from 203\\.0\\.113\\.5 until ")
        click(at, "Unlock 203\\.0\\.113\\.5…")
        at.button(key="confirm_sign_in_fix").click().run()
        assert at.success[0].value == "Unlocked sign-in for alice from 203\\.0\\.113\\.5."
        assert not at.error


def test_an_action_is_done_even_when_the_figures_cannot_be_recounted_after_it(
    db_url: str, db, settings: Settings
) -> None:
    """Cleanup removes the sessions; the dashboard's figures are recounted afterwards, and when their
    table is locked (0.3 s waited) that is left to the next refresh: the action still returns what it
    did, and is logged as done."""
    add_session(db, username="gone", started_ago=timedelta(hours=3))
    limits = DatabaseLimits(lock_timeout_seconds=0.3, maintenance_lock_timeout_seconds=0.3)
    tight = replace(settings, database_limits=limits)
    with service_on(db_url, tight, name="staff") as service, locked(db_url, "dashboard_snapshots"):
        assert StaffActions(service, "Dana Ops").run_cleanup() == 1
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0
    [logged] = db.execute("SELECT action, succeeded, result FROM staff_actions").fetchall()
    assert logged == {"action": "cleanup", "succeeded": True, "result": {"removed": 1}}
    assert db.execute("SELECT count(*) AS n FROM dashboard_snapshots").fetchone()["n"] == 0
