"""The staff log, for the dashboard: who did what from it, on what, when, and how it ended (written by
enrollment_core.staff), paged and filtered by who, what and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..queries import query
from .rows import Db, connection, fetch, to_frame

STAFF_LOG_LIMIT = 50  # lines per page, newest first
STAFF_LOG_COUNT_LIMIT = 10_000  # lines counted up to this many ("more than 10,000")
STAFF_NAME_MAX_LENGTH = 100  # as the column
ACTION_MAX_LENGTH = 32  # as the column; the values are enrollment_core.staff.StaffAction's

STAFF_LOG_COLUMNS = ["acted_at", "staff_name", "action", "target", "succeeded", "result"]


@dataclass(frozen=True)
class StaffLogFilter:
    """Which lines of the staff log: who (part of the name, any case), what (one action), when (acted in
    [acted_from, acted_before)); page 1 is the newest page_size lines."""

    staff_name: str | None = None
    action: str | None = None
    acted_from: datetime | None = None
    acted_before: datetime | None = None
    page: int = 1
    page_size: int = STAFF_LOG_LIMIT

    def __post_init__(self) -> None:
        name = (self.staff_name or "").strip() or None
        if name is not None and len(name) > STAFF_NAME_MAX_LENGTH:
            raise ValueError(
                f"staff_name must be at most {STAFF_NAME_MAX_LENGTH} characters, got {len(name)}"
            )
        object.__setattr__(self, "staff_name", name)
        if self.action is not None and not (
            isinstance(self.action, str) and 1 <= len(self.action) <= ACTION_MAX_LENGTH
        ):
            raise ValueError(
                f"action must be an action's name (1-{ACTION_MAX_LENGTH} characters), got {self.action!r}"
            )
        for field in ("acted_from", "acted_before"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{field} must be a datetime with a time zone, got {value!r}")
        if (
            self.acted_from is not None
            and self.acted_before is not None
            and self.acted_from >= self.acted_before
        ):
            raise ValueError(
                f"acted_from ({self.acted_from.isoformat()}) must be before acted_before "
                f"({self.acted_before.isoformat()})"
            )
        if not 1 <= self.page_size <= 1000:
            raise ValueError(f"page_size must be between 1 and 1000, got {self.page_size}")
        if not 1 <= self.page <= STAFF_LOG_COUNT_LIMIT:
            raise ValueError(f"page must be between 1 and {STAFF_LOG_COUNT_LIMIT}, got {self.page}")

    def query_parameters(self) -> dict[str, Any]:
        return {
            "staff_name": self.staff_name,
            "action": self.action,
            "acted_from": self.acted_from or "-infinity",
            "acted_before": self.acted_before or "infinity",
            "offset": (self.page - 1) * self.page_size,
            "limit": self.page_size,
        }


@dataclass(frozen=True)
class StaffLogPage:
    rows: pd.DataFrame  # STAFF_LOG_COLUMNS, newest first
    total_matching: int  # exact up to STAFF_LOG_COUNT_LIMIT; more means "more than"
    filter: StaffLogFilter

    @property
    def pages(self) -> int:
        """Pages of the lines counted (at least 1)."""
        counted = min(self.total_matching, STAFF_LOG_COUNT_LIMIT)
        return max(1, -(-counted // self.filter.page_size))

    @property
    def total_is_lower_bound(self) -> bool:
        return self.total_matching > STAFF_LOG_COUNT_LIMIT


def staff_log_page(db: Db, filter: StaffLogFilter | None = None) -> StaffLogPage:
    """One page of the staff log's lines matching the filter, newest first, and how many match."""
    filter = filter or StaffLogFilter()
    params = filter.query_parameters()
    with connection(db) as conn:
        rows = fetch(conn, query("staff_log_page"), params)
        total = fetch(conn, query("staff_log_count"), {**params, "count_limit": STAFF_LOG_COUNT_LIMIT + 1})[
            0
        ]["matching"]
    return StaffLogPage(rows=to_frame(rows, STAFF_LOG_COLUMNS), total_matching=int(total), filter=filter)


def staff_log(db: Db, limit: int = STAFF_LOG_LIMIT) -> pd.DataFrame:
    """The latest lines of the staff log, newest first: columns acted_at, staff_name, action, target,
    succeeded, result (a dict: counts, parameters, or the error)."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, got {limit}")
    return staff_log_page(db, StaffLogFilter(page_size=limit)).rows
