"""Figures for the operations dashboard: live sessions, the expiry backlog, completions, drop-off, step
times, one session's drawings, table sizes.

Every function takes a connection pool or a psycopg connection and returns pandas DataFrames or small
dataclasses; the SQL is in sql/dashboard.sql (and the seed's monitoring queries in sql/queries.sql).

Figures that aggregate hundreds of thousands of rows (cards, charts, funnel, cleanup/archive candidates)
are computed together by refresh_snapshot (sql/dashboard_snapshot.sql, one consistent transaction) and
stored in dashboard_snapshots; readers take them from there (well under a millisecond) and carry the
time they describe (`as_of`). A reader refreshes a snapshot older than SNAPSHOT_MAX_AGE_SECONDS itself;
the dashboard also refreshes it in the background. The live-session count and every per-session or
bounded query run live. Measurements: docs/performance.md, section 2.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from . import step_plan
from .config import SQL_DIR
from .maintenance import CLEANUP_JOB
from .queries import load, query
from .service import effective_status

DASHBOARD_SQL = SQL_DIR / "dashboard.sql"
SNAPSHOT_SQL = SQL_DIR / "dashboard_snapshot.sql"

Db = ConnectionPool | psycopg.Connection
Scope = Literal["live", "overdue", "all"]
OrderBy = Literal["newest", "oldest", "expiring"]

SCOPES: tuple[Scope, ...] = ("live", "overdue", "all")
ORDERS: tuple[OrderBy, ...] = ("newest", "oldest", "expiring")
MAX_PAGE_ROWS = 5000


def dashboard_query(name: str) -> str:
    """The SQL of a named query of sql/dashboard.sql; KeyError names the missing query."""
    try:
        return load(DASHBOARD_SQL)[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/dashboard.sql") from None


@contextmanager
def _connection(db: Db) -> Iterator[psycopg.Connection]:
    if isinstance(db, ConnectionPool):
        with db.connection() as conn:
            yield conn
    else:
        yield db


def _fetch(db: Db, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    with _connection(db) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def snapshot_query(name: str) -> str:
    """The SQL of a named query of sql/dashboard_snapshot.sql (the figures refresh_snapshot stores)."""
    try:
        return load(SNAPSHOT_SQL)[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/dashboard_snapshot.sql") from None


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with these columns even when there are no rows (charts and tables rely on them).
    Rows of a snapshot carry taken_at: it goes to frame.attrs["as_of"] (see as_of)."""
    frame = pd.DataFrame(rows, columns=columns)
    if rows and "taken_at" in rows[0]:
        # As text: Streamlit serialises attrs as JSON when it shows the frame.
        frame.attrs["as_of"] = rows[0]["taken_at"].isoformat()
    return frame


def as_of(frame: pd.DataFrame) -> datetime | None:
    """When a snapshot figure was computed (None: no rows)."""
    stamp = frame.attrs.get("as_of")
    return datetime.fromisoformat(stamp) if stamp else None


# ------------------------------------------------------------------ snapshots

# What refresh_snapshot stores. The chart windows of the sidebar (dashboard/view.py) and the cards' 24 h;
# other windows are computed live (same SQL, slower on a large database).
SNAPSHOT_WINDOWS_HOURS: tuple[int, ...] = (6, 24, 72, 168)
CARD_WINDOW_HOURS = 24
ARCHIVE_DEFAULT_SECONDS = 24 * 3600
OVER_TIME_BUCKET_SECONDS = 300  # every chart bucket (5 min .. 105 min) is a multiple of it
BACKLOG_STORED_MAX_HOURS = 24 * 365
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


def _snapshot_sources() -> list[tuple[str, str, dict[str, Any]]]:
    """(key, query of dashboard_snapshot.sql, parameters) of every stored figure."""
    return [
        (f"overview_by_flow:{CARD_WINDOW_HOURS}", "overview_by_flow", {"hours": CARD_WINDOW_HOURS}),
        (
            "active_sessions_over_time",
            "active_sessions_over_time",
            {"hours": max(SNAPSHOT_WINDOWS_HOURS), "bucket_seconds": OVER_TIME_BUCKET_SECONDS},
        ),
        ("expiry_backlog_by_age", "expiry_backlog_by_age", {"max_hours": BACKLOG_STORED_MAX_HOURS}),
        ("step_funnel", "step_funnel", {"windows": list(SNAPSHOT_WINDOWS_HOURS)}),
        ("avg_steps_per_flow", "avg_steps_per_flow", {}),
        *(
            (
                f"step_durations:{hours}:{STEP_TIME_SAMPLE}",
                "step_durations",
                {"hours": hours, "max_sessions": STEP_TIME_SAMPLE},
            )
            for hours in SNAPSHOT_WINDOWS_HOURS
        ),
        (
            f"maintenance_status:{ARCHIVE_DEFAULT_SECONDS}",
            "maintenance_status",
            {"archive_older_than_seconds": ARCHIVE_DEFAULT_SECONDS, "cleanup_job": CLEANUP_JOB},
        ),
    ]


