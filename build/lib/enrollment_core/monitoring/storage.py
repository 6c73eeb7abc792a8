"""What maintenance staff look at: the tables' sizes, and what cleanup and archive would do now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ..maintenance import CLEANUP_JOB
from ..queries import query
from .rows import Db, fetch, to_frame
from .snapshot import ARCHIVE_DEFAULT_SECONDS, live, stored


def table_sizes(db: Db) -> pd.DataFrame:
    """Row counts and on-disk bytes (total, heap, TOAST, indexes) of the enrollment tables. Rows are
    exact for tables under 64 MB and PostgreSQL's estimate above (row_count_is_estimate)."""
    rows = fetch(db, query("table_sizes"))
    return to_frame(
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
        row = stored(db, query("stored_maintenance_status"), params)[0]
    else:
        row = live(db, query("snapshot_maintenance_status"), params)[0]
    result = row["last_cleanup_result"] or {}
    return MaintenanceStatus(
        cleanup_candidates=row["cleanup_candidates"],
        archive_candidates=row["archive_candidates"],
        last_cleanup_at=row["last_cleanup_at"],
        last_cleanup_removed=result.get("removed"),
        as_of=row["taken_at"],
    )
