"""The dashboard as a person sees it (Streamlit AppTest, real database): the figures on the cards, in the
charts and in the tables equal what independent SQL counts, and cleanup and archive from the dashboard
change none of them (only what awaits cleanup); a person is found by name or session id with their
sign-in attempts; every action is logged under the name given at sign-in; text from clients is never
rendered as Markdown; the page shows nothing without the staff password and a name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg.types.json import Jsonb
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from dashboard import data, devices
from enrollment_core import step_plan
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import insert_demo_step, seed_demo_data
from enrollment_core.queries import query
from enrollment_core.service import ClientInfo, EnrollmentService, new_session_id
from tests.flows import draw_signin, register_user

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PASSWORD = "s3cret-for-tests"
TIMEOUT = 60


@pytest.fixture
def dashboard_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app under test reads this test's database; no background cleanup racing the assertions."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DASHBOARD_BACKGROUND_CLEANUP", "0")
    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    data.close_service()
    yield db_url
    data.close_service()  # closes the pool before the database is dropped


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


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def chart_data(at: AppTest) -> list[pd.DataFrame]:
    """The data of every chart on the page, in page order (Overview: live sessions over time, awaiting
    cleanup, funnel, time per step, steps per completed enrollment)."""
    frames = []
    for chart in at.get("vega_lite_chart"):
        assert len(chart.proto.datasets) == 1
        frames.append(dataframe_util.convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data))
    return frames


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


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


def test_a_name_is_required_to_sign_in(dashboard_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.text_input(key="sign_in_name").input("   ")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Your name is required: the log records who did what."]
    assert not at.metric and not at.dataframe
    at.text_input(key="sign_in_name").input("  Sam   Support ")
    at.button[0].click().run()
    assert not at.error and at.metric
    assert "Signed in as Sam Support" in captions(at)


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
    assert [t.value for t in at.title] == ["Overview"]
    assert metric(at, "Live sessions") == "0"
    assert metric(at, "Awaiting cleanup") == "0"
    assert metric(at, "Completed, 24 h") == "0"
    assert metric(at, "Completion, 24 h") == "—"
    infos = " ".join(i.value for i in at.info)
    for empty in ("Nothing waits for cleanup", "No sign-up started", "No enrollment completed"):
        assert empty in infos
    assert not at.error
    for page, title in (
        ("app_pages/people.py", "People"),
        ("app_pages/sessions.py", "Sessions"),
        ("app_pages/maintenance.py", "Maintenance"),
    ):
        at.switch_page(page).run()
        assert not at.exception and not at.error, page
        assert [t.value for t in at.title] == [title]
    assert any("No one has run an action" in i.value for i in at.info)
    at.switch_page("app_pages/sessions.py").run()
    assert any("No session matches" in i.value for i in at.info)


def test_overview_cards_equal_independent_sql_on_demo_data(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(dashboard_env, 60)
    # A session marked 'expired' and past expiry: awaiting cleanup like those still 'in_progress'.
    add_session(db, username="marked_expired", status="expired", started_ago=timedelta(hours=3))
    at = signed_in_app(monkeypatch)

    def count(where: str) -> int:
        return db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {where}").fetchone()["n"]

    live = count("status = 'in_progress' AND expires_at > NOW()")
    backlog = count("status IN ('in_progress', 'expired') AND expires_at < NOW()")
    completed = count("status = 'completed' AND completed_at >= NOW() - INTERVAL '24 hours'")
    started = "created_at >= NOW() - INTERVAL '24 hours'"
    ended_ok = count(f"{started} AND status = 'completed'")
    ended_bad = count(f"{started} AND status <> 'completed' AND expires_at <= NOW()")
    assert live and backlog and completed  # the demo data covers every card

    assert metric(at, "Live sessions") == f"{live:,}"
    assert metric(at, "Awaiting cleanup") == f"{backlog:,}"
    assert metric(at, "Completed, 24 h") == f"{completed:,}"
    assert metric(at, "Completion, 24 h") == f"{ended_ok / (ended_ok + ended_bad):.0%}"
    assert any(c.startswith(f"{ended_ok} of {ended_ok + ended_bad} finished") for c in captions(at))
    by_flow = {
        flow: count(f"flow_type = '{flow}' AND status = 'in_progress' AND expires_at > NOW()")
        for flow in ("signup", "signin")
    }
    assert f"Sign-up {by_flow['signup']}  \nSign-in {by_flow['signin']}" in captions(at)
    text = " ".join([*captions(at), *(m.value for m in at.markdown), *(m.help or "" for m in at.metric)])
    for developer_word in (
        "seed",
        "in_progress",
        "temp_enrollments",
        "enrollment_archive",
        "signup ",
        "signin ",
    ):
        assert developer_word not in text, developer_word
    assert not at.error and not at.exception


def chart_with(at: AppTest, column: str) -> pd.DataFrame | None:
    """The data of the chart on the page whose data has this column (None: that chart is not shown)."""
    found = [frame for frame in chart_data(at) if column in frame.columns]
    assert len(found) <= 1, column
    return found[0] if found else None


def overview_figures(at: AppTest) -> dict[str, object]:
    """What the Overview shows about the past: cards (but the backlog), their captions, and the data of
    the charts (live sessions over time: the hours both runs drew; the last point is "now")."""
    over_time = chart_with(at, "live").set_index(["at", "flow_type"])["live"]
    last = over_time.index.get_level_values("at").max()
    return {
        "cards": {m.label: m.value for m in at.metric if m.label != "Awaiting cleanup"},
        "captions": [c for c in captions(at) if "Sign-up" in c][0:1]
        + [c for c in captions(at) if "finished" in c],
        "over_time": over_time[over_time.index.get_level_values("at") < last],
        "funnel": chart_with(at, "share_of_started")[["step_number", "sessions", "share_of_started"]].to_dict(
            "records"
        ),
        "durations": chart_with(at, "p90_seconds")[
            ["step_number", "samples", "median_seconds", "p90_seconds"]
        ].to_dict("records"),
        "steps": chart_with(at, "avg_steps")[["flow_type", "avg_steps", "sessions"]].to_dict("records"),
    }


def test_cleanup_and_archive_from_the_dashboard_change_no_figure_about_the_past(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(dashboard_env, 80)
    add_session(db, username="gone_marked", status="expired", steps=3, started_ago=timedelta(hours=5))
    at = signed_in_app(monkeypatch)
    at.selectbox(key="window_choice").set_value("Last 3 days").run()  # the funnel's sessions all ended
    before = overview_figures(at)
    backlog = int(metric(at, "Awaiting cleanup"))
    assert (
        backlog > 0 and len(before["funnel"]) == 11 and before["durations"] and before["over_time"].sum() > 0
    )

    at.switch_page("app_pages/maintenance.py").run()
    click(at, "Run cleanup now…")
    at.button(key="confirm_cleanup").click().run()
    at.number_input[0].set_value(0.0).run()  # archive every completed session
    click(at, "Archive completed…")
    at.button(key="confirm_archive").click().run()
    assert not at.exception and not at.error
    assert (
        db.execute("SELECT count(*) AS n FROM temp_enrollments WHERE status <> 'in_progress'").fetchone()["n"]
        == 0
    )

    at.switch_page("app_pages/overview.py").run()
    after = overview_figures(at)
    assert metric(at, "Awaiting cleanup") == "0" and chart_with(at, "hours_overdue") is None
    assert any("Nothing waits for cleanup" in i.value for i in at.info)
    for name, shown in before.items():
        if name == "over_time":
            common = shown.index.intersection(after[name].index)
            assert len(common) > 100 and shown[common].equals(after[name][common]), name
        else:
            assert after[name] == shown, name
    # And they equal independent SQL over what is left plus the summaries.
    ended = db.execute(
        """SELECT count(*) FILTER (WHERE outcome = 'completed') AS ok, count(*) AS all
           FROM enrollment_archive WHERE created_at >= NOW() - INTERVAL '24 hours'"""
    ).fetchone()
    assert metric(at, "Completion, 24 h") == f"{ended['ok'] / ended['all']:.0%}"


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
    assert any(f"Showing {len(expected)} of {len(expected)} matching" in c for c in captions(at))

    at.text_input(key="filter_username").input("findme").run()
    table = at.dataframe[0].value
    assert list(table["session_id"]) == [target] and list(table["steps"]) == ["4 of 11 steps"]
    assert list(table["progress"]) == [36] and table["time_left"].iloc[0].endswith(" min left")

    at.text_input(key="filter_username").input("").run()
    at.segmented_control(key="filter_scope").set_value("overdue").run()
    overdue = db.execute(
        "SELECT count(*) AS n FROM temp_enrollments WHERE status = 'in_progress' AND expires_at <= NOW()"
    ).fetchone()["n"]
    table = at.dataframe[0].value
    assert len(table) == overdue and table["time_left"].str.startswith("expired ").all()
    assert not at.exception


def test_drill_down_shows_every_saved_step_with_its_drawing_and_clears(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = add_session(db, username="drill_me", steps=3)
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    assert at.button(key="drill_clear").disabled
    at.text_input(key="drill_input").input(target).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["drill\\_me · Sign-up"]
    assert metric(at, "Steps saved") == "3 of 11 steps" and metric(at, "Status") == "In progress"
    plan = step_plan.steps_of("signup")
    markdown = " ".join(m.value for m in at.markdown)
    for step in plan[:3]:
        assert f"**Step {step.number}** · {step.type.capitalize()}" in markdown
        assert any(step.instruction.replace(",", "\\,") in c for c in captions(at))
    assert len(at.image) == 3  # one drawing per saved step
    assert all(img.value and img.value[0] for img in at.image)
    assert any(c.endswith("first drawing: it starts the session") for c in captions(at))
    assert any(c.endswith("30 s since the step before") for c in captions(at))
    assert not at.warning

    # The drawings stay while the table changes (another widget, a rerun) ...
    at.selectbox(key="filter_flow").set_value("Sign-in").run()
    assert [s.value for s in at.subheader] == ["drill\\_me · Sign-up"]
    # ... and Clear empties them.
    assert not at.button(key="drill_clear").disabled
    at.button(key="drill_clear").click().run()
    assert not at.subheader and not at.image and at.text_input(key="drill_input").value == ""
    assert (
        any("Click a row of the table" in i.value for i in at.info) and at.button(key="drill_clear").disabled
    )

    at.text_input(key="drill_input").input("sess_" + "x" * 32).run()
    assert at.warning[0].value.startswith("No session has the id")


def test_a_cleaned_up_session_says_what_it_was(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = add_session(db, username="ran_out", steps=4, started_ago=timedelta(hours=3))
    db.execute("SELECT cleanup_expired_enrollments()")
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    at.text_input(key="drill_input").input(gone).run()
    [info] = [i.value for i in at.info if "summary" in i.value]
    assert "sign-up session of ran\\_out (4 of 11 steps" in info and "cleaned up after it expired" in info
    assert "Only its summary is kept" in info and not at.image


def test_cleanup_from_the_dashboard_removes_the_expired_sessions_and_is_logged(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = add_session(db, username="still_drawing")
    for i in range(3):
        add_session(db, username=f"gone_{i}", started_ago=timedelta(hours=3))
    add_session(db, username="gone_marked", status="expired", started_ago=timedelta(hours=5))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py", staff_name="Dana Ops")
    assert metric(at, "Cleanup would delete") == "4 sessions"

    click(at, "Run cleanup now…")
    assert "Permanently delete the 4 expired session(s)" in at.warning[0].value
    # Nothing happens before the confirmation.
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 5

    at.button(key="confirm_cleanup").click().run()
    assert [s.value for s in at.success] == ["Cleanup removed 4 expired session(s) and their drawings."]
    rows = db.execute("SELECT session_id FROM temp_enrollments").fetchall()
    assert [r["session_id"] for r in rows] == [live]
    assert metric(at, "Cleanup would delete") == "0 sessions"
    logged = db.execute("SELECT staff_name, action, target, succeeded, result FROM staff_actions").fetchall()
    assert logged == [
        {
            "staff_name": "Dana Ops",
            "action": "cleanup",
            "target": None,
            "succeeded": True,
            "result": {"removed": 4},
        }
    ]
    log = at.dataframe[-1].value
    assert list(log["who"]) == ["Dana Ops"] and list(log["what"]) == ["Cleanup of expired sessions"]
    assert list(log["result"]) == ["Removed 4 expired sessions"]
    assert not at.exception


def test_cleanup_can_be_cancelled(dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch) -> None:
    add_session(db, username="gone", started_ago=timedelta(hours=3))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    click(at, "Run cleanup now…")
    at.button(key="cancel_cleanup").click().run()
    assert not at.warning and not at.success
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM staff_actions").fetchone()["n"] == 0


def test_archive_from_the_dashboard_moves_old_completed_sessions(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="done_long_ago", status="completed", steps=11, started_ago=timedelta(hours=30))
    add_session(db, username="done_recently", status="completed", steps=11, started_ago=timedelta(hours=1))
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    assert metric(at, "Archive would move") == "1 session"
    click(at, "Archive completed…")
    assert "enrollment_archive" not in at.warning[0].value and "to the archive" in at.warning[0].value
    at.button(key="confirm_archive").click().run()
    assert at.success[0].value.startswith("Archive moved 1 completed session(s) older than 24 h")
    archived = db.execute("SELECT username, step_count, outcome FROM enrollment_archive").fetchall()
    assert archived == [{"username": "done_long_ago", "step_count": 11, "outcome": "completed"}]
    log = at.dataframe[-1].value
    assert list(log["result"]) == ["Moved 1 completed session older than 24 h"]


def test_storage_shows_exact_row_counts_in_plain_words(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(dashboard_env, 20)
    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    table = at.dataframe[0].value.set_index("table_name")
    for name in ("temp_enrollments", "temp_enrollment_steps", "enrollment_archive"):
        assert table.loc[name, "row_count"] == db.execute(f"SELECT count(*) AS n FROM {name}").fetchone()["n"]
    assert list(table["holds"]) == ["Sessions", "Their drawings", "Summaries of removed sessions"]
    assert table.loc["temp_enrollment_steps", "total_bytes"] > 0


# ------------------------------------------------------------------ people


@pytest.fixture
def person(db_url: str, db) -> str:
    """Frida_K: registered, one accepted and two rejected sign-ins, and an older sign-up under the same
    name that ran out of time and was cleaned up."""
    settings = Settings(database_url=db_url)
    with create_pool(db_url, settings, name="person") as pool:
        service = EnrollmentService(pool, settings)
        register_user(service, "Frida_K")
        service.login(
            "Frida_K", draw_signin(service, "Frida_K"), client=ClientInfo("iPhone Safari", "198.51.100.7")
        )
        for sample in (60, 61):
            rejected = draw_signin(service, "Frida_K", person="mallory", sample=sample)
            service.login("Frida_K", rejected, client=ClientInfo("Pixel Chrome", "203.0.113.9"))
    add_session(db, username="frida_k", steps=2, started_ago=timedelta(days=2))
    db.execute("SELECT cleanup_expired_enrollments()")
    return rejected


def test_a_person_found_by_name_shows_their_attempts_and_sessions(
    dashboard_env: str, db, person: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_app(monkeypatch, "app_pages/people.py")
    assert any("Type a username, a part of one, or a session id" in i.value for i in at.info)
    at.text_input(key="person_search").input("FRIDA_k").run()
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == ["Frida\\_K"]
    assert metric(at, "Enrolled drawings") == "11" and metric(at, "Sign-in attempts") == "3"
    attempts, sessions = at.dataframe[0].value, at.dataframe[1].value
    expected = db.execute(
        "SELECT accepted, reason_code, ip, user_agent, score FROM login_attempts"
        " ORDER BY attempted_at DESC, id DESC"
    ).fetchall()
    assert list(attempts["verdict"]) == ["Accepted" if a["accepted"] else "Rejected" for a in expected]
    assert list(attempts["verdict"]) == ["Rejected", "Rejected", "Accepted"]
    assert list(attempts["reason"]) == ["Does not match", "Does not match", "Matches"]
    assert list(attempts["ip"]) == [a["ip"] for a in expected]
    # The device in words (these test strings name no known browser), the string sent on demand.
    assert list(attempts["device"]) == [devices.describe(a["user_agent"]) for a in expected]
    assert list(attempts["score"]) == pytest.approx([a["score"] for a in expected])
    # The latest attempt is chosen: its drawing beside the 5 enrolled signatures, its device as text.
    assert any(
        m.value.startswith("**Attempt of ") and "Rejected, does not match" in m.value for m in at.markdown
    )
    assert len(at.image) == 1 + 5 + 11  # the attempt, the signatures, the folded gallery of every drawing
    assert "Pixel Chrome" in [t.value for t in at.text]  # in the "As sent" popover
    # Every session, whatever became of it: the sign-up, three sign-ins, the cleaned-up sign-up.
    assert sorted(sessions["status"]) == ["Completed"] * 4 + ["Expired, cleaned up"]
    assert "2 of 11 steps" in list(sessions["steps"])
    # Two rejections in a row from one address: counted, not locked (tests/test_dashboard_sign_in_blocks.py).
    assert "Nothing stops this person from signing in." in [s.value for s in at.success]
    assert any(c.startswith("From 203\\.0\\.113\\.9: 2 rejected sign-ins in a row") for c in captions(at))

    # Another attempt chosen: its drawing replaces the latest's.
    at.text_input(key="person_search").input(person).run()  # by the session id of an attempt
    # The person, and that session chosen in their list, with its drawing.
    assert [s.value for s in at.subheader] == ["Frida\\_K", "Frida\\_K · Sign-in"]
    assert any("Found by the session id" in c for c in captions(at))
    assert at.metric and not at.exception

    at.text_input(key="person_search").input("nobody_here").run()
    assert any("Nobody is known as nobody\\_here" in i.value for i in at.info)


def test_an_attempt_whose_session_was_archived_says_its_drawing_is_gone(
    dashboard_env: str, db, person: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(
        "UPDATE temp_enrollments SET completed_at = NOW() - INTERVAL '2 days' WHERE flow_type = 'signin'"
    )
    db.execute(query("archive_completed_batch"), {"older_than_seconds": 3600, "batch_size": 100})
    at = signed_in_app(monkeypatch, "app_pages/people.py")
    at.text_input(key="person_search").input("frida_k").run()
    assert list(at.dataframe[0].value["drawing"]) == ["summary only"] * 3
    assert any("Not kept any more: its sign-in session was archived" in i.value for i in at.info)
    assert len(at.image) == 5 + 11  # the enrolled signatures and the gallery, no attempt drawing


# ------------------------------------------------------------------ client text stays text

HOSTILE = ["![x](http://attacker.example/pixel.png)", "<img src=x onerror=alert(1)>"]


def test_text_from_clients_is_never_rendered_as_markdown(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "".join(HOSTILE)
    session_id = add_session(db, username="to_be_replaced", steps=2)
    db.execute(
        "UPDATE temp_enrollments SET username = %s, device_info = %s, metadata = %s WHERE session_id = %s",
        (hostile, hostile, Jsonb({"ip": hostile}), session_id),
    )
    db.execute(
        "UPDATE temp_enrollment_steps SET instruction = %s, metrics = %s", (hostile, Jsonb({"x": hostile}))
    )
    at = signed_in_app(monkeypatch, "app_pages/sessions.py", staff_name=HOSTILE[1])
    at.text_input(key="drill_input").input(session_id).run()
    views = {"sessions": at}
    people = signed_in_app(monkeypatch, "app_pages/people.py", staff_name=HOSTILE[0])
    people.text_input(key="person_search").input(session_id).run()
    views["people"] = people
    for name, view in views.items():
        assert not view.exception, name
        rendered = [
            *(m.value for m in view.markdown),
            *(c.value for c in view.caption),
            *(s.value for s in view.subheader),
            *(i.value for i in view.info),
            *(w.value for w in view.warning),
        ]
        for payload in HOSTILE:
            # Markdown holds the text only escaped (and any URL broken): never a live link or image.
            assert not [text for text in rendered if payload in text or "http://" in text], name
        assert any(hostile in t.value for t in view.text), name  # shown as plain text
        assert [s.value for s in view.subheader][0].startswith("\\!\\[x\\]"), name
        # Every image on the page is a drawing from the database, none from a URL.
        assert all(isinstance(img.value[0], str) and "attacker" not in img.value[0] for img in view.image)
        assert len(view.image) == 2