def refresh_snapshot(db: Db, wait: bool = True) -> bool:
    """Recompute and store every snapshot figure in one REPEATABLE READ transaction (one NOW(), one
    consistent view of the tables). With wait=False, returns False at once when another session is
    refreshing. About 3 s at 1 M sessions, 0.3 s at 100 k (docs/performance.md)."""
    with _connection(db) as conn:
        # Inside a caller's transaction this is a savepoint of it (one NOW() all the same).
        own_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            if own_transaction:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if wait:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SNAPSHOT_LOCK_KEY,))
            else:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS ok", (SNAPSHOT_LOCK_KEY,))
                if not cur.fetchone()["ok"]:
                    return False
            store = dashboard_query("store_snapshot")
            for key, name, params in _snapshot_sources():
                cur.execute(snapshot_query(name), params)
                rows = cur.fetchall()
                cur.execute(store, {"snapshot_key": key, "rows": Jsonb(rows, dumps=_dumps)})
            cur.execute(store, {"snapshot_key": "refreshed", "rows": Jsonb([])})
    return True


def ensure_snapshot(db: Db, max_age_seconds: float = SNAPSHOT_MAX_AGE_SECONDS) -> None:
    """Refresh the snapshot if there is none or it is older than max_age_seconds. When another session
    is already refreshing an existing snapshot, the current one is used rather than waiting."""
    rows = _fetch(db, dashboard_query("snapshot_age"))
    if not rows:
        refresh_snapshot(db, wait=True)
    elif rows[0]["age_seconds"] > max_age_seconds:
        refresh_snapshot(db, wait=False)


def snapshot_time(db: Db) -> datetime | None:
    """When the stored figures were computed (None: never)."""
    rows = _fetch(db, dashboard_query("snapshot_age"))
    return rows[0]["taken_at"] if rows else None


