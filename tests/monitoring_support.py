"""Readers only the tests use (kept out of enrollment_core.monitoring, which ships): the seed's
unbounded active_sessions query, a stored image as (type, bytes), and when the snapshot was taken."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from enrollment_core.monitoring.rows import Db, fetch, to_frame
from enrollment_core.monitoring.sessions import read_stored_image
from enrollment_core.queries import query


def seed_active_sessions(db: Db) -> pd.DataFrame:
    """The seed's active_sessions query, verbatim and unbounded (every in_progress row), to compare the
    dashboard's bounded in_progress_sessions with."""
    rows = fetch(db, query("active_sessions"))
    return to_frame(rows, ["username", "flow_type", "steps_completed", "created_at", "expires_at"])


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """(mime type, bytes) of a stored image data URL that can be shown, or None (read_stored_image
    says why)."""
    image = read_stored_image(url)
    return None if image.mime is None or image.data is None else (image.mime, image.data)


def snapshot_time(db: Db) -> datetime | None:
    """When the stored figures were computed (None: never)."""
    rows = fetch(db, query("snapshot_age"))
    return rows[0]["taken_at"] if rows else None
