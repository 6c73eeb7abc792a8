"""Statistics that cleanup and archive cannot change (issue 15, item 2): every session they remove leaves
its summary in enrollment_archive in the same statement, and every figure about the past counts the
temporary tables plus the summaries. The staff log records who ran what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from bench import datagen
from enrollment_core import monitoring
from enrollment_core.errors import ValidationError
from enrollment_core.monitoring.snapshot import snapshot_sources
from enrollment_core.queries import query
from enrollment_core.staff import StaffActions, clean_staff_name
from tests.flows import draw_signin, draw_signup, expire, register_user
from tests.test_dashboard_app import add_session

# Present-state figures: what cleanup would delete and archive would move. They change by definition.
PRESENT_STATE_KEYS = {"expiry_backlog_by_age", "maintenance_status:86400"}
PRESENT_STATE_COLUMNS = {"backlog_in_progress", "backlog_marked_expired"}


def history_data(db: psycopg.Connection) -> None:
    """A week of every state in both flows (bench generator) plus hand-built sessions at each edge: an
    expired one still 'in_progress', one marked 'expired', completed ones on both sides of the archive
    cut-off, live ones."""
    datagen.insert_sessions(db, 1, 600)
    add_session(db, username="live_up", steps=3)
    add_session(db, username="live_in", flow="signin", steps=1)
    add_session(db, username="late", steps=4, started_ago=timedelta(hours=3))
    add_session(db, username="late_marked", status="expired", steps=2, started_ago=timedelta(hours=20))
    add_session(db, username="done_old", status="completed", steps=11, started_ago=timedelta(hours=30))
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=1))


def every_figure(cur: psycopg.Cursor[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every figure the snapshot stores, computed now on this cursor (inside the caller's transaction)."""
    figures = {}
    for key, sql, params in snapshot_sources():
        figures[key] = cur.execute(sql, params).fetchall()
    return figures


def without_present_state(figures: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        key: [{k: v for k, v in row.items() if k not in PRESENT_STATE_COLUMNS} for row in rows]
        for key, rows in figures.items()
        if key not in PRESENT_STATE_KEYS
    }


def test_every_figure_about_the_past_is_unchanged_by_cleanup_and_archive(db) -> None:
    history_data(db)
    # One transaction: one NOW() for every statement, so the figures can be compared exactly.
    with db.transaction(force_rollback=True), db.cursor() as cur:
        before = every_figure(cur)
        removed = cur.execute("SELECT cleanup_expired_enrollments() AS n").fetchone()["n"]
        moved = cur.execute(
            query("archive_completed_batch"), {"older_than_seconds": 0, "batch_size": 100_000}
        ).rowcount
        # Left: sessions in progress, and completions the generator stamped in the coming minutes.
        left = cur.execute(
            "SELECT count(*) AS n FROM temp_enrollments"
            " WHERE status <> 'in_progress' AND completed_at < NOW()"
        )
        assert left.fetchone()["n"] == 0
        after = every_figure(cur)
    assert removed > 50 and moved > 100  # the generator's mix gives both plenty of work
    assert before["expiry_backlog_by_age"] and not after["expiry_backlog_by_age"]  # the backlog is gone
    assert without_present_state(after) == without_present_state(before)
    # And the figures are not trivially empty.
    overview = {r["flow_type"]: r for r in before["overview_by_flow:24"]}
    assert overview["signup"]["ended_abandoned"] > 0 and overview["signup"]["ended_completed"] > 0
    assert before["step_durations:168:5000"] and before["step_funnel"] and before["avg_steps_per_flow"]
    assert any(r["live"] for r in before["active_sessions_over_time"])


def test_cleanup_folds_each_session_into_its_summary(service, db) -> None:
    gone = draw_signup(service, "alice_gone", steps=3)
    expire(db, gone)
    steps = db.execute(
        """SELECT EXTRACT(EPOCH FROM s.completed_at - COALESCE(
                      lag(s.completed_at) OVER (ORDER BY s.step_number), te.created_at)) AS seconds
           FROM temp_enrollments te JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
           WHERE te.session_id = %s ORDER BY s.step_number""",
        (gone,),
    ).fetchall()
    session = db.execute("SELECT * FROM temp_enrollments WHERE session_id = %s", (gone,)).fetchone()
    # The design note's own call folds too.
    assert db.execute("SELECT cleanup_expired_enrollments() AS n").fetchone()["n"] == 1
    summary = db.execute("SELECT * FROM enrollment_archive WHERE session_id = %s", (gone,)).fetchone()
    assert summary["outcome"] == "expired" and summary["completed_at"] is None
    assert (summary["username"], summary["flow_type"], summary["step_count"]) == ("alice_gone", "signup", 3)
    assert summary["created_at"] == session["created_at"]
    assert summary["expires_at"] == summary["ended_at"] == session["expires_at"]
    assert summary["last_activity_at"] == session["updated_at"]
    assert summary["step_seconds"] == [r["seconds"] for r in steps]
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 0


def test_archive_keeps_the_summary_of_a_completed_session(service, db) -> None:
    session_id = register_user(service, "bruno_done")
    db.execute(
        "UPDATE temp_enrollments SET completed_at = NOW() - interval '2 days' WHERE session_id = %s",
        (session_id,),
    )
    session = db.execute("SELECT * FROM temp_enrollments WHERE session_id = %s", (session_id,)).fetchone()
    assert service.archive_completed(24 * 3600) == 1
    summary = db.execute("SELECT * FROM enrollment_archive WHERE session_id = %s", (session_id,)).fetchone()
    assert summary["outcome"] == "completed" and summary["step_count"] == 11
    assert summary["completed_at"] == summary["ended_at"] == session["completed_at"]
    assert len(summary["step_seconds"]) == 11 and summary["step_seconds"][0] == 0  # step 1 starts it