def _stored(db: Db, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a snapshot reader of sql/dashboard.sql, refreshing a missing or stale snapshot first."""
    ensure_snapshot(db)
    return _fetch(db, dashboard_query(name), params)


def _live(db: Db, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A snapshot figure computed now, for parameters the snapshot does not store (same SQL)."""
    now = datetime.now(UTC)
    return [{"taken_at": now, **r} for r in _fetch(db, snapshot_query(name), params)]


def _as_of(rows: list[dict[str, Any]]) -> datetime | None:
    return rows[0]["taken_at"] if rows else None


# ------------------------------------------------------------------ overview cards


@dataclass(frozen=True)
class FlowFigures:
    """The overview figures of one flow ('signup', 'signin') or of all ('all')."""

    flow_type: str
    live: int
    backlog_in_progress: int  # past expiry, status still 'in_progress' (the seed's definition)
    backlog_marked_expired: int  # past expiry, status 'expired'
    completed_recent: int  # completed within the window, archived ones included
    ended_completed: int  # started within the window and completed
    ended_abandoned: int  # started within the window, expired without completing, not yet cleaned up

    @property
    def backlog(self) -> int:
        """What cleanup would delete now: every never-completed session past its expiry."""
        return self.backlog_in_progress + self.backlog_marked_expired

    @property
    def ended(self) -> int:
        return self.ended_completed + self.ended_abandoned

    @property
    def completion_rate(self) -> float | None:
        """Completed / ended, for sessions started within the window; None when none has ended."""
        return self.ended_completed / self.ended if self.ended else None


@dataclass(frozen=True)
class Overview:
    window_hours: int
    by_flow: dict[str, FlowFigures]  # live: now; the other figures: as of `as_of`
    # The seed's expired_pending_cleanup query, verbatim (now): in_progress rows past expiry only.
    seed_expired_pending_cleanup: int
    as_of: datetime | None = None  # when the snapshot figures were computed

    @property
    def total(self) -> FlowFigures:
        flows = list(self.by_flow.values())
        return FlowFigures(
            "all",
            *(sum(getattr(f, name) for f in flows) for name in _COUNT_FIELDS),
        )


_COUNT_FIELDS = (
    "live",
    "backlog_in_progress",
    "backlog_marked_expired",
    "completed_recent",
    "ended_completed",
    "ended_abandoned",
)


def overview(db: Db, hours: int = 24) -> Overview:
    """The figures of the metric cards; "recent" means within the last `hours` hours."""
    params = {"hours": hours}
    if hours == CARD_WINDOW_HOURS:
        rows = _stored(db, "overview_by_flow", params)
    else:
        rows = _live(db, "overview_by_flow", params)
    live = {flow: 0 for flow in step_plan.FLOW_TYPES}
    live.update({r["flow_type"]: r["live"] for r in _fetch(db, dashboard_query("live_sessions_by_flow"))})
    seed_count = _fetch(db, query("expired_pending_cleanup"))[0]["count"]
    by_flow = {
        r["flow_type"]: FlowFigures(
            r["flow_type"], *(live[r["flow_type"]] if name == "live" else r[name] for name in _COUNT_FIELDS)
        )
        for r in rows
    }
    return Overview(
        window_hours=hours, by_flow=by_flow, seed_expired_pending_cleanup=int(seed_count), as_of=_as_of(rows)
    )


# ------------------------------------------------------------------ charts


def active_over_time(db: Db, hours: int = 24, bucket_minutes: int = 15) -> pd.DataFrame:
    """Live sessions per flow at the end of each bucket: columns at, flow_type, live (and taken_at)."""
    params = {"hours": hours, "bucket_seconds": bucket_minutes * 60}
    if hours <= max(SNAPSHOT_WINDOWS_HOURS) and (bucket_minutes * 60) % OVER_TIME_BUCKET_SECONDS == 0:
        rows = _stored(db, "active_sessions_over_time", params)
    else:
        rows = _live(db, "active_sessions_over_time", params)
    return _frame(rows, ["at", "flow_type", "live"])


def expiry_backlog(db: Db, max_hours: int = 24) -> pd.DataFrame:
    """The backlog by hours since expiry (capped at max_hours), flow and status:
    columns hours_overdue, flow_type, status, sessions."""
    if max_hours <= BACKLOG_STORED_MAX_HOURS:
        rows = _stored(db, "expiry_backlog_by_age", {"max_hours": max_hours})
    else:
        rows = _live(db, "expiry_backlog_by_age", {"max_hours": max_hours})
    return _frame(rows, ["hours_overdue", "flow_type", "status", "sessions"])


def avg_steps_per_flow(db: Db) -> pd.DataFrame:
    """The seed's "average steps per enrollment type" (completed sessions still in the temporary tables),
    with the plan's step count beside it: columns flow_type, avg_steps, plan_steps. The same figures as
    the seed's query (sql/queries.sql, kept verbatim for support staff), from step_count, as of the
    snapshot."""
    rows = _stored(db, "avg_steps_per_flow")
    frame = _frame(rows, ["flow_type", "avg_steps"])
    frame["avg_steps"] = frame["avg_steps"].astype(float)
    frame["plan_steps"] = [step_plan.total_steps(flow) for flow in frame["flow_type"]]
    return frame


def step_funnel(db: Db, hours: int = 24, flow_type: step_plan.FlowType = "signup") -> pd.DataFrame:
    """How many sessions started within the window reached each step of the plan (every plan step is
    listed, with 0 when nobody reached it). Columns: step_number, step_type, instruction, sessions,
    share_of_started (0..1), lost_from_previous (sessions that stopped before this step)."""
    if hours in SNAPSHOT_WINDOWS_HOURS:
        rows = _stored(db, "step_funnel", {"hours": hours, "flow_type": flow_type})
    else:
        rows = [r for r in _live(db, "step_funnel", {"windows": [hours]}) if r["flow_type"] == flow_type]
    reached = {r["step_number"]: r["sessions"] for r in rows}
    plan = step_plan.steps_of(flow_type)
    started = reached.get(1, 0)
    frame = pd.DataFrame(
        {
            "step_number": [s.number for s in plan],
            "step_type": [s.type for s in plan],
            "instruction": [s.instruction for s in plan],
            "sessions": [reached.get(s.number, 0) for s in plan],
        }
    )
    frame["share_of_started"] = frame["sessions"] / started if started else 0.0
    frame["lost_from_previous"] = (frame["sessions"].shift(1) - frame["sessions"]).fillna(0).astype(int)
    return frame


STEP_TIME_SAMPLE = 5000


def step_durations(db: Db, hours: int = 24, max_sessions: int = STEP_TIME_SAMPLE) -> pd.DataFrame:
    """Seconds spent per step (a step's completed_at minus the previous step's; step 1 from the session's
    created_at) over the latest `max_sessions` sessions started within the window. Columns: flow_type,
    step_number, instruction, samples, median_seconds, p90_seconds, mean_seconds."""
    params = {"hours": hours, "max_sessions": max_sessions}
    if hours in SNAPSHOT_WINDOWS_HOURS and max_sessions == STEP_TIME_SAMPLE:
        rows = _stored(db, "step_durations", params)
    else:
        rows = _live(db, "step_durations", params)
    frame = _frame(
        rows, ["flow_type", "step_number", "samples", "median_seconds", "p90_seconds", "mean_seconds"]
    )
    frame.insert(
        2,
        "instruction",
        [_instruction(flow, number) for flow, number in zip(frame["flow_type"], frame["step_number"])],
    )
    return frame


def _instruction(flow_type: str, number: int) -> str:
    step = step_plan.step_of(flow_type, int(number)) if flow_type in step_plan.PLAN else None
    return step.instruction if step else f"step {number}"


# ------------------------------------------------------------------ sessions list


@dataclass(frozen=True)
class SessionFilter:
    """What the sessions table shows. scope: 'live' (not yet expired), 'overdue' (past expiry, waiting
    for cleanup) or 'all' (every in_progress row, the seed's definition)."""

    scope: Scope = "live"
    flow_type: str | None = None
    username: str | None = None  # case-insensitive substring
    order_by: OrderBy = "newest"
    limit: int = 200

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.order_by not in ORDERS:
            raise ValueError(f"order_by must be one of {', '.join(ORDERS)}, got {self.order_by!r}")
        if self.flow_type is not None and self.flow_type not in step_plan.FLOW_TYPES:
            raise ValueError(f"flow_type must be signup, signin or None, got {self.flow_type!r}")
        if not 1 <= self.limit <= MAX_PAGE_ROWS:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_ROWS}, got {self.limit}")
        cleaned = (self.username or "").strip()[:255] or None
        object.__setattr__(self, "username", cleaned)

    def query_parameters(self) -> dict[str, Any]:
        """The parameters of the in_progress_sessions_* queries."""
        expires_after, expires_before = self.expiry_range()
        return {
            # 'now' / 'infinity' are cast by the server, so "now" is the query's own NOW().
            "expires_after": expires_after,
            "expires_before": expires_before,
            "flow_type": self.flow_type,
            "username": self.username,
            "limit": self.limit,
        }

    def expiry_range(self) -> tuple[str, str]:
        """(expires_after, expires_before] as PostgreSQL timestamp literals evaluated by the server."""
        return {
            "live": ("now", "infinity"),
            "overdue": ("-infinity", "now"),
            "all": ("-infinity", "infinity"),
        }[self.scope]


