"""The dashboard's snapshot: figures over hundreds of thousands of rows (cards, charts, funnel,
cleanup/archive candidates), computed together in one consistent transaction (sql/snapshot.sql) about
once a minute and stored in dashboard_snapshots; readers take them from there in well under a
millisecond and carry the time they describe (taken_at). Measurements: docs/performance.md, section 2.
Figures about the past count the temporary tables and the summaries archive and cleanup leave in
enrollment_archive, so running those changes none of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..database import allow_long_transaction, catch_up, limits_of, writer_of
from ..maintenance import CLEANUP_JOB
from ..queries import query
from .rows import Db, connection, fetch

# What refresh_snapshot stores: these windows (the dashboard's choices of period, and the cards' 24 h);
# other windows are computed live (same SQL, slower on a large database).
SNAPSHOT_WINDOWS_HOURS: tuple[int, ...] = (6, 24, 72, 168)
CARD_WINDOW_HOURS = 24
ARCHIVE_DEFAULT_SECONDS = 24 * 3600
OVER_TIME_BUCKET_SECONDS = 300  # every chart bucket (5 min .. 105 min) is a multiple of it
BACKLOG_STORED_MAX_HOURS = 24 * 365
STEP_TIME_SAMPLE = 5000  # time per step: over the latest this many sessions of the window
SNAPSHOT_MAX_AGE_SECONDS = 60.0
# pg_advisory_xact_lock key: one snapshot refresh at a time across every dashboard instance.
SNAPSHOT_LOCK_KEY = 7_263_110_003


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default)


def snapshot_sources() -> list[tuple[str, str, dict[str, Any]]]:
    """(key, SQL of sql/snapshot.sql, parameters) of every stored figure."""
    return [
        (
            f"overview_by_flow:{CARD_WINDOW_HOURS}",
            query("snapshot_overview_by_flow"),
            {"hours": CARD_WINDOW_HOURS},
        ),
        (
            "active_sessions_over_time",
            query("snapshot_active_sessions_over_time"),
            {"hours": max(SNAPSHOT_WINDOWS_HOURS), "bucket_seconds": OVER_TIME_BUCKET_SECONDS},
        ),
        (
            "expiry_backlog_by_age",
            query("snapshot_expiry_backlog_by_age"),
            {"max_hours": BACKLOG_STORED_MAX_HOURS},
        ),
        ("step_funnel", query("snapshot_step_funnel"), {"windows": list(SNAPSHOT_WINDOWS_HOURS)}),
        (
            "avg_steps_per_flow",
            query("snapshot_avg_steps_per_flow"),
            {"windows": list(SNAPSHOT_WINDOWS_HOURS)},
        ),
        *(
            (
                f"step_durations:{hours}:{STEP_TIME_SAMPLE}",
                query("snapshot_step_durations"),
                {"hours": hours, "max_sessions": STEP_TIME_SAMPLE},
            )
            for hours in SNAPSHOT_WINDOWS_HOURS
        ),
        (
            f"maintenance_status:{ARCHIVE_DEFAULT_SECONDS}",
            query("snapshot_maintenance_status"),
            {"archive_older_than_seconds": ARCHIVE_DEFAULT_SECONDS, "cleanup_job": CLEANUP_JOB},
        ),
    ]


def refresh_snapshot(db: Db, wait: bool = True) -> bool:
    """Recompute and store every snapshot figure in one REPEATABLE READ transaction (one NOW(), one
    consistent view of the tables). With wait=False, returns False at once when another session is
    refreshing. About 3 s at 1 M sessions, 0.3 s at 100 k (docs/performance.md)."""
    with connection(db) as conn:
        # Inside a caller's transaction this is a savepoint of it (one NOW() all the same).
        own_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            if own_transaction:
                cur.execute(query("repeatable_read"))
            allow_long_transaction(conn, limits_of(db))  # seconds at 1 M sessions: not a request's limits
            if wait:
                cur.execute(query("advisory_xact_lock"), {"key": SNAPSHOT_LOCK_KEY})
            else:
                cur.execute(query("try_advisory_xact_lock"), {"key": SNAPSHOT_LOCK_KEY})
                row = cur.fetchone()
                if row is None or not row["ok"]:
                    return False
            store = query("store_snapshot")
            for key, sql, params in snapshot_sources():
                cur.execute(sql, params)
                rows = cur.fetchall()
                cur.execute(store, {"snapshot_key": key, "rows": Jsonb(rows, dumps=_dumps)})
            cur.execute(store, {"snapshot_key": "refreshed", "rows": Jsonb([])})
    return True


def ensure_snapshot(db: Db, max_age_seconds: float = SNAPSHOT_MAX_AGE_SECONDS) -> None:
    """Refresh the snapshot if there is none or it is older than max_age_seconds. When another session
    is already refreshing an existing snapshot, the current one is used rather than waiting. A pool
    reading from a standby reads the age there, refreshes on the primary (writer_of), and waits (at
    most 2 s) until the standby has the new figures."""
    rows = fetch(db, query("snapshot_age"))
    if not rows:
        refresh_snapshot(writer_of(db), wait=True)
        catch_up(db)
    elif rows[0]["age_seconds"] > max_age_seconds and refresh_snapshot(writer_of(db), wait=False):
        catch_up(db)


def stored(db: Db, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a snapshot reader (sql/dashboard.sql stored_*), refreshing a missing or stale snapshot
    first."""
    ensure_snapshot(db)
    return fetch(db, sql, params)


def live(db: Db, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A snapshot figure computed now (sql/snapshot.sql), for parameters the snapshot does not store."""
    now = datetime.now(UTC)
    return [{"taken_at": now, **r} for r in fetch(db, sql, params)]


def rows_as_of(rows: list[dict[str, Any]]) -> datetime | None:
    return rows[0]["taken_at"] if rows else None
