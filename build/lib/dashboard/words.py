"""The words staff read: the database's codes (flow, status, verdict reason, staff action, table) and
why the database did not answer, in plain words, in one place. An unknown code (a newer release's) is
shown as it is rather than hidden."""

from __future__ import annotations

import psycopg
import psycopg_pool

from enrollment_core.config import DatabaseLimits

FLOWS = {"signup": "Sign-up", "signin": "Sign-in"}

# A session's state as staff see it. "summary" sessions were removed from the temporary tables by
# archive (completed) or cleanup (expired): only their summary is kept, without drawings.
STATUSES = {"in_progress": "In progress", "completed": "Completed", "expired": "Expired"}
SUMMARY_STATUSES = {"completed": "Completed, archived", "expired": "Expired, cleaned up"}

# Why a sign-in was accepted or rejected (login_attempts.reason_code), for staff.
REASONS = {
    "match": "Matches",
    "no_match": "Does not match",
    "replay": "Copy of an enrolled signature",
    "empty": "Empty or too small",
    "untimed": "Sent without its timing",
    "implausible_timing": "Timing not drawn by a hand",
}
# Which check refused it (login_attempts.decided_by), where the reason alone does not say (an untimed
# account's only comparison, "shape", adds nothing to "Does not match").
CHECKS = {
    "constant_speed": "Timing not drawn by a hand: one constant speed",
    "too_fast": "Timing not drawn by a hand: faster than any hand",
    "copy_enrolled": "Copy of an enrolled signature",
    "copy_recent": "Copy of a recent sign-in",
    "rhythm": "Does not match: shape and rhythm",
    "timing": "Does not match: speed of drawing",
    "duration": "Does not match: took much longer or shorter than enrolled",
}

STAFF_ACTIONS = {
    "cleanup": "Cleanup of expired sessions",
    "archive": "Archive of completed sessions",
    "unlock_sign_in": "Sign-in unlocked",
    "clear_rate_limit": "Sign-in limit cleared",
    "sign_in": "Sign-in to this dashboard refused",
}

# Each rate limit (rate_limits.Family): what the client did too much of, and the limit's name.
LIMIT_REASONS = {
    "lookups": "too many username checks",
    "saves": "too many drawings saved in a short time",
    "sessions": "too many enrollments started",
    "upload_bytes": "too much drawing data sent",
    "signins": "too many sign-in attempts",
    "signin_failures": "too many rejected sign-ins",
}
LIMIT_NAMES = {
    "lookups": "username-check limit",
    "saves": "drawing-save limit",
    "sessions": "enrollment-start limit",
    "upload_bytes": "drawing-data limit",
    "signins": "sign-in limit",
    "signin_failures": "limit on rejected sign-ins",
    "all": "every limit",
}

# What each table holds, for the Maintenance page.
TABLES = {
    "temp_enrollments": "Sessions",
    "temp_enrollment_steps": "Their drawings",
    "enrollment_archive": "Summaries of removed sessions",
}


def flow(code: str) -> str:
    return FLOWS.get(code, code)


def status(code: str, summary_only: bool = False) -> str:
    return (SUMMARY_STATUSES if summary_only else STATUSES).get(code, code)


def reason(code: str, check: str | None = None) -> str:
    """The verdict's reason; for a refusal, the check that refused it when known."""
    return CHECKS.get(check or "") or REASONS.get(code, code)


def staff_action(code: str) -> str:
    return STAFF_ACTIONS.get(code, code)


def limit_reason(code: str | None) -> str:
    return LIMIT_REASONS.get(code or "", "too many requests")


def limit_name(code: str | None) -> str:
    return LIMIT_NAMES.get(code or "all", code or "every limit")


def table(name: str) -> str:
    return TABLES.get(name, name)


# How the apps count a client that has no network address (enrollment_app.browser.stand_in): one browser.
BROWSER_PREFIX = "browser "


def address(value: object) -> str:
    """A client address as staff read it (plain text; callers escape it for Markdown): the address; a
    browser that reached the app from the server's own machine, which Streamlit gives no address, by
    its own short id; a direct call that gave none (command line, tests) as such. Never "unknown"."""
    if not isinstance(value, str) or not value:  # also pandas' NaN for a missing one
        return "no address (a direct call, not through the app or the API)"
    if value.startswith(BROWSER_PREFIX):
        browser_id = value.removeprefix(BROWSER_PREFIX)
        return f"a browser on the server's own machine (no network address; browser id {browser_id})"
    return value


def count(n: int, thing: str) -> str:
    """'1 session', '3 sessions', '1,204 sessions'."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def steps(done: int, total: int) -> str:
    """'3 of 11 steps', '1 of 1 step'."""
    return f"{done} of {total} step{'' if total == 1 else 's'}"


def database_down(error: BaseException, limits: DatabaseLimits) -> str:
    """Why the database did not answer (an errors.DATABASE_UNAVAILABLE), as a clause for "The database is
    not answering right now (…)"; limits: those of the dashboard's connections."""
    if isinstance(error, psycopg_pool.TooManyRequests):
        return f"more than {limits.pool_max_waiting} requests were already waiting for a connection"
    if isinstance(error, psycopg_pool.PoolTimeout):
        return f"no connection to it within {limits.pool_timeout_seconds:g} s: it may be down or overloaded"
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return "a table it needs stayed locked by other work longer than a page waits"
    if isinstance(error, psycopg.errors.QueryCanceled):
        return "a query ran past its time limit"
    if isinstance(error, psycopg.errors.IdleInTransactionSessionTimeout):
        return "it ended a transaction that had been left waiting"
    return "it cannot be reached: it may be down or restarting"
