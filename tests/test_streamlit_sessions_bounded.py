"""Nothing a visitor sends can make a Streamlit app open more database connections than its pool allows
(issue 24, item 3). Driven over Streamlit's real websocket protocol against `streamlit run`: 100 rounds of
the "clear caches" message (which needs no sign-in) and a rerun, with PostgreSQL's own count of the
connections to the app's database (pg_stat_activity) checked as it goes. Before, the enrollment app
opened a new pool on every round without closing the old one (40 rounds: 4 -> 44 connections), and one
such message closed the dashboard staff's pool."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psycopg

from dashboard import auth
from tests.streamlit_server import streamlit_app
from tests.streamlit_ws import StreamlitSocket

ROUNDS = 100
POOL_MAX = 3


def app_env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": str(POOL_MAX),
        "RATE_LIMIT_LOOKUPS_PER_HOUR": "0",  # 100 name checks from one visitor: not what is tested here
        **extra,
    }


def backends(db: psycopg.Connection) -> set[int]:
    """The server processes connected to the test database, other than this test's own connection."""
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return {row["pid"] for row in rows}


async def clear_and_rerun(url: str, query_string: str, db: psycopg.Connection) -> tuple[int, list[str]]:
    """ROUNDS x (clear caches, rerun) on one websocket: the most connections seen, and what the last run
    drew."""
    most = 0
    async with StreamlitSocket.connect(url) as app:
        drawn = await app.rerun(query_string)
        for round_number in range(ROUNDS):
            await app.clear_cache()
            drawn = await app.rerun(query_string)
            if round_number % 5 == 4:
                most = max(most, len(backends(db)))
    return most, drawn


def test_clear_cache_rounds_leave_the_enrollment_apps_connections_bounded(
    db_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    with streamlit_app("enrollment_app/app.py", app_env(db_url), tmp_path / "app.log") as url:
        # A start page with a name in it checks the name in the database on every run.
        most, drawn = asyncio.run(clear_and_rerun(url, "flow=signup&user=bounded_bea", db))
        assert "Sign your name" in drawn, drawn  # the app still works afterwards: step 1
        assert 1 <= most <= POOL_MAX, f"{most} connections after {ROUNDS} rounds (pool of {POOL_MAX})"
        # And it still answers from another browser after the rounds.
        _, drawn = asyncio.run(clear_and_rerun_once(url, "flow=signup&user=bounded_bo"))
        assert "Sign your name" in drawn, drawn
    assert backends(db) == set()  # the app's process ended: its pool's connections are gone


async def clear_and_rerun_once(url: str, query_string: str) -> tuple[int, list[str]]:
    async with StreamlitSocket.connect(url) as app:
        return 0, await app.rerun(query_string)


def test_a_visitors_clear_cache_leaves_the_dashboards_staff_pool_open(
    db_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    password = "a-staff-secret"
    env = app_env(db_url, DASHBOARD_PASSWORD=password, DASHBOARD_BACKGROUND_CLEANUP="0")
    # Staff signed in earlier: their browser sends the dashboard's signed cookie.
    cookie = auth.make_cookie("Sam Support", password, time.time(), 3600)
    staff_headers = {"Cookie": f"{auth.COOKIE_NAME}={cookie}"}
    with streamlit_app("dashboard/app.py", env, tmp_path / "dashboard.log") as url:

        async def visit() -> tuple[list[str], set[int], int, list[str], list[str]]:
            async with StreamlitSocket.connect(url, staff_headers) as staff_page:
                overview = await staff_page.rerun()
                first = backends(db)
                most, drawn = await clear_and_rerun(url, "", db)  # a visitor who never signs in
                again = await staff_page.rerun()
                return overview, first, most, drawn, again

        overview, first, most, drawn, again = asyncio.run(visit())
        assert "Overview" in overview and "Overview" in again, (overview, again)
        assert first, "the dashboard's pool opened no connection"
        assert any("Staff sign-in" in text for text in drawn), drawn
        assert 1 <= most <= POOL_MAX, f"{most} connections after {ROUNDS} rounds (pool of {POOL_MAX})"
        # The staff's pool was never closed and reopened: its first connections are still the same.
        assert first <= backends(db)