# The page counts matching sessions up to this many ("more than 10,000"): an exact count of every live
# session is the one part of the page that grows with the data.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class SessionPage:
    rows: pd.DataFrame  # session_id, username, flow_type, steps_completed, total_steps, created_at, ...
    total_matching: int  # exact up to COUNT_LIMIT; COUNT_LIMIT + 1 means "more than COUNT_LIMIT"
    filter: SessionFilter

    @property
    def truncated(self) -> bool:
        return self.total_matching > len(self.rows)

    @property
    def total_is_lower_bound(self) -> bool:
        return self.total_matching > COUNT_LIMIT


SESSION_COLUMNS = [
    "session_id",
    "username",
    "flow_type",
    "steps_completed",
    "created_at",
    "updated_at",
    "expires_at",
    "expires_in_seconds",
]


def in_progress_sessions(db: Db, filter: SessionFilter | None = None) -> SessionPage:
    """The seed's active-sessions list, bounded and filtered in SQL (see SessionFilter)."""
    filter = filter or SessionFilter()
    params = filter.query_parameters()
    with _connection(db) as conn:
        rows = _fetch(conn, dashboard_query(f"in_progress_sessions_{filter.order_by}"), params)
        total = _fetch(
            conn, dashboard_query("in_progress_sessions_count"), {**params, "count_limit": COUNT_LIMIT + 1}
        )[0]["matching"]
    frame = _frame(rows, SESSION_COLUMNS)
    frame.insert(4, "total_steps", [step_plan.total_steps(flow) for flow in frame["flow_type"]])
    return SessionPage(rows=frame, total_matching=int(total), filter=filter)


