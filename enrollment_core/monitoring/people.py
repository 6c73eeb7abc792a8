"""One person, for support staff: found by username (case-insensitive) or by any of their session ids,
with their account and enrolled drawings, every enrollment session whatever became of it, and every
sign-in attempt with its verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..queries import query
from .rows import Db, connection, fetch, to_frame
from .sessions import drawing_fields, listed_session, plan_steps

SESSION_LIMIT = 200  # a person's sessions listed, newest first
ATTEMPT_LIMIT = 100  # a person's sign-in attempts listed, newest first
ATTEMPT_COUNT_LIMIT = 10_000  # counted up to this many ("more than 10,000")
# What a search may be: a username (3-32 characters where the service made it) or a session id (sess_ +
# 32 characters); anything longer is refused before it reaches the database.
SEARCH_MAX_LENGTH = 255
SESSION_ID_PREFIX = "sess_"


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    created_at: datetime
    enrollment_session_id: str  # the signup session the account was made from
    enrolled_drawings: int


@dataclass(frozen=True)
class EnrolledDrawing:
    step_number: int
    step_type: str
    instruction: str
    image: bytes | None  # None when the stored data URL cannot be read ...
    captured_at: datetime
    image_problem: str | None = None  # ... and then why, in plain words
    image_mime: str | None = None  # the image's type, when it can be read


@dataclass(frozen=True)
class Person:
    username: str  # the account's spelling, else the latest session's
    account: Account | None  # None: never completed a signup (or the account was deleted)
    sessions: pd.DataFrame  # see SESSION_COLUMNS
    attempts: pd.DataFrame  # see ATTEMPT_COLUMNS; empty without an account
    attempt_total: int  # exact up to ATTEMPT_COUNT_LIMIT; more means "more than"
    searched_session_id: str | None = None  # the session id the person was found by, if any

    @property
    def attempts_truncated(self) -> bool:
        return self.attempt_total > len(self.attempts)


@dataclass(frozen=True)
class SessionSummary:
    """What is kept of a session that archive (completed) or cleanup (expired) removed."""

    session_id: str
    username: str
    flow_type: str
    outcome: str  # 'completed' or 'expired'
    step_count: int
    created_at: datetime
    ended_at: datetime
    removed_at: datetime

    @property
    def total_steps(self) -> int:
        return plan_steps(self.flow_type)


SESSION_COLUMNS = [
    "session_id",
    "flow_type",
    "status",  # SessionStatus, expired as soon as past expiry
    "summary_only",  # True: archived or cleaned up, only the summary is kept (no drawings)
    "step_count",
    "total_steps",
    "created_at",
    "last_activity_at",
    "expires_at",
    "completed_at",
    "removed_at",  # when archive or cleanup removed it (summaries only)
]
ATTEMPT_COLUMNS = [
    "attempted_at",
    "session_id",
    "accepted",
    "reason_code",
    "decided_by",  # which check decided (verification.CHECKS); NULL before migration 0013
    "score",
    "threshold",
    "ip",
    "user_agent",
    "drawing_kept",  # the sign-in session (and its drawing) is still in the temporary tables
    "summarised",  # its session was archived or cleaned up: only its summary is kept
]


def clean_search(text: Any) -> str | None:
    """The search as typed, trimmed; None when empty. Raises ValueError naming the field when too long."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    if len(cleaned) > SEARCH_MAX_LENGTH:
        raise ValueError(f"search must be at most {SEARCH_MAX_LENGTH} characters, got {len(cleaned)}")
    return cleaned or None


def find_person(db: Db, search: str) -> Person | None:
    """The person a username (case-insensitive) or a session id of theirs names; None when nothing is
    known of either (no account, no session, no summary, no sign-in attempt)."""
    text = clean_search(search)
    if text is None:
        return None
    with connection(db) as conn:
        searched_session_id = None
        username = text
        if text.startswith(SESSION_ID_PREFIX):
            owner = fetch(conn, query("session_owner"), {"session_id": text})
            if owner:
                username, searched_session_id = owner[0]["username"], text
        account_rows = fetch(conn, query("person_account"), {"username": username})
        session_rows = fetch(conn, query("person_sessions"), {"username": username, "limit": SESSION_LIMIT})
        if not account_rows and not session_rows:
            return None
        account = Account(**account_rows[0]) if account_rows else None
        attempt_rows: list[dict[str, Any]] = []
        attempt_total = 0
        if account is not None:
            attempt_rows = fetch(
                conn, query("person_sign_in_attempts"), {"user_id": account.user_id, "limit": ATTEMPT_LIMIT}
            )
            attempt_total = fetch(
                conn,
                query("person_sign_in_attempt_count"),
                {"user_id": account.user_id, "count_limit": ATTEMPT_COUNT_LIMIT + 1},
            )[0]["attempts"]
    return Person(
        username=account.username if account else session_rows[0]["username"],
        account=account,
        sessions=_sessions_frame(session_rows),
        attempts=to_frame(attempt_rows, ATTEMPT_COLUMNS),
        attempt_total=int(attempt_total),
        searched_session_id=searched_session_id,
    )


def session_summary(db: Db, session_id: str) -> SessionSummary | None:
    """The summary of a removed session; None when there is none (never existed, or still live)."""
    rows = fetch(db, query("session_summary"), {"session_id": session_id})
    if not rows:
        return None
    return SessionSummary(**rows[0])


def enrolled_drawings(db: Db, user_id: int) -> list[EnrolledDrawing]:
    """A user's enrolled drawings with their images (the signatures are what sign-in compares with)."""
    return [
        EnrolledDrawing(**drawing_fields(row), captured_at=row["captured_at"])
        for row in fetch(db, query("person_enrolled_drawings"), {"user_id": user_id})
    ]


def _sessions_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return to_frame([listed_session(row) for row in rows], SESSION_COLUMNS)


PEOPLE_MATCH_LIMIT = 20  # people listed for a part of a name
PEOPLE_MATCH_CANDIDATES = 200  # names read from each of accounts, sessions and summaries
PEOPLE_COLUMNS = ["username", "has_account", "last_seen"]


def people_matching(db: Db, part: str, limit: int = PEOPLE_MATCH_LIMIT) -> pd.DataFrame:
    """People whose username holds `part` (any case; under 3 characters, whose username starts with it),
    from the accounts, the sessions and their summaries: columns username (the account's spelling when
    there is one), has_account, last_seen (latest session start or sign-up); the exact name first, then
    names starting with it, then alphabetically; at most `limit`. Raises ValueError naming the field when
    the search is too long."""
    text = clean_search(part)
    if text is None:
        return to_frame([], PEOPLE_COLUMNS)
    if not 1 <= limit <= PEOPLE_MATCH_CANDIDATES:
        raise ValueError(f"limit must be between 1 and {PEOPLE_MATCH_CANDIDATES}, got {limit}")
    rows = fetch(
        db,
        query("people_matching"),
        {"part": text, "candidates": PEOPLE_MATCH_CANDIDATES, "limit": limit},
    )
    return to_frame(rows, PEOPLE_COLUMNS)
