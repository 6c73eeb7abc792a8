"""Cleanup of expired sessions and archiving of completed ones, by command or on a timer.

Large backlogs are removed in batches, each its own short transaction, so that saves running meanwhile
never wait behind one giant delete. Each session removed leaves its summary in enrollment_archive, in
the same statement (migration 0010), so the dashboard's figures about the past do not change.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TypedDict, Unpack

from psycopg.types.json import Jsonb

from . import device_tokens
from .config import Settings
from .database import Pool, allow_long_transaction, one, session_advisory_lock
from .queries import query

log = logging.getLogger(__name__)

CLEANUP_JOB = "cleanup_expired_enrollments"
# The defaults of the settings (CLEANUP_BATCH_SIZE, LOGIN_LOCK_SECONDS), for callers that pass none.
DEFAULT_BATCH_SIZE = Settings.cleanup_batch_size
DEFAULT_LOCK_SECONDS = Settings.login_lock_seconds
# pg_try_advisory_lock key: one cleanup runner at a time across every instance of the product.
CLEANUP_LOCK_KEY = 7_263_110_002


def cleanup_expired(pool: Pool, batch_size: int = DEFAULT_BATCH_SIZE, pause_ratio: float = 0.0) -> int:
    """Delete all expired, never-completed sessions (steps included), each folded into its summary
    first; return how many were removed.

    Each batch is its own short transaction, so no save ever waits on the cleanup's locks for long.
    pause_ratio > 0 rests that many times the batch's duration after each batch, a cap on the
    cleanup's share of a slow disk (off by default: see docs/performance.md, section 4)."""
    removed = 0
    while True:
        started = time.monotonic()
        with pool.connection() as conn:
            allow_long_transaction(conn, pool.limits)
            # The batch's commit need not wait for its WAL to reach the disk: a crash could only undo
            # the last batches, which the next run deletes again. Saves' commits still wait for theirs.
            conn.execute(query("commit_without_waiting_for_wal"))
            batch = one(conn.execute(query("cleanup_expired_batch"), {"batch_size": batch_size}).fetchone())
        removed += int(batch["removed"])
        if batch["removed"] < batch_size:
            return removed
        _rest(started, pause_ratio)


def _rest(batch_started: float, pause_ratio: float) -> None:
    if pause_ratio > 0:
        time.sleep((time.monotonic() - batch_started) * pause_ratio)


def archive_completed(
    pool: Pool,
    older_than_seconds: int = 24 * 3600,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pause_ratio: float = 0.0,
) -> int:
    """Move completed sessions older than the cut-off into enrollment_archive (their summary; the
    drawings are deleted, a registered user's stay in user_enrolled_drawings); return how many. Paced
    like cleanup_expired."""
    moved = 0
    while True:
        started = time.monotonic()
        with pool.connection() as conn:
            allow_long_transaction(conn, pool.limits)
            count = conn.execute(
                query("archive_completed_batch"),
                {"older_than_seconds": older_than_seconds, "batch_size": batch_size},
            ).rowcount
        moved += count
        if count < batch_size:
            return moved
        _rest(started, pause_ratio)


def forget_idle_abuse_counters(pool: Pool, login_lock_seconds: int) -> int:
    """Delete rate-limit rows whose allowances are all whole again (the same as no row), sign-in
    failure counts that no longer count and device tokens long expired or revoked; return how many rows
    went."""
    with pool.connection() as conn:
        allow_long_transaction(conn, pool.limits)
        buckets = conn.execute(query("forget_whole_rate_limits")).rowcount
        failures = conn.execute(
            query("forget_stale_sign_in_failures"), {"lock_seconds": login_lock_seconds}
        ).rowcount
        tokens = device_tokens.forget_old(conn)
    return buckets + failures + tokens


class CleanupOptions(TypedDict, total=False):
    """run_cleanup_if_due's arguments after the interval, as PeriodicCleanup passes them on."""

    batch_size: int
    archive_after_seconds: int
    pause_ratio: float
    login_lock_seconds: int


def run_cleanup_if_due(
    pool: Pool,
    interval_seconds: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    archive_after_seconds: int = 0,
    pause_ratio: float = 0.0,
    login_lock_seconds: int = DEFAULT_LOCK_SECONDS,
) -> int | None:
    """Run the cleanup (and, when archive_after_seconds > 0, the archiving of completed sessions older
    than that, and the forgetting of idle abuse counters) if no instance has run it within the
    interval. Returns the number of expired sessions removed, or None when another instance holds the
    lock or ran it recently."""
    # A session-level lock: held for the whole run, over the session URL behind a transaction pooler.
    with session_advisory_lock(pool, CLEANUP_LOCK_KEY) as locked:
        if not locked:
            return None
        with pool.connection() as conn:
            due = conn.execute(
                query("claim_periodic_job"), {"job": CLEANUP_JOB, "interval_seconds": interval_seconds}
            ).fetchone()
        if not due:
            return None
        removed = cleanup_expired(pool, batch_size, pause_ratio)
        archived = (
            archive_completed(pool, archive_after_seconds, batch_size, pause_ratio)
            if archive_after_seconds
            else 0
        )
        forgotten = forget_idle_abuse_counters(pool, login_lock_seconds)
        result = {"removed": removed, "archived": archived}
        with pool.connection() as conn:
            conn.execute(query("record_periodic_result"), {"job": CLEANUP_JOB, "result": Jsonb(result)})
        log.info(
            "periodic maintenance: %d expired sessions removed, %d completed archived, "
            "%d idle rate-limit and sign-in counters forgotten",
            removed,
            archived,
            forgotten,
        )
        return removed


class PeriodicCleanup:
    """A daemon thread that offers to run the cleanup (and archiving) every few minutes; the database
    decides whether it is due (once per interval across all instances)."""

    def __init__(self, pool: Pool, interval_seconds: int, **options: Unpack[CleanupOptions]) -> None:
        self.pool = pool
        self.interval_seconds = interval_seconds
        self.options = options  # the rest of run_cleanup_if_due's arguments, its defaults where left out
        # Check more often than the interval so that a stopped instance's turn is taken up quickly.
        self.poll_seconds = max(1.0, min(300.0, interval_seconds / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periodic-cleanup", daemon=True)

    def start(self) -> PeriodicCleanup:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_cleanup_if_due(self.pool, self.interval_seconds, **self.options)
            except Exception:  # a database hiccup must not kill the thread; the next round retries
                log.exception("periodic cleanup failed")
            self._stop.wait(self.poll_seconds)
