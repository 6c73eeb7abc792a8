"""enrollment_core.monitoring against a real database: each figure equals what plain SQL (or the
hand-built rows) says."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from bench import dashboard_workload, datagen
from enrollment_core import monitoring, step_plan
from enrollment_core.queries import query
from enrollment_core.sample_drawings import sample_drawing
from tests.monitoring_support import decode_data_url, seed_active_sessions
from tests.test_dashboard_app import add_session


def test_overview_counts_each_state_by_flow(db) -> None:
    add_session(db, username="live_up", steps=3)
    add_session(db, username="live_in", flow="signin", steps=1)
    add_session(db, username="late", steps=2, started_ago=timedelta(hours=3))
    add_session(db, username="late_marked", status="expired", started_ago=timedelta(hours=4))
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=1))
    add_session(db, username="done_old", status="completed", steps=11, started_ago=timedelta(hours=30))

    ov = monitoring.overview(db)
    up, signin = ov.by_flow["signup"], ov.by_flow["signin"]
    assert (up.live, signin.live) == (1, 1)
    assert (up.backlog_in_progress, up.backlog_marked_expired, up.backlog) == (1, 1, 2)
    assert (
        ov.seed_expired_pending_cleanup
        == db.execute(query("expired_pending_cleanup")).fetchone()["count"]
        == 1
    )
    assert up.completed_recent == 1  # done_old completed 30 h ago
    # Started in the last 24 h and ended: done (completed), late and late_marked (abandoned).
    assert (up.ended_completed, up.ended_abandoned) == (1, 2)
    assert up.completion_rate == pytest.approx(1 / 3)
    assert signin.completion_rate is None  # nothing ended yet
    assert ov.total.live == 2 and ov.total.backlog == 2


def test_overview_of_an_empty_database(db) -> None:
    ov = monitoring.overview(db)
    assert ov.total.live == ov.total.backlog == ov.total.completed_recent == 0
    assert ov.total.completion_rate is None
    assert set(ov.by_flow) == {"signup", "signin"}


def test_active_over_time_ends_at_the_live_count(db) -> None:
    add_session(db, username="user_a", started_ago=timedelta(minutes=50))
    add_session(db, username="user_b", started_ago=timedelta(minutes=20))
    add_session(db, username="user_c", flow="signin", steps=1, started_ago=timedelta(minutes=5))
    add_session(db, username="gone", started_ago=timedelta(hours=5))  # live from -5 h to -3 h
    frame = monitoring.active_over_time(db, hours=6, bucket_minutes=15)
    last = frame[frame["at"] == frame["at"].max()].set_index("flow_type")["live"]
    assert (last["signup"], last["signin"]) == (2, 1)
    signup = frame[frame["flow_type"] == "signup"]
    assert signup["live"].max() == 2 and (signup["live"] >= 0).all()
    # Four hours ago only "gone" was live.
    four_h = signup[signup["at"] <= signup["at"].max() - timedelta(hours=4)].iloc[-1]
    assert four_h["live"] == 1


def test_expiry_backlog_by_age(db) -> None:
    add_session(db, username="user_x", started_ago=timedelta(hours=2, minutes=30))  # expired 30 min ago
    add_session(db, username="user_y", status="expired", started_ago=timedelta(hours=40))  # capped
    frame = monitoring.expiry_backlog(db, max_hours=24)
    assert frame.to_dict("records") == [
        {"hours_overdue": 0, "flow_type": "signup", "status": "in_progress", "sessions": 1},
        {"hours_overdue": 24, "flow_type": "signup", "status": "expired", "sessions": 1},
    ]


def test_step_funnel_lists_every_plan_step(db) -> None:
    add_session(db, username="user_a", steps=2)
    add_session(db, username="user_b", steps=4)
    add_session(db, username="user_c", status="completed", steps=11, started_ago=timedelta(hours=1))
    add_session(db, username="old", steps=5, started_ago=timedelta(hours=30))  # outside the window
    funnel = monitoring.step_funnel(db, hours=24)
    assert list(funnel["instruction"]) == [s.instruction for s in step_plan.steps_of("signup")]
    assert list(funnel["sessions"]) == [3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert list(funnel["lost_from_previous"]) == [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    assert funnel["share_of_started"].iloc[2] == pytest.approx(2 / 3)


def test_step_durations_from_consecutive_saves(db) -> None:
    # add_session saves step k at created + 30 s * k: every step takes 30 s. Step 1 is left out: a session
    # the service creates starts when step 1 is saved, so nothing times it.
    add_session(db, username="user_a", steps=3)
    add_session(db, username="user_b", steps=2)
    frame = monitoring.step_durations(db, hours=24)
    assert list(frame["step_number"]) == [2, 3] and list(frame["samples"]) == [2, 1]
    assert frame["median_seconds"].tolist() == pytest.approx([30, 30])
    assert frame["instruction"].iloc[0] == step_plan.step_of("signup", 2).instruction


def test_avg_steps_per_flow_is_the_seed_query_over_the_window(db) -> None:
    add_session(db, username="user_a", status="completed", steps=11)
    add_session(db, username="user_b", status="completed", steps=10)  # a plan that had one step less
    add_session(db, username="user_s", flow="signin", status="completed", steps=1)
    add_session(db, username="user_old", status="completed", steps=5, started_ago=timedelta(hours=30))
    frame = monitoring.avg_steps_per_flow(db).set_index("flow_type")
    assert frame.loc["signup", "avg_steps"] == 10.5 and frame.loc["signin", "avg_steps"] == 1
    assert frame.loc["signup", "plan_steps"] == 11 and frame.loc["signup", "sessions"] == 2
    week = monitoring.avg_steps_per_flow(db, 168).set_index("flow_type")
    assert week.loc["signup", "avg_steps"] == pytest.approx(26 / 3)
    # Another window is computed live, with the same result as the seed's query over the same rows.
    seed = {r["flow_type"]: float(r["avg_steps"]) for r in db.execute(query("avg_steps_per_flow")).fetchall()}
    assert monitoring.avg_steps_per_flow(db, 48).set_index("flow_type")["avg_steps"].to_dict() == seed


def test_sessions_page_is_bounded_filtered_and_ordered(db) -> None:
    ids = [add_session(db, username=f"user_{i}", started_ago=timedelta(minutes=10 + i)) for i in range(5)]
    overdue = add_session(db, username="user_late", started_ago=timedelta(hours=3))
    page = monitoring.in_progress_sessions(db, monitoring.SessionFilter(limit=3))
    assert list(page.rows["session_id"]) == ids[:3] and page.total_matching == 5 and page.truncated
    oldest = monitoring.in_progress_sessions(db, monitoring.SessionFilter(order_by="oldest"))
    assert list(oldest.rows["session_id"]) == ids[::-1]
    expiring = monitoring.in_progress_sessions(db, monitoring.SessionFilter(order_by="expiring"))
    assert list(expiring.rows["session_id"]) == ids[::-1]
    by_name = monitoring.in_progress_sessions(db, monitoring.SessionFilter(username=" USER_3 "))
    assert list(by_name.rows["session_id"]) == [ids[3]]
    late = monitoring.in_progress_sessions(db, monitoring.SessionFilter(scope="overdue"))
    assert list(late.rows["session_id"]) == [overdue] and late.rows["expires_in_seconds"].iloc[0] < 0
    everything = monitoring.in_progress_sessions(db, monitoring.SessionFilter(scope="all"))
    seed = seed_active_sessions(db)
    assert sorted(everything.rows["username"]) == sorted(seed["username"])
    assert monitoring.in_progress_sessions(db, monitoring.SessionFilter(flow_type="signin")).rows.empty


def test_session_filter_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="scope"):
        monitoring.SessionFilter(scope="everything")
    with pytest.raises(ValueError, match="limit"):
        monitoring.SessionFilter(limit=0)
    with pytest.raises(ValueError, match="flow_type"):
        monitoring.SessionFilter(flow_type="signout")
    assert monitoring.SessionFilter(username="   ").username is None


def test_session_detail_has_every_step_with_its_png(db) -> None:
    session_id = add_session(db, username="detail", steps=3)
    detail = monitoring.session_detail(db, session_id)
    assert detail is not None and detail.username == "detail" and detail.status == "in_progress"
    assert [s.step_number for s in detail.steps] == [1, 2, 3]
    assert all(
        s.image and s.image.startswith(b"\x89PNG") and s.image_mime == "image/png" for s in detail.steps
    )
    assert detail.steps[0].metrics and detail.steps[1].seconds_spent == pytest.approx(30)
    assert monitoring.session_detail(db, "sess_" + "n" * 32) is None


def test_decode_data_url() -> None:
    png = sample_drawing("ada", 1).signature
    assert decode_data_url(png) == ("image/png", base64.b64decode(png.split(",", 1)[1]))
    assert decode_data_url("data:image/png;base64,aGk=") is None  # "hi" is no PNG
    assert decode_data_url("data:image/png;base64,%%%") is None
    assert decode_data_url("not a data url") is None


def test_table_sizes_and_maintenance_status(db) -> None:
    add_session(db, username="user_x", steps=2, started_ago=timedelta(hours=3))
    add_session(db, username="done", status="completed", steps=11, started_ago=timedelta(hours=30))
    sizes = monitoring.table_sizes(db).set_index("table_name")
    assert sizes.loc["temp_enrollments", "row_count"] == 2
    assert sizes.loc["temp_enrollment_steps", "row_count"] == 13
    assert (sizes["total_bytes"] >= sizes["heap_bytes"]).all()
    status = monitoring.maintenance_status(db)
    assert (status.cleanup_candidates, status.archive_candidates) == (1, 1)
    assert status.last_cleanup_at is None


def test_bench_generator_makes_a_consistent_mix(db) -> None:
    assert datagen.insert_sessions(db, 1, 300) == 300
    steps = db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"]
    assert 300 <= steps <= 300 * 11
    bad = db.execute(
        """SELECT count(*) AS n FROM temp_enrollments te
           WHERE (status = 'completed' AND (SELECT count(*) FROM temp_enrollment_steps s
                                            WHERE s.enrollment_id = te.id)
                                           <> (SELECT count(*) FROM enrollment_step_plan p
                                               WHERE p.flow_type = te.flow_type))
              OR (status = 'in_progress' AND expires_at > NOW()
                  AND EXISTS (SELECT 1 FROM temp_enrollment_steps s
                              WHERE s.enrollment_id = te.id AND s.completed_at > NOW()))"""
    ).fetchone()["n"]
    assert bad == 0
    for q in dashboard_workload.dashboard_queries():  # every dashboard query runs on it
        db.execute(q.sql, q.params).fetchall()
