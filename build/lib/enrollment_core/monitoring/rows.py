"""Running the dashboard's queries: on a pool or on a caller's connection, rows as dicts or DataFrames."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from psycopg.rows import dict_row

# One Db and one connection() for every reader (the pool, or a caller's own connection).
from ..database import Db as Db
from ..database import connection as connection


def fetch(db: Db, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    with connection(db) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def to_frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with these columns even when there are no rows (charts and tables rely on them).
    Rows of a snapshot carry taken_at: it goes to frame.attrs["as_of"] (see as_of)."""
    result = pd.DataFrame(rows, columns=columns)
    if rows and "taken_at" in rows[0]:
        # As text: Streamlit serialises attrs as JSON when it shows the frame.
        result.attrs["as_of"] = rows[0]["taken_at"].isoformat()
    return result


def as_of(data: pd.DataFrame) -> datetime | None:
    """When a snapshot figure was computed (None: no rows)."""
    stamp = data.attrs.get("as_of")
    return datetime.fromisoformat(stamp) if stamp else None
