"""What the operations dashboard reads: live sessions, the expiry backlog, completions, drop-off, step
times, one session's drawings, table sizes. Every function takes a connection pool or a psycopg
connection and returns pandas DataFrames or small dataclasses; the SQL is in sql/dashboard.sql and
sql/snapshot.sql.

  rows.py      running the queries (pool or connection), DataFrames
  snapshot.py  figures over many rows, computed about once a minute and stored (dashboard_snapshots)
  figures.py   overview cards, charts, funnel, time per step
  sessions.py  the list of sessions (in progress, or started in a range) and one session's drill-down
  people.py    people by part of a name; one person: account, drawings, every session and sign-in attempt
  storage.py   table sizes and what cleanup/archive would do
  staff_log.py what staff did from the dashboard
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
from .people import (
    ATTEMPT_LIMIT,
    PEOPLE_MATCH_LIMIT,
    SESSION_LIMIT,
    Account,
    EnrolledDrawing,
    Person,
    SessionSummary,
    clean_search,
    enrolled_drawings,
    find_person,
    people_matching,
    session_summary,
)
from .rows import Db, as_of
from .sessions import (
    COUNT_LIMIT,
    IN_PROGRESS_SCOPES,
    MAX_PAGE_ROWS,
    ORDERS,
    SCOPES,
    SavedStep,
    SessionDetail,
    SessionFilter,
    SessionPage,
    in_progress_sessions,
    list_sessions,
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
)
from .staff_log import (
    STAFF_LOG_COUNT_LIMIT,
    STAFF_LOG_LIMIT,
    STAFF_NAME_MAX_LENGTH,
    StaffLogFilter,
    StaffLogPage,
    staff_log,
    staff_log_page,
)
from .storage import MaintenanceStatus, maintenance_status, table_sizes

__all__ = [
    "ARCHIVE_DEFAULT_SECONDS",
    "ATTEMPT_LIMIT",
    "CARD_WINDOW_HOURS",
    "COUNT_LIMIT",
    "IN_PROGRESS_SCOPES",
    "MAX_PAGE_ROWS",
    "ORDERS",
    "SCOPES",
    "SESSION_LIMIT",
    "SNAPSHOT_MAX_AGE_SECONDS",
    "SNAPSHOT_WINDOWS_HOURS",
    "PEOPLE_MATCH_LIMIT",
    "STAFF_LOG_COUNT_LIMIT",
    "STAFF_LOG_LIMIT",
    "STAFF_NAME_MAX_LENGTH",
    "STEP_TIME_SAMPLE",
    "Account",
    "Db",
    "EnrolledDrawing",
    "FlowFigures",
    "MaintenanceStatus",
    "Overview",
    "Person",
    "SavedStep",
    "SessionDetail",
    "SessionFilter",
    "SessionPage",
    "SessionSummary",
    "StaffLogFilter",
    "StaffLogPage",
    "active_over_time",
    "as_of",
    "avg_steps_per_flow",
    "clean_search",
    "enrolled_drawings",
    "ensure_snapshot",
    "expiry_backlog",
    "find_person",
    "in_progress_sessions",
    "list_sessions",
    "people_matching",
    "maintenance_status",
    "overview",
    "refresh_snapshot",
    "session_detail",
    "session_summary",
    "staff_log",
    "staff_log_page",
    "step_durations",
    "step_funnel",
    "table_sizes",
]
