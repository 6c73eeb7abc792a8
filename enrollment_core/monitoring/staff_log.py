"""The staff log, for the dashboard: who did what from it, on what, when, and how it ended (written by
enrollment_core.staff)."""

from __future__ import annotations

import pandas as pd

from ..queries import query
from .rows import Db, fetch, to_frame

STAFF_LOG_LIMIT = 50  # lines shown, newest first

STAFF_LOG_COLUMNS = ["acted_at", "staff_name", "action", "target", "succeeded", "result"]


def staff_log(db: Db, limit: int = STAFF_LOG_LIMIT) -> pd.DataFrame:
    """The latest lines of the staff log, newest first: columns acted_at, staff_name, action, target,
    succeeded, result (a dict: counts, parameters, or the error)."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, got {limit}")
    return to_frame(fetch(db, query("recent_staff_actions"), {"limit": limit}), STAFF_LOG_COLUMNS)
