"""Sessions for support staff: the bounded, filtered list of sessions in progress, and one session's
drill-down with its drawings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from .. import images, step_plan
from ..queries import query
from ..status import SessionInfo, SessionStatus, effective_status
from .rows import Db, connection, fetch, to_frame

Scope = Literal["live", "overdue", "all", "completed", "expired", "any"]
OrderBy = Literal["newest", "oldest", "expiring"]

SCOPES: tuple[Scope, ...] = ("live", "overdue", "all", "completed", "expired", "any")
# Scopes of sessions still in progress (the seed's "active sessions"); the others also list ended ones.
IN_PROGRESS_SCOPES: tuple[Scope, ...] = ("live", "overdue", "all")
ORDERS: tuple[OrderBy, ...] = ("newest", "oldest", "expiring")
MAX_PAGE_ROWS = 5000


@dataclass(frozen=True)
class SessionFilter:
    """What the sessions table shows. scope: 'live' (not yet expired), 'overdue' (past expiry, waiting
    for cleanup) or 'all' (every in_progress row, the seed's definition); or, ended ones too:
    'completed' (archived ones included), 'expired' (ran out of time before completing: waiting for
    cleanup, or cleaned up) or 'any' (every session and summary). started_from / started_before bound
    when the sessions started (None: no bound)."""

    scope: Scope = "live"
    flow_type: str | None = None
    username: str | None = None  # case-insensitive substring
    order_by: OrderBy = "newest"
    limit: int = 200
    started_from: datetime | None = None
    started_before: datetime | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.order_by not in ORDERS:
            raise ValueError(f"order_by must be one of {', '.join(ORDERS)}, got {self.order_by!r}")
        if self.order_by == "expiring" and self.scope not in IN_PROGRESS_SCOPES:
            raise ValueError(f"order_by 'expiring' lists sessions in progress only, not scope {self.scope!r}")
        for name in ("started_from", "started_before"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} must be a datetime with a time zone, got {value!r}")
        if (
            self.started_from is not None
            and self.started_before is not None
            and self.started_from >= self.started_before
        ):
            raise ValueError(
                f"started_from ({self.started_from.isoformat()}) must be before started_before "
                f"({self.started_before.isoformat()})"
            )
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
            # Unbounded: the server's own -infinity / infinity.
            "started_from": self.started_from or "-infinity",
            "started_before": self.started_before or "infinity",
        }

    @property
    def in_progress_only(self) -> bool:
        return self.scope in IN_PROGRESS_SCOPES

    def started_parameters(self) -> dict[str, Any]:
        """The parameters of the sessions_started_* queries: which kinds of session the scope takes."""
        return {
            "started_from": self.started_from or "-infinity",
            "started_before": self.started_before or "infinity",
            "live": self.scope == "any",
            "completed": self.scope in ("completed", "any"),
            "expired": self.scope in ("expired", "any"),
            "flow_type": self.flow_type,
            "username": self.username,
            "limit": self.limit,
        }

    def expiry_range(self) -> tuple[str, str]:
        """(expires_after, expires_before] as PostgreSQL timestamp literals evaluated by the server."""
        return {
            "live": ("now", "infinity"),
            "overdue": ("-infinity", "now"),
        }.get(self.scope, ("-infinity", "infinity"))


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


# The columns of list_sessions' rows, whatever the scope.
LISTED_COLUMNS = [
    "session_id",
    "username",
    "flow_type",
    "status",  # SessionStatus: 'expired' as soon as past expiry
    "summary_only",  # True: archived or cleaned up, only its summary is kept (no drawings)
    "steps_completed",
    "total_steps",
    "created_at",
    "updated_at",  # last activity
    "expires_at",
    "expires_in_seconds",
    "completed_at",
    "removed_at",  # when archive or cleanup removed it (summaries only)
]


def list_sessions(db: Db, filter: SessionFilter | None = None) -> SessionPage:
    """The sessions table: sessions in progress (in_progress_sessions) or, for the scopes 'completed',
    'expired' and 'any', sessions of every kind started in the filter's range, summaries of removed ones
    included. Rows have LISTED_COLUMNS."""
    filter = filter or SessionFilter()
    if filter.in_progress_only:
        page = in_progress_sessions(db, filter)
        rows = page.rows.copy()
        expired = rows["expires_in_seconds"] <= 0
        rows["status"] = ["expired" if past else "in_progress" for past in expired]
        rows["summary_only"] = False
        rows["completed_at"] = pd.NaT
        rows["removed_at"] = pd.NaT
        return SessionPage(rows=rows[LISTED_COLUMNS], total_matching=page.total_matching, filter=filter)
    params = filter.started_parameters()
    listing = query("sessions_started_oldest" if filter.order_by == "oldest" else "sessions_started_newest")
    with connection(db) as conn:
        found = fetch(conn, listing, params)
        total = fetch(conn, query("sessions_started_count"), {**params, "count_limit": COUNT_LIMIT + 1})[0][
            "matching"
        ]
    now = datetime.now(UTC)
    shaped = [
        {
            **listed_session(row),
            "steps_completed": row["step_count"],
            "updated_at": row["last_activity_at"],
            "expires_in_seconds": (
                None if row["expires_at"] is None else (row["expires_at"] - now).total_seconds()
            ),
        }
        for row in found
    ]
    return SessionPage(rows=to_frame(shaped, LISTED_COLUMNS), total_matching=int(total), filter=filter)


def in_progress_sessions(db: Db, filter: SessionFilter | None = None) -> SessionPage:
    """The seed's active-sessions list, bounded and filtered in SQL (see SessionFilter); scopes 'live',
    'overdue' and 'all' only (list_sessions takes every scope)."""
    filter = filter or SessionFilter()
    if not filter.in_progress_only:
        raise ValueError(f"in_progress_sessions lists sessions in progress, not scope {filter.scope!r}")
    params = filter.query_parameters()
    with connection(db) as conn:
        rows = fetch(conn, _page_sql(filter.order_by), params)
        total = fetch(conn, query("in_progress_sessions_count"), {**params, "count_limit": COUNT_LIMIT + 1})[
            0
        ]["matching"]
    page = to_frame(rows, SESSION_COLUMNS)
    page.insert(4, "total_steps", [step_plan.total_steps(flow) for flow in page["flow_type"]])
    return SessionPage(rows=page, total_matching=int(total), filter=filter)


def _page_sql(order_by: OrderBy) -> str:
    """One query per order, so that each walks its own index in that order."""
    if order_by == "oldest":
        return query("in_progress_sessions_oldest")
    if order_by == "expiring":
        return query("in_progress_sessions_expiring")
    return query("in_progress_sessions_newest")


@dataclass(frozen=True)
class SavedStep:
    step_number: int
    step_type: str
    instruction: str
    image: bytes | None  # the drawing's image file, checked to decode; None when it cannot be shown
    image_mime: str | None
    metrics: dict[str, Any]
    completed_at: datetime
    seconds_spent: float
    # Why the stored image cannot be shown, in plain words (not a data URL, not the type it claims,
    # too many pixels, corrupt); None when `image` is set.
    image_problem: str | None = None


def plan_steps(flow_type: str) -> int:
    """The steps of a flow's plan; 0 for a flow no plan knows (a row from an older version)."""
    return step_plan.total_steps(flow_type) if flow_type in step_plan.PLAN else 0


def listed_session(row: dict[str, Any]) -> dict[str, Any]:
    """A row of a session listing (live, or a summary kept by the cleanup or the archive: summary_only)
    with its status as staff read it and its plan's number of steps; the Sessions and People pages
    both list sessions through it."""
    if row["summary_only"]:  # as the summary recorded it
        status = SessionStatus(row["status"])
    else:
        status = effective_status(row["status"], row["is_expired"])
    return {**row, "status": str(status), "total_steps": plan_steps(row["flow_type"])}


@dataclass(frozen=True, kw_only=True)
class SessionDetail(SessionInfo):
    """A session as EnrollmentService.get_session sees it (status 'expired' once past expiry), with the
    stored status and every saved step."""

    stored_status: str  # the column's value
    steps: list[SavedStep] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        return step_plan.total_steps(self.flow_type)


@dataclass(frozen=True)
class StoredImage:
    """A stored drawing as a staff screen can show it: its image file, or why it cannot be shown."""

    mime: str | None
    data: bytes | None
    problem: str | None  # in plain words; mime and data are None then


def read_stored_image(url: str) -> StoredImage:
    """A stored data URL that decodes as the image it claims, within the pixel limit (images.MAX_PIXELS,
    checked from the header before decoding); otherwise the reason it cannot be shown. Never raises:
    stored data may predate today's checks, or come from another writer."""
    try:
        decoded = images.read_data_url(url)
    except images.ImageProblem as problem:
        return StoredImage(None, None, f"The drawing cannot be shown: {problem}.")
    return StoredImage(decoded.info.mime, decoded.data, None)


def drawing_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What every drawing the console shows (SavedStep, EnrolledDrawing) takes from its row: the step it
    answers and its stored image, read by read_stored_image."""
    image = read_stored_image(row["signature_data"])
    return {
        "step_number": row["step_number"],
        "step_type": row["step_type"],
        "instruction": row["instruction"],
        "image": image.data,
        "image_mime": image.mime,
        "image_problem": image.problem,
    }


def session_detail(db: Db, session_id: str) -> SessionDetail | None:
    """One session (any status) with every saved step and its drawing; None when there is no such
    session (never existed, or removed by cleanup or archive)."""
    with connection(db) as conn:
        header = fetch(conn, query("get_enrollment"), {"session_id": session_id})
        if not header:
            return None
        steps = fetch(conn, query("session_steps"), {"session_id": session_id})
    h = header[0]
    saved = [
        SavedStep(
            **drawing_fields(s),
            metrics=dict(s["metrics"] or {}),
            completed_at=s["completed_at"],
            seconds_spent=float(s["seconds_spent"]),
        )
        for s in steps
    ]
    return SessionDetail.from_row(h, stored_status=h["status"], steps=saved)
