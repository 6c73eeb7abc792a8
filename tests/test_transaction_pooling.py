"""The pool in transaction-pooling mode (DB_TRANSACTION_POOLING=1, for PgBouncer), against the real
PostgreSQL of the suite (PgBouncer itself is in the cluster tests: tests/test_cluster.py). What the
mode changes: no server-side prepared statements, no session-level SETs (the limits must come from the
server side, and are checked at start), session-level locks over DATABASE_SESSION_URL."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from enrollment_core.config import DatabaseLimits, Settings
from enrollment_core.database import PoolerLimitsError, create_pool, prepare_database, session_advisory_lock
from enrollment_core.maintenance import CLEANUP_LOCK_KEY, run_cleanup_if_due
from tests.flows import draw_signup, service_on


def set_database_limits(db: psycopg.Connection, statement_ms: int, lock_ms: int, idle_ms: int) -> None:
    """What a PgBouncer connect_query or ALTER ROLE ... SET does: limits every new connection gets."""
    name = db.info.dbname
    for setting, value in (("statement_timeout", statement_ms), ("lock_timeout", lock_ms),
                           ("idle_in_transaction_session_timeout", idle_ms)):  # fmt: skip
        db.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
            sql.Identifier(name), sql.Identifier(setting), sql.Literal(value)))  # fmt: skip


def pooled(settings: Settings) -> Settings:
    return replace(settings, transaction_pooling=True, session_database_url=settings.database_url)


def test_a_pool_without_the_limits_server_side_refuses_to_start_and_says_why(
    db_url: str, settings: Settings
) -> None:
    with pytest.raises(PoolerLimitsError) as refused:
        create_pool(db_url, pooled(settings), name="test-pooled")
    message = str(refused.value)
    assert "statement_timeout is 0 ms where the settings ask for 5000 ms" in message
    assert "lock_timeout is 0 ms where the settings ask for 2000 ms" in message
    assert "connect_query" in message and "DB_TRANSACTION_POOLING" in message


def test_a_pool_in_transaction_mode_prepares_nothing_and_sets_nothing_per_session(
    db_url: str, settings: Settings, db: psycopg.Connection
) -> None:
    set_database_limits(db, 5000, 2000, 10000)
    # Set per session, these would stay behind on a server connection PgBouncer hands to others.
    quick = replace(settings.database_limits, statement_timeout_seconds=0.25)
    wrong = "statement_timeout is 5000 ms where the settings ask for 250 ms"
    with pytest.raises(PoolerLimitsError, match=wrong):
        create_pool(db_url, replace(pooled(settings), database_limits=quick), name="test-pooled")

    with service_on(db_url, pooled(settings), name="test-pooled") as service:
        assert service.pool.transaction_pooling
        # A whole signup, register, and many more executions than psycopg's prepare threshold (5).
        session_id = draw_signup(service, "pooled_user")
        service.register("pooled_user", session_id)
        for _ in range(10):
            service.check_username("someone_else")
        with service.pool.connection() as conn:
            assert conn.prepare_threshold is None
            prepared = conn.execute("SELECT count(*) AS n FROM pg_prepared_statements").fetchone()
            assert prepared is not None and prepared["n"] == 0
            # The server-side limits are the ones in force; the pool set none of its own.
            rows = conn.execute(
                "SELECT name, setting, source FROM pg_settings"
                " WHERE name IN ('statement_timeout', 'lock_timeout')"
            ).fetchall()
            assert {r["name"]: (r["setting"], r["source"]) for r in rows} == {
                "statement_timeout": ("5000", "database"),
                "lock_timeout": ("2000", "database"),
            }


def test_the_direct_mode_still_sets_the_limits_per_connection(db_url: str, settings: Settings) -> None:
    with create_pool(db_url, settings, name="test-direct") as pool, pool.connection() as conn:
        assert not pool.transaction_pooling
        row = conn.execute(
            "SELECT setting, source FROM pg_settings WHERE name = 'statement_timeout'"
        ).fetchone()
        assert row is not None and (row["setting"], row["source"]) == ("5000", "session")


def test_the_cleanup_lock_is_held_on_the_session_url_behind_a_pooler(
    db_url: str, settings: Settings, db: psycopg.Connection
) -> None:
    set_database_limits(db, 5000, 2000, 10000)
    with create_pool(db_url, pooled(settings), name="test-pooled") as pool:
        assert pool.session_url == db_url
        with session_advisory_lock(pool, CLEANUP_LOCK_KEY) as taken:
            assert taken
            holders = db.execute(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted"
            ).fetchone()
            assert holders is not None and holders["n"] == 1
            # Another instance meanwhile: the lock is taken, it runs nothing.
            assert run_cleanup_if_due(pool, interval_seconds=1) is None
        # Released with its own connection: nothing held anywhere afterwards.
        held = db.execute("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert held is not None and held["n"] == 0
        assert run_cleanup_if_due(pool, interval_seconds=1) == 0


def test_transaction_pooling_without_a_session_url_is_refused(db_url: str, settings: Settings) -> None:
    without = replace(settings, transaction_pooling=True, session_database_url=None)
    with pytest.raises(ValueError, match="DATABASE_SESSION_URL is not set"):
        create_pool(db_url, without, name="test-pooled")
    with pytest.raises(ValueError, match="DATABASE_SESSION_URL is not set"):
        prepare_database(without)


def test_transaction_pooling_is_read_as_a_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_TRANSACTION_POOLING", "1")
    monkeypatch.setenv("DATABASE_SESSION_URL", "postgresql://direct/enrollment")
    monkeypatch.setenv("DASHBOARD_READ_URL", "postgresql://standby/enrollment")
    settings = Settings.from_env()
    assert settings.transaction_pooling
    assert settings.session_database_url == "postgresql://direct/enrollment"
    assert settings.dashboard_read_url == "postgresql://standby/enrollment"
    monkeypatch.setenv("DB_TRANSACTION_POOLING", "maybe")
    with pytest.raises(ValueError, match="DB_TRANSACTION_POOLING must be 0 or 1, got 'maybe'"):
        Settings.from_env()
    assert DatabaseLimits().statement_timeout_seconds == 5.0