def seed_active_sessions(db: Db) -> pd.DataFrame:
    """The seed's active_sessions query, verbatim and unbounded (every in_progress row). Kept for
    comparison and small databases; the dashboard uses in_progress_sessions."""
    rows = _fetch(db, query("active_sessions"))
    return _frame(rows, ["username", "flow_type", "steps_completed", "created_at", "expires_at"])


# ------------------------------------------------------------------ drill-down


@dataclass(frozen=True)
class SavedStep:
    step_number: int
    step_type: str
    instruction: str
    image: bytes | None  # the decoded drawing; None when signature_data is not a readable data URL
    image_mime: str | None
    metrics: dict[str, Any]
    completed_at: datetime
    seconds_spent: float


@dataclass(frozen=True)
class SessionDetail:
    session_id: str
    username: str
    flow_type: str
    status: str  # 'expired' once past expiry, as EnrollmentService.get_session says
    stored_status: str  # the column's value
    device_info: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    steps: list[SavedStep] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        return step_plan.total_steps(self.flow_type)


_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.DOTALL)


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """(mime type, bytes) of a base64 image data URL, or None if it is not one."""
    match = _DATA_URL.match(url or "")
    if not match:
        return None
    try:
        return match.group(1), base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None


def session_detail(db: Db, session_id: str) -> SessionDetail | None:
    """One session (any status) with every saved step and its drawing; None when there is no such
    session (never existed, or removed by cleanup or archive)."""
    with _connection(db) as conn:
        header = _fetch(conn, dashboard_query("session_header"), {"session_id": session_id})
        if not header:
            return None
        steps = _fetch(conn, dashboard_query("session_steps"), {"session_id": session_id})
    h = header[0]
    saved = []
    for s in steps:
        decoded = decode_data_url(s["signature_data"])
        saved.append(
            SavedStep(
                step_number=s["step_number"],
                step_type=s["step_type"],
                instruction=s["instruction"],
                image=decoded[1] if decoded else None,
                image_mime=decoded[0] if decoded else None,
                metrics=dict(s["metrics"] or {}),
                completed_at=s["completed_at"],
                seconds_spent=float(s["seconds_spent"]),
            )
        )
    status = effective_status(h["status"], h["is_expired"])
    return SessionDetail(
        session_id=h["session_id"],
        username=h["username"],
        flow_type=h["flow_type"],
        status=status,
        stored_status=h["status"],
        device_info=h["device_info"],
        metadata=dict(h["metadata"] or {}),
        created_at=h["created_at"],
        updated_at=h["updated_at"],
        expires_at=h["expires_at"],
        completed_at=h["completed_at"],
        steps=saved,
    )


# ------------------------------------------------------------------ maintenance


def table_sizes(db: Db) -> pd.DataFrame:
    """Row counts and on-disk bytes (total, heap, TOAST, indexes) of the enrollment tables. Rows are
    exact for tables under 64 MB and PostgreSQL's estimate above (row_count_is_estimate)."""
    rows = _fetch(db, dashboard_query("table_sizes"))
    return _frame(
        rows,
        [
            "table_name",
            "row_count",
            "row_count_is_estimate",
            "total_bytes",
            "heap_bytes",
            "toast_bytes",
            "index_bytes",
        ],
    )


@dataclass(frozen=True)
class MaintenanceStatus:
    cleanup_candidates: int  # sessions cleanup would delete now (the whole backlog)
    archive_candidates: int  # completed sessions older than the archive cut-off
    last_cleanup_at: datetime | None  # last periodic cleanup run (any instance), if any
    last_cleanup_removed: int | None
    as_of: datetime | None = None  # when the candidates were counted


