"""The dashboard at scale (migration 0006): step_count is exact, the snapshot's figures equal independent
SQL over the same rows, readers refresh a stale snapshot, and the bounded sessions page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bench import datagen
from enrollment_core import monitoring
from enrollment_core.demo_data import seed_demo_data
from enrollment_core.monitoring import snapshot
from enrollment_core.queries import query
from enrollment_core.sample_drawings import sample_drawing
from tests.flows import draw_signin, draw_signup, expire, register_user
from tests.monitoring_support import snapshot_time
from tests.test_dashboard_app import add_session

# Any session whose step_count differs from its real number of steps.
WRONG_STEP_COUNTS = """
SELECT te.session_id, te.step_count,
       (SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = te.id) AS real
FROM temp_enrollments te
WHERE te.step_count <> (SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = te.id)
"""


def test_step_count_is_exact_after_saves_retries_and_cleanup(service, db) -> None:
    partial = draw_signup(service, "alice_sc", steps=4)
    complete = draw_signup(service, "bruno_sc")
    register_user(service, "chloe_sc")
    draw_signin(service, "chloe_sc")
    # Retries of a saved step (the same content) are no-ops: step_count does not move.
    assert service.save_drawing(sample_drawing("alice_sc", 4, session_id=partial)).duplicate
    assert service.save_drawing(sample_drawing("alice_sc", 1)).duplicate  # a first step sent twice
    # The same step sent twice at the same instant by two clients: one write, one duplicate.
    results = []
    payload = sample_drawing("alice_sc", 5, session_id=partial)
    threads = [threading.Thread(target=lambda: results.append(service.save_drawing(payload))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in results) == [False, True]
    assert db.execute(WRONG_STEP_COUNTS).fetchall() == []
    counts = {
        r["session_id"]: r["step_count"]
        for r in db.execute("SELECT session_id, step_count FROM temp_enrollments").fetchall()
    }
    assert counts[partial] == 5 and counts[complete] == 11

    expire(db, partial)
    assert service.cleanup_expired() == 1
    assert db.execute(WRONG_STEP_COUNTS).fetchall() == []


def test_step_count_of_demo_data_and_bench_data(pool_db) -> None:
    pool, db = pool_db
    seed_demo_data(pool, sessions=40)
    datagen.insert_sessions(db, 1, 200)
    assert db.execute(WRONG_STEP_COUNTS).fetchall() == []


@pytest.fixture
def pool_db(db_url, db):
    from enrollment_core.config import Settings
    from enrollment_core.database import create_pool

    pool = create_pool(db_url, Settings(database_url=db_url, pool_min_size=1, pool_max_size=2))
    try:
        yield pool, db
    finally:
        pool.close()


def _mixed_data(db) -> None:
    """Every state in both flows, spread over a week (bench generator), plus hand-built sessions."""
    datagen.insert_sessions(db, 1, 600)
    add_session(db, username="live_up", steps=3)
    add_session(db, username="late", steps=2, started_ago=timedelta(hours=3))
    add_session(db, username="late_marked", status="expired", started_ago=timedelta(hours=40))
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=1))


def test_snapshot_figures_equal_the_live_queries(db) -> None:
    _mixed_data(db)
    monitoring.refresh_snapshot(db)
    taken_at = snapshot_time(db)
    # Each stored figure against its own query run now: equal, since nothing changed meanwhile (the
    # windows move by the milliseconds between the two; the data has no session that close to an edge).
    for hours in monitoring.SNAPSHOT_WINDOWS_HOURS:
        for flow in ("signup", "signin"):
            stored = monitoring.step_funnel(db, hours, flow)
            live = snapshot.live(db, query("snapshot_step_funnel"), {"windows": [hours]})
            reached = {r["step_number"]: r["sessions"] for r in live if r["flow_type"] == flow}
            assert list(stored["sessions"]) == [reached.get(k, 0) for k in stored["step_number"]]
    ov = monitoring.overview(db)
    assert ov.as_of == taken_at
    live = {r["flow_type"]: r for r in snapshot.live(db, query("snapshot_overview_by_flow"), {"hours": 24})}
    for flow, figures in ov.by_flow.items():
        assert figures.completed_recent == live[flow]["completed_recent"]
        assert (figures.ended_completed, figures.ended_abandoned) == (
            live[flow]["ended_completed"],
            live[flow]["ended_abandoned"],
        )
        assert figures.backlog_in_progress == live[flow]["backlog_in_progress"]
        assert figures.live == live[flow]["live"]  # the card's live count is read now, by its own query


def test_funnel_from_step_count_equals_counting_the_steps(db) -> None:
    _mixed_data(db)
    for hours in (6, 24, 168):
        expected = {
            r["step_number"]: r["n"]
            for r in db.execute(
                """SELECT s.step_number, count(*) AS n
                   FROM temp_enrollments te JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
                   WHERE te.flow_type = 'signup' AND te.created_at >= NOW() - make_interval(hours => %s)
                   GROUP BY 1""",
                (hours,),
            ).fetchall()
        }
        funnel = monitoring.step_funnel(db, hours, "signup")
        assert list(funnel["sessions"]) == [expected.get(k, 0) for k in funnel["step_number"]]


def test_avg_steps_equals_the_seed_query(db) -> None:
    _mixed_data(db)  # every completed session started within the last 2 days
    seed = {r["flow_type"]: float(r["avg_steps"]) for r in db.execute(query("avg_steps_per_flow")).fetchall()}
    stored = monitoring.avg_steps_per_flow(db, 72).set_index("flow_type")["avg_steps"].to_dict()
    assert stored == pytest.approx(seed)


@pytest.mark.parametrize(("hours", "bucket_minutes"), [(6, 5), (24, 15), (72, 45), (168, 105)])
def test_coarse_chart_buckets_from_the_5_minute_snapshot_equal_the_query(db, hours, bucket_minutes) -> None:
    _mixed_data(db)
    monitoring.refresh_snapshot(db)
    stored = monitoring.active_over_time(db, hours, bucket_minutes)
    # The same query with the coarse bucket, evaluated at the snapshot's time.
    taken_at = snapshot_time(db)
    with db.transaction(force_rollback=True):
        rows = db.execute(
            query("snapshot_active_sessions_over_time").replace("NOW()", "%(at)s::timestamptz"),
            {"hours": hours, "bucket_seconds": bucket_minutes * 60, "at": taken_at},
        ).fetchall()
    assert [(r["at"], r["flow_type"], r["live"]) for r in rows] == list(
        stored[["at", "flow_type", "live"]].itertuples(index=False, name=None)
    )


def test_backlog_capped_again_equals_capping_once(db) -> None:
    _mixed_data(db)
    for cap in (3, 24):
        expected = [
            (r["hours_overdue"], r["flow_type"], r["status"], r["sessions"])
            for r in snapshot.live(db, query("snapshot_expiry_backlog_by_age"), {"max_hours": cap})
        ]
        frame = monitoring.expiry_backlog(db, cap)
        assert list(frame.itertuples(index=False, name=None)) == expected


def test_a_stale_snapshot_is_refreshed_by_the_reader(db) -> None:
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=1))
    assert monitoring.overview(db).total.completed_recent == 1
    add_session(db, username="done2", status="completed", steps=11, started_ago=timedelta(hours=1))
    # Within SNAPSHOT_MAX_AGE_SECONDS the stored figure is shown (with its time) ...
    assert monitoring.overview(db).total.completed_recent == 1
    db.execute("UPDATE dashboard_snapshots SET taken_at = taken_at - interval '1 hour'")
    # ... and once it is older, the next reader recomputes it.
    assert monitoring.overview(db).total.completed_recent == 2


def test_maintenance_status_for_another_cut_off_is_counted_now(db) -> None:
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=30))
    add_session(db, username="recent", status="completed", steps=11, started_ago=timedelta(hours=2))
    assert monitoring.maintenance_status(db).archive_candidates == 1  # default: older than 24 h
    assert monitoring.maintenance_status(db, 3600).archive_candidates == 2


def test_sessions_page_count_is_capped(db, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [add_session(db, username=f"user_{i}", started_ago=timedelta(minutes=10 + i)) for i in range(4)]
    monkeypatch.setattr(monitoring.sessions, "COUNT_LIMIT", 2)
    page = monitoring.in_progress_sessions(db, monitoring.SessionFilter(limit=3))
    assert list(page.rows["session_id"]) == ids[:3]
    assert page.total_matching == 3 and page.total_is_lower_bound  # "more than 2"
    assert list(page.rows["steps_completed"]) == [2, 2, 2]


def test_table_sizes_are_exact_on_small_tables(db) -> None:
    add_session(db, username="user_x", steps=2)
    sizes = monitoring.table_sizes(db).set_index("table_name")
    assert not sizes["row_count_is_estimate"].any()
    assert sizes.loc["temp_enrollment_steps", "row_count"] == 2
