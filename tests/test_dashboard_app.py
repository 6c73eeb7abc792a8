"""The dashboard as a person sees it (Streamlit AppTest, real database): the figures on the cards and in
the tables equal what independent SQL counts, cleanup from the dashboard removes the backlog, and the page
shows nothing without the staff password."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from psycopg.types.json import Jsonb
from streamlit.testing.v1 import AppTest

from enrollment_core import step_plan
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import insert_demo_step, seed_demo_data
from enrollment_core.queries import query
from enrollment_core.service import new_session_id

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PASSWORD = "s3cret-for-tests"
TIMEOUT = 60


@pytest.fixture
def dashboard_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app under test reads this test's database; no background cleanup racing the assertions."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DASHBOARD_BACKGROUND_CLEANUP", "0")
    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    st.cache_resource.clear()
    yield db_url
    st.cache_resource.clear()  # closes the pool (on_release) before the database is dropped


def signed_in_app(
    monkeypatch: pytest.MonkeyPatch, page: str | None = None, staff_name: str = "Sam Support"
) -> AppTest:
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.text_input(key="sign_in_name").input(staff_name)
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()  # the form's submit button
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return matches[0]


def seeded(db_url: str, sessions: int) -> None:
    with create_pool(db_url, Settings(database_url=db_url), name="seed") as pool:
        seed_demo_data(pool, sessions=sessions)


def add_session(
    db: psycopg.Connection,
    *,
    username: str,
    flow: str = "signup",
    status: str = "in_progress",
    steps: int = 2,
    started_ago: timedelta = timedelta(minutes=10),
    ttl: timedelta = timedelta(hours=2),
) -> str:
    """A hand-built session with real drawings, started `started_ago`."""
    now = datetime.now(UTC)
    created = now - started_ago
    session_id = new_session_id()
    step_times = [created + timedelta(seconds=30 * (k + 1)) for k in range(steps)]
    enrollment_id = db.execute(
        query("demo_insert_enrollment"),
        {
            "session_id": session_id,
            "username": username,
            "flow_type": flow,
            "status": status,
            "device_info": "test",
            "metadata": Jsonb({"ip": "192.0.2.1"}),
            "created_at": created,
            "updated_at": step_times[-1] if step_times else created,
            "expires_at": created + ttl,
            "completed_at": step_times[-1] + timedelta(seconds=5) if status == "completed" else None,
            "step_count": steps,
        },
    ).fetchone()["id"]
    for number, saved_at in zip(range(1, steps + 1), step_times):
        insert_demo_step(db, enrollment_id, username, flow, number, saved_at, sample=number)
    return session_id


# ------------------------------------------------------------------ access


def test_without_a_configured_password_the_page_explains_and_shows_no_data(dashboard_env: str, db) -> None:
    add_session(db, username="hidden_user")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "no password is configured" in at.warning[0].value
    assert any("DASHBOARD_PASSWORD=demo ./dev start" in m.value for m in at.markdown)
    assert not at.metric and not at.dataframe and not at.text_input


def test_wrong_password_is_refused_and_shows_no_data(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="hidden_user")
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.metric
    at.text_input(key="sign_in_name").input("Sam")
    at.text_input(key="sign_in_password").input("not-the-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not at.metric and not at.dataframe


def test_password_from_streamlit_secrets_works(dashboard_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["dashboard_password"] = "from-secrets"
    at.run()
    at.text_input(key="sign_in_name").input("Sam")
    at.text_input(key="sign_in_password").input("from-secrets")
    at.button[0].click().run()
    assert not at.exception
    assert metric(at, "Live sessions") == "0"


# ------------------------------------------------------------------ figures


def test_empty_database_shows_empty_states_without_errors(
    dashboard_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_app(monkeypatch)
    assert metric(at, "Live sessions") == "0"
    assert metric(at, "Expired, awaiting cleanup") == "0"
    assert metric(at, "Completed, last 24 h") == "0"
    assert metric(at, "Completion rate, last 24 h") == "—"
    infos = " ".join(i.value for i in at.info)
    assert (
        "No backlog" in infos and "No signup session started" in infos and "No completed enrollment" in infos
    )
    assert not at.error
    for page in ("app_pages/sessions.py", "app_pages/maintenance.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, page
    at.switch_page("app_pages/sessions.py").run()
    assert any("No session matches" in i.value for i in at.info)


def test_overview_cards_equal_independent_sql_on_demo_data(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(dashboard_env, 60)
    # A session marked 'expired' and past expiry: backlog, but not in the seed's count.
    add_session(db, username="marked_expired", status="expired", started_ago=timedelta(hours=3))
    at = signed_in_app(monkeypatch)

    def count(where: str) -> int:
        return db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {where}").fetchone()["n"]

    live = count("status = 'in_progress' AND expires_at > NOW()")
    backlog = count("status IN ('in_progress', 'expired') AND expires_at < NOW()")
    seed_backlog = count("status = 'in_progress' AND expires_at < NOW()")
    completed = count("status = 'completed' AND completed_at >= NOW() - INTERVAL '24 hours'")
    started = "created_at >= NOW() - INTERVAL '24 hours'"
    ended_ok = count(f"{started} AND status = 'completed'")
    ended_bad = count(f"{started} AND status <> 'completed' AND expires_at <= NOW()")
    assert live and backlog > seed_backlog and completed  # the demo data covers every card

    assert metric(at, "Live sessions") == str(live)
    assert metric(at, "Expired, awaiting cleanup") == str(backlog)
    assert metric(at, "Completed, last 24 h") == str(completed)
    assert metric(at, "Completion rate, last 24 h") == f"{ended_ok / (ended_ok + ended_bad):.0%}"
    captions = [c.value for c in at.caption]
    assert (
        f"seed query (in_progress only): {seed_backlog} · marked 'expired': {backlog - seed_backlog}"
        in captions
    )
    by_flow = {
        flow: count(f"flow_type = '{flow}' AND status = 'in_progress' AND expires_at > NOW()")
        for flow in ("signup", "signin")
    }
    assert f"signup {by_flow['signup']} · signin {by_flow['signin']}" in captions
    assert not at.error and not at.exception


def test_sessions_table_lists_what_sql_counts_and_filters(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(dashboard_env, 60)
    target = add_session(db, username="Zed_Findme", steps=4)
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")

    expected = db.execute(
        "SELECT te.session_id, "
        "(SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = te.id) AS n "
        "FROM temp_enrollments te WHERE status = 'in_progress' AND expires_at > NOW()"
    ).fetchall()
    table = at.dataframe[0].value
    assert sorted(table["session_id"]) == sorted(r["session_id"] for r in expected)
    steps = dict(zip(table["session_id"], table["steps_completed"]))
    assert steps == {r["session_id"]: r["n"] for r in expected}
    assert list(table["created_at"]) == sorted(table["created_at"], reverse=True)  # newest first
    assert any(f"Showing {len(expected)} of {len(expected)} matching" in c.value for c in at.caption)

    at.text_input(key="filter_username").input("findme").run()
    table = at.dataframe[0].value
    assert list(table["session_id"]) == [target] and list(table["steps_completed"]) == [4]

    at.text_input(key="filter_username").input("").run()
    at.segmented_control(key="filter_scope").set_value("overdue").run()
    overdue = db.execute(
        "SELECT count(*) AS n FROM temp_enrollments WHERE status = 'in_progress' AND expires_at <= NOW()"
    ).fetchone()["n"]
    table = at.dataframe[0].value
    assert len(table) == overdue and (table["expires_in_minutes"] <= 0).all()
    assert not at.exception


def test_drill_down_shows_every_saved_step_with_its_drawing(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = add_session(db, username="drill_me", steps=3)
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    at.text_input(key="drill_input").input(target).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["drill_me · signup"]
    assert metric(at, "Steps saved") == f"3 / {step_plan.total_steps('signup')}"
    plan = step_plan.steps_of("signup")
    markdown = " ".join(m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    for step in plan[:3]:
        assert f"**Step {step.number}** · {step.type}" in markdown
        assert step.instruction in captions
    assert len(at.image) == 3  # one drawing per saved step
    assert all(img.value and img.value[0] for img in at.image)
    assert not at.warning

    # The selection survives a refresh of the page (another widget, a rerun).
    at.selectbox(key="filter_flow").set_value("signin").run()
    assert [s.value for s in at.subheader] == ["drill_me · signup"]

    at.text_input(key="drill_input").input("sess_" + "x" * 32).run()
    assert "does not exist" in at.warning[0].value


def test_cleanup_from_the_dashboard_removes_the_expired_sessions(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = add_session(db, username="still_drawing")
    for i in range(3):
        add_session(db, username=f"gone_{i}", started_ago=timedelta(hours=3))
    add_session(db, username="gone_marked", status="expired", started_ago=timedelta(hours=5))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    assert metric(at, "Cleanup would delete") == "4"

    [b for b in at.button if b.label == "Run cleanup now…"][0].click().run()
    assert "Permanently delete the 4 expired session(s)" in at.warning[0].value
    # Nothing happens before the confirmation.
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 5

    at.button(key="confirm_cleanup").click().run()
    assert [s.value for s in at.success] == ["Cleanup removed 4 expired session(s) and their drawings."]
    rows = db.execute("SELECT session_id FROM temp_enrollments").fetchall()
    assert [r["session_id"] for r in rows] == [live]
    assert metric(at, "Cleanup would delete") == "0"
    assert not at.exception


def test_cleanup_can_be_cancelled(dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch) -> None:
    add_session(db, username="gone", started_ago=timedelta(hours=3))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    [b for b in at.button if b.label == "Run cleanup now…"][0].click().run()
    at.button(key="cancel_cleanup").click().run()
    assert not at.warning and not at.success
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 1


def test_archive_from_the_dashboard_moves_old_completed_sessions(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="done_long_ago", status="completed", steps=11, started_ago=timedelta(hours=30))
    add_session(db, username="done_recently", status="completed", steps=11, started_ago=timedelta(hours=1))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    assert metric(at, "Archive would move") == "1"
    [b for b in at.button if b.label == "Archive completed…"][0].click().run()
    at.button(key="confirm_archive").click().run()
    assert at.success[0].value.startswith("Archive moved 1 completed session(s) older than 24 h")
    archived = db.execute("SELECT username, step_count FROM enrollment_archive").fetchall()
    assert archived == [{"username": "done_long_ago", "step_count": 11}]


def test_table_growth_shows_exact_row_counts(dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded(dashboard_env, 20)
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    table = at.dataframe[0].value.set_index("table_name")
    for name in ("temp_enrollments", "temp_enrollment_steps", "enrollment_archive"):
        assert table.loc[name, "row_count"] == db.execute(f"SELECT count(*) AS n FROM {name}").fetchone()["n"]
    assert table.loc["temp_enrollment_steps", "total_bytes"] > 0