def test_the_figures_the_dashboard_reads_are_unchanged_by_staff_cleanup_and_archive(service, db) -> None:
    history_data(db)
    pool = service.pool
    monitoring.refresh_snapshot(pool)

    def figures() -> dict[str, Any]:
        overview = monitoring.overview(pool)
        return {
            "cards": {
                flow: (f.live, f.completed_recent, f.ended_completed, f.ended_abandoned, f.completion_rate)
                for flow, f in overview.by_flow.items()
            },
            "funnel": {
                (hours, flow): monitoring.step_funnel(pool, hours, flow)["sessions"].tolist()
                for hours in monitoring.SNAPSHOT_WINDOWS_HOURS
                for flow in ("signup", "signin")
            },
            "durations": monitoring.step_durations(pool, 168).drop(columns="instruction").to_dict("records"),
            "avg_steps": monitoring.avg_steps_per_flow(pool, 168).to_dict("records"),
            "over_time": monitoring.active_over_time(pool, 168, 60),
        }

    before = figures()
    staff = StaffActions(service, "Dana from support")
    assert staff.run_cleanup() > 0
    assert staff.run_archive(0) > 0
    after = figures()
    for name in ("cards", "funnel", "durations", "avg_steps"):
        assert after[name] == before[name], name
    # The chart's grid moves with the clock: compare the hours both drew (the last point is "now").
    common = before["over_time"].merge(after["over_time"], on=["at", "flow_type"], suffixes=("_b", "_a"))
    common = common[common["at"] < common["at"].max()]
    assert len(common) > 300 and (common["live_b"] == common["live_a"]).all()
    assert common["live_b"].sum() > 0

    log = monitoring.staff_log(pool)
    assert list(log["action"]) == ["archive", "cleanup"]
    assert set(log["staff_name"]) == {"Dana from support"} and log["succeeded"].all()
    assert log["result"].iloc[0]["older_than_seconds"] == 0 and log["result"].iloc[0]["moved"] > 0
    assert log["result"].iloc[1]["removed"] > 0


def test_a_failed_staff_action_is_logged_with_its_error(service, db) -> None:
    expire(db, draw_signup(service, "carl_stuck", steps=1))
    # A real refusal by PostgreSQL (a trigger), not a stand-in for the database.
    db.execute(
        """CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'deletes are refused in this test'; END; $$"""
    )
    db.execute(
        "CREATE TRIGGER refuse BEFORE DELETE ON temp_enrollments"
        " FOR EACH ROW EXECUTE FUNCTION refuse_delete()"
    )
    with pytest.raises(psycopg.errors.RaiseException):
        StaffActions(service, "  Eve   Ops ").run_cleanup()
    log = monitoring.staff_log(service.pool)
    assert len(log) == 1 and log["staff_name"].iloc[0] == "Eve Ops" and not log["succeeded"].iloc[0]
    assert "deletes are refused in this test" in log["result"].iloc[0]["error"]
    assert db.execute("SELECT count(*) AS n FROM enrollment_archive").fetchone()["n"] == 0  # rolled back


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 101, "at most 100"),
        ("bad\x00name", "control"),
        (None, "text"),
    ],
)
def test_staff_name_is_required_and_plain(name: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as info:
        clean_staff_name(name)
    assert info.value.field == "staff_name"


def test_a_person_is_found_by_name_or_session_with_every_session_and_attempt(service, db) -> None:
    enrolled = register_user(service, "Frida_K")
    service.login("frida_k", draw_signin(service, "Frida_K"))  # the same hand: accepted
    rejected = draw_signin(service, "FRIDA_K", person="mallory")
    service.login("frida_k", rejected)
    # An earlier signup under the same name that ran out of time, cleaned up: only its summary is left.
    abandoned = add_session(db, username="FRIDA_k", steps=2, started_ago=timedelta(days=2))
    assert service.cleanup_expired() == 1

    person = monitoring.find_person(service.pool, "  fRiDa_k ")
    assert person is not None and person.account is not None
    assert person.username == "Frida_K" and person.account.enrolled_drawings == 11
    statuses = dict(zip(person.sessions["session_id"], person.sessions["status"]))
    assert statuses[enrolled] == "completed" and statuses[abandoned] == "expired"
    summary = person.sessions.set_index("session_id").loc[abandoned]
    assert summary["summary_only"] and summary["step_count"] == 2 and summary["total_steps"] == 11
    assert len(person.sessions) == 4  # signup, two sign-ins, the abandoned signup
    attempts = person.attempts
    assert list(attempts["accepted"]) == [False, True] and attempts["session_id"].iloc[0] == rejected
    assert attempts["drawing_kept"].all() and person.attempt_total == 2

    by_session = monitoring.find_person(service.pool, rejected)
    assert by_session is not None and by_session.username == "Frida_K"
    assert by_session.searched_session_id == rejected
    # The summary of a cleaned-up session still leads to its person.
    assert monitoring.find_person(service.pool, abandoned).username == "Frida_K"
    assert monitoring.find_person(service.pool, "nobody_here") is None
    assert monitoring.find_person(service.pool, "sess_" + "z" * 32) is None
    assert monitoring.find_person(service.pool, "   ") is None
    with pytest.raises(ValueError, match="search must be at most 255"):
        monitoring.find_person(service.pool, "x" * 256)
    drawings = monitoring.enrolled_drawings(service.pool, person.account.user_id)
    assert [d.step_number for d in drawings] == list(range(1, 12))
    assert all(d.image and d.image.startswith(b"\x89PNG") for d in drawings)
