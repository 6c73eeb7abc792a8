"""What the operations dashboard reads: live sessions, the expiry backlog, completions, drop-off, step
times, one session's drawings, table sizes. Every function takes a connection pool or a psycopg
connection and returns pandas DataFrames or small dataclasses; the SQL is in sql/dashboard.sql and
sql/snapshot.sql.

  rows.py      running the queries (pool or connection), DataFrames
  snapshot.py  figures over many rows, computed about once a minute and stored (dashboard_snapshots)
  figures.py   overview cards, charts, funnel, time per step
  sessions.py  the list of sessions in progress and one session's drill-down
  storage.py   table sizes and what cleanup/archive would do
"""

from .figures import (
    FlowFigures,
    Overview,
    active_over_time,
    avg_steps_per_flow,
    expiry_backlog,
    overview,
    step_durations,
    step_funnel,
)
from .rows import Db, as_of
from .sessions import (
    COUNT_LIMIT,
    MAX_PAGE_ROWS,
    ORDERS,
    SCOPES,
    SavedStep,
    SessionDetail,
    SessionFilter,
    SessionPage,
    decode_data_url,
    in_progress_sessions,
    seed_active_sessions,
    session_detail,
)
from .snapshot import (
    ARCHIVE_DEFAULT_SECONDS,
    CARD_WINDOW_HOURS,
    SNAPSHOT_MAX_AGE_SECONDS,
    SNAPSHOT_WINDOWS_HOURS,
    STEP_TIME_SAMPLE,
    ensure_snapshot,
    refresh_snapshot,
    snapshot_time,
)
from .storage import MaintenanceStatus, maintenance_status, table_sizes

__all__ = [
    "ARCHIVE_DEFAULT_SECONDS",
    "CARD_WINDOW_HOURS",
    "COUNT_LIMIT",
    "MAX_PAGE_ROWS",
    "ORDERS",
    "SCOPES",
    "SNAPSHOT_MAX_AGE_SECONDS",
    "SNAPSHOT_WINDOWS_HOURS",
    "STEP_TIME_SAMPLE",
    "Db",
    "FlowFigures",
    "MaintenanceStatus",
    "Overview",
    "SavedStep",
    "SessionDetail",
    "SessionFilter",
    "SessionPage",
    "active_over_time",
    "as_of",
    "avg_steps_per_flow",
    "decode_data_url",
    "ensure_snapshot",
    "expiry_backlog",
    "in_progress_sessions",
    "maintenance_status",
    "overview",
    "refresh_snapshot",
    "seed_active_sessions",
    "session_detail",
    "snapshot_time",
    "step_durations",
    "step_funnel",
    "table_sizes",
]
