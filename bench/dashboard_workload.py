"""The dashboard's workload for the benchmarks: every query a page runs, with the parameters of its
default view, and every query of the background snapshot refresh."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from enrollment_core.maintenance import CLEANUP_JOB
from enrollment_core.monitoring import (
    ARCHIVE_DEFAULT_SECONDS,
    ATTEMPT_LIMIT,
    CARD_WINDOW_HOURS,
    COUNT_LIMIT,
    PEOPLE_MATCH_LIMIT,
    SESSION_LIMIT,
    STEP_TIME_SAMPLE,
    SessionFilter,
    StaffLogFilter,
)
from enrollment_core.monitoring.people import ATTEMPT_COUNT_LIMIT, PEOPLE_MATCH_CANDIDATES
from enrollment_core.monitoring.snapshot import snapshot_sources
from enrollment_core.monitoring.staff_log import STAFF_LOG_COUNT_LIMIT
from enrollment_core.queries import query


@dataclass(frozen=True)
class DashboardQuery:
    """A query the dashboard runs, with the parameters of its default view (for benchmarks)."""

    name: str
    sql: str
    params: dict[str, Any] | None


# The session id bench.sql's generate_sessions gives session number 42.
BENCH_SESSION_42 = "sess_bench" + f"{42:010d}" + hashlib.md5(b"42").hexdigest()


def dashboard_queries(hours: int = 24) -> list[DashboardQuery]:
    """Every query the dashboard runs on a refresh, as the default view runs it (24 h window, 15-minute
    buckets, default sessions filter). refresh_snapshot, which runs in the background about once a
    minute, is measured separately (snapshot_queries)."""
    page = SessionFilter().query_parameters()
    user_page = SessionFilter(username="user_42", order_by="expiring").query_parameters()
    # Sessions started in the last 7 days, ended ones too (the page's default range for those scopes).
    week = datetime.now(UTC) - timedelta(days=7)
    completed = SessionFilter(scope="completed", started_from=week).started_parameters()
    every_oldest = SessionFilter(scope="any", order_by="oldest", started_from=week).started_parameters()
    expired_user = SessionFilter(scope="expired", username="user_42", started_from=week).started_parameters()
    staff_log = StaffLogFilter().query_parameters()
    staff_log_filtered = StaffLogFilter(staff_name="sam", action="unlock_sign_in", page=2).query_parameters()
    return [
        DashboardQuery("snapshot_age", query("snapshot_age"), None),
        DashboardQuery("overview_by_flow", query("stored_overview_by_flow"), {"hours": CARD_WINDOW_HOURS}),
        DashboardQuery("live_sessions_by_flow", query("live_sessions_by_flow"), None),
        DashboardQuery("expired_pending_cleanup (seed)", query("expired_pending_cleanup"), None),
        DashboardQuery(
            "active_sessions_over_time",
            query("stored_active_sessions_over_time"),
            {"hours": hours, "bucket_seconds": 900},
        ),
        DashboardQuery("expiry_backlog_by_age", query("stored_expiry_backlog_by_age"), {"max_hours": 24}),
        DashboardQuery("avg_steps_per_flow", query("stored_avg_steps_per_flow"), {"hours": hours}),
        DashboardQuery("step_funnel", query("stored_step_funnel"), {"hours": hours, "flow_type": "signup"}),
        DashboardQuery(
            "step_durations",
            query("stored_step_durations"),
            {"hours": hours, "max_sessions": STEP_TIME_SAMPLE},
        ),
        DashboardQuery("in_progress_sessions_newest", query("in_progress_sessions_newest"), page),
        DashboardQuery(
            "in_progress_sessions_count",
            query("in_progress_sessions_count"),
            {**page, "count_limit": COUNT_LIMIT + 1},
        ),
        DashboardQuery("in_progress_sessions_oldest (live)", query("in_progress_sessions_oldest"), page),
        DashboardQuery(
            "in_progress_sessions_expiring (user filter)",
            query("in_progress_sessions_expiring"),
            user_page,
        ),
        DashboardQuery(
            "in_progress_sessions_count (user filter)",
            query("in_progress_sessions_count"),
            {**user_page, "count_limit": COUNT_LIMIT + 1},
        ),
        DashboardQuery("table_sizes", query("table_sizes"), None),
        DashboardQuery(
            "maintenance_status",
            query("stored_maintenance_status"),
            {"archive_older_than_seconds": ARCHIVE_DEFAULT_SECONDS, "cleanup_job": CLEANUP_JOB},
        ),
        # Sessions: ended ones too, in a date range (the console's Completed / Expired / All).
        DashboardQuery(
            "sessions_started_newest (completed, 7 days)", query("sessions_started_newest"), completed
        ),
        DashboardQuery(
            "sessions_started_count (completed, 7 days)",
            query("sessions_started_count"),
            {**completed, "count_limit": COUNT_LIMIT + 1},
        ),
        DashboardQuery(
            "sessions_started_oldest (all, 7 days)", query("sessions_started_oldest"), every_oldest
        ),
        DashboardQuery(
            "sessions_started_newest (expired, user filter)", query("sessions_started_newest"), expired_user
        ),
        DashboardQuery(
            "sessions_started_count (expired, user filter)",
            query("sessions_started_count"),
            {**expired_user, "count_limit": COUNT_LIMIT + 1},
        ),
        # The staff log: its first page, and a filtered second page.
        DashboardQuery("staff_log_page", query("staff_log_page"), staff_log),
        DashboardQuery(
            "staff_log_count",
            query("staff_log_count"),
            {**staff_log, "count_limit": STAFF_LOG_COUNT_LIMIT + 1},
        ),
        DashboardQuery("staff_log_page (filtered, page 2)", query("staff_log_page"), staff_log_filtered),
        # People by part of a name: a rare part, a common one (every tenth name), a start of a name.
        *[
            DashboardQuery(
                f"people_matching ({label})",
                query("people_matching"),
                {"part": part, "candidates": PEOPLE_MATCH_CANDIDATES, "limit": PEOPLE_MATCH_LIMIT},
            )
            for label, part in (
                ("rare part", "user_4242"),
                ("common part", "user_4"),
                ("no match", "maria"),
                ("start, 2 characters", "be"),
            )
        ],
        # People: one person (the generator's user_42), found by name or by a session id.
        DashboardQuery("session_owner", query("session_owner"), {"session_id": BENCH_SESSION_42}),
        DashboardQuery("session_summary", query("session_summary"), {"session_id": BENCH_SESSION_42}),
        DashboardQuery("person_account", query("person_account"), {"username": "bench_user_42"}),
        DashboardQuery(
            "person_sessions", query("person_sessions"), {"username": "bench_user_42", "limit": SESSION_LIMIT}
        ),
        DashboardQuery(
            "person_sign_in_attempts",
            query("person_sign_in_attempts"),
            {"user_id": 1, "limit": ATTEMPT_LIMIT},
        ),
        DashboardQuery(
            "person_sign_in_attempt_count",
            query("person_sign_in_attempt_count"),
            {"user_id": 1, "count_limit": ATTEMPT_COUNT_LIMIT + 1},
        ),
        DashboardQuery("person_enrolled_drawings", query("person_enrolled_drawings"), {"user_id": 1}),
    ]


def snapshot_queries() -> list[DashboardQuery]:
    """The queries refresh_snapshot runs (in one transaction), for benchmarks."""
    return [DashboardQuery(key, sql, params) for key, sql, params in snapshot_sources()]
