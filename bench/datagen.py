"""Fast, set-based generation of sessions and steps (bench/bench.sql: generate_sessions)."""

from __future__ import annotations

import time

import psycopg
from tqdm import tqdm

from .common import bench_query

CHUNK = 50_000  # sessions per statement: a progress bar that moves, and transactions of a few seconds


def generate(
    url: str,
    first: int,
    last: int,
    *,
    expired_only: bool = False,
    ttl_seconds: int = 7200,
    progress: bool = True,
    label: str = "sessions",
) -> float:
    """Insert sessions number first..last (and their steps); VACUUM ANALYZE; return the seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            # Needs a superuser; otherwise just slower.
            conn.execute(bench_query("skip_foreign_key_triggers"))
        except psycopg.errors.InsufficientPrivilege:
            pass
        with tqdm(
            total=last - first + 1,
            desc=f"generating {label}",
            unit="session",
            unit_scale=True,
            disable=not progress,
        ) as bar:
            for lo in range(first, last + 1, CHUNK):
                hi = min(last, lo + CHUNK - 1)
                insert_sessions(conn, lo, hi, expired_only=expired_only, ttl_seconds=ttl_seconds)
                bar.update(hi - lo + 1)
        conn.execute(bench_query("remember_usernames"))  # the trigger that replica mode skipped
        # As autovacuum would have by then: statistics for the planner, visibility map for index-only scans.
        conn.execute(bench_query("vacuum_sessions"))
        conn.execute(bench_query("vacuum_steps"))
        conn.execute(bench_query("vacuum_session_usernames"))
    return time.perf_counter() - started


def generate_archive(url: str, first: int, last: int) -> float:
    """Insert summaries number first..last into enrollment_archive (past sessions of the generated
    sessions' people, see bench.sql) and remember their names; VACUUM ANALYZE; return the seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for lo in range(first, last + 1, CHUNK):
            conn.execute(bench_query("generate_archive"), {"first": lo, "last": min(last, lo + CHUNK - 1)})
        conn.execute(bench_query("remember_usernames"))
        conn.execute(bench_query("vacuum_archive"))
        conn.execute(bench_query("vacuum_session_usernames"))
    return time.perf_counter() - started


def insert_sessions(
    conn: psycopg.Connection, first: int, last: int, *, expired_only: bool = False, ttl_seconds: int = 7200
) -> int:
    """Insert sessions number first..last and their steps in one statement (a realistic mix of states,
    see bench.sql); return how many sessions. Also for tests that need many sessions quickly."""
    params = {"first": first, "last": last, "expired_only": expired_only, "ttl_seconds": ttl_seconds}
    conn.execute(bench_query("generate_sessions"), params)
    return last - first + 1


def table_sizes(url: str) -> dict[str, dict[str, int]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return {row.pop("table_name"): row for row in conn.execute(bench_query("table_sizes"))}