def maintenance_status(
    db: Db, archive_older_than_seconds: int = ARCHIVE_DEFAULT_SECONDS
) -> MaintenanceStatus:
    """Candidates from the snapshot for the default archive cut-off, counted now for another one."""
    params = {"archive_older_than_seconds": archive_older_than_seconds, "cleanup_job": CLEANUP_JOB}
    if archive_older_than_seconds == ARCHIVE_DEFAULT_SECONDS:
        row = _stored(db, "maintenance_status", params)[0]
    else:
        row = _live(db, "maintenance_status", params)[0]
    result = row["last_cleanup_result"] or {}
    return MaintenanceStatus(
        cleanup_candidates=row["cleanup_candidates"],
        archive_candidates=row["archive_candidates"],
        last_cleanup_at=row["last_cleanup_at"],
        last_cleanup_removed=result.get("removed"),
        as_of=row["taken_at"],
    )


# ------------------------------------------------------------------ benchmark support


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
        DashboardQuery("snapshot_age", dashboard_query("snapshot_age"), None),
        DashboardQuery("overview_by_flow", dashboard_query("overview_by_flow"), {"hours": CARD_WINDOW_HOURS}),
        DashboardQuery("live_sessions_by_flow", dashboard_query("live_sessions_by_flow"), None),
        DashboardQuery("expired_pending_cleanup (seed)", query("expired_pending_cleanup"), None),
        DashboardQuery(
            "active_sessions_over_time",
            dashboard_query("active_sessions_over_time"),
            {"hours": hours, "bucket_seconds": 900},
        ),
        DashboardQuery("expiry_backlog_by_age", dashboard_query("expiry_backlog_by_age"), {"max_hours": 24}),
        DashboardQuery("avg_steps_per_flow", dashboard_query("avg_steps_per_flow"), None),
        DashboardQuery(
            "step_funnel", dashboard_query("step_funnel"), {"hours": hours, "flow_type": "signup"}
        ),
        DashboardQuery(
            "step_durations",
            dashboard_query("step_durations"),
            {"hours": hours, "max_sessions": STEP_TIME_SAMPLE},
        ),
        DashboardQuery("in_progress_sessions_newest", dashboard_query("in_progress_sessions_newest"), page),
        DashboardQuery(
            "in_progress_sessions_count",
            dashboard_query("in_progress_sessions_count"),
            {**page, "count_limit": COUNT_LIMIT + 1},
        ),
        DashboardQuery(
            "in_progress_sessions_oldest (live)", dashboard_query("in_progress_sessions_oldest"), page
        ),
        DashboardQuery(
            "in_progress_sessions_expiring (user filter)",
            dashboard_query("in_progress_sessions_expiring"),
            user_page,
        ),
        DashboardQuery(
            "in_progress_sessions_count (user filter)",
            dashboard_query("in_progress_sessions_count"),
            {**user_page, "count_limit": COUNT_LIMIT + 1},
        ),
        DashboardQuery("table_sizes", dashboard_query("table_sizes"), None),
        DashboardQuery(
            "maintenance_status",
            dashboard_query("maintenance_status"),
            {"archive_older_than_seconds": ARCHIVE_DEFAULT_SECONDS, "cleanup_job": CLEANUP_JOB},
        ),
    ]


def snapshot_queries() -> list[DashboardQuery]:
    """The queries refresh_snapshot runs (in one transaction), for benchmarks."""
    return [DashboardQuery(key, snapshot_query(name), params) for key, name, params in _snapshot_sources()]


def generate_bench_sessions(
    conn: psycopg.Connection, sessions: int = 100_000, image_data_url: str | None = None, seed: float = 0.42
) -> tuple[int, int]:
    """Insert `sessions` synthetic sessions (about 5 steps each, a realistic mix of states over the last
    7 days) with INSERT ... SELECT generate_series: seconds, not minutes. Every step gets the same
    placeholder image. Returns (sessions, steps) inserted. For scratch databases only."""
    image = image_data_url or _placeholder_png()
    with conn.transaction():
        conn.execute("SELECT setseed(%s)", (seed,))
        n_sessions = conn.execute(dashboard_query("bench_insert_sessions"), {"sessions": sessions}).rowcount
        n_steps = conn.execute(dashboard_query("bench_insert_steps"), {"image": image}).rowcount
    return n_sessions, n_steps


def _placeholder_png() -> str:
    """A real (small) PNG drawing as a data URL: the sample signature of the demo data."""
    from .sample_drawings import drawing_payload  # imported here: only benchmarks need it

    return drawing_payload("bench_user", 1)["signature"]
