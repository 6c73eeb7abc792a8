"""How old the figures are when the dashboard reads from a hot standby (DASHBOARD_READ_URL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..queries import query
from .rows import Db, fetch


@dataclass(frozen=True)
class Staleness:
    standby: bool  # False: the reads go to a primary (nothing to say)
    streaming: bool  # receiving the primary's WAL now
    # Seconds the figures may lag the primary: 0 when streaming and everything received is replayed.
    behind_seconds: float | None
    replayed_at: datetime | None  # the last change replayed from the primary (None: none yet)


def staleness(db: Db) -> Staleness:
    """Read on the standby itself (sql/dashboard.sql standby_lag)."""
    row = fetch(db, query("standby_lag"))[0]
    if not row["standby"]:
        return Staleness(False, False, 0.0, None)
    caught_up = row["streaming"] and row["replayed_all"]
    behind = 0.0 if caught_up else row["since_replayed_seconds"]
    return Staleness(True, bool(row["streaming"]), behind, row["replayed_at"])
