"""The dashboard's workload for the benchmarks: every query a page runs, with the parameters of its
default view, and every query of the background snapshot refresh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enrollment_core.maintenance import CLEANUP_JOB
from enrollment_core.monitoring import (
    ARCHIVE_DEFAULT_SECONDS,
    CARD_WINDOW_HOURS,
    COUNT_LIMIT,
    STEP_TIME_SAMPLE,
    SessionFilter,
)
from enrollment_core.monitoring.snapshot import snapshot_sources
from enrollment_core.queries import query


@dataclass(frozen=True)
class DashboardQuery:
    """A query the dashboard runs, with the parameters of its default view (for benchmarks)."""

    name: str
    sql: str
    params: dict[str, Any] | None


def dashboard_queries(hours: int = 24) -> list[DashboardQuery]:
    """Every query the dashboard runs on a refresh, as the default view runs it (24 h window, 15-minute
    buckets, default sessions filter). refresh_snapshot, which runs in the background about once a
    minute, is measured separately (snapshot_queries)."""
    page = SessionFilter().query_parameters()
    user_page = SessionFilter(username="user_42", order_by="expiring").query_parameters()
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
        DashboardQuery(
            "step_funnel", query("stored_step_funnel"), {"hours": hours, "flow_type": "signup"}
        ),
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
        DashboardQuery(
            "in_progress_sessions_oldest (live)", query("in_progress_sessions_oldest"), page
        ),
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
    ]


def snapshot_queries() -> list[DashboardQuery]:
    """The queries refresh_snapshot runs (in one transaction), for benchmarks."""
    return [DashboardQuery(key, sql, params) for key, sql, params in snapshot_sources()]
