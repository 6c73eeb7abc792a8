"""Connections: which PostgreSQL to use, schema set-up, and the connection pool."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from . import embedded_postgres, migrations
from .config import Settings

log = logging.getLogger(__name__)

# Every connection of the project's pools returns rows as dicts (column name -> value).
Connection = psycopg.Connection[DictRow]
Pool = ConnectionPool[Connection]
# What staff readers take: the pool, or a caller's own connection (one transaction, e.g. in a test).
Db = Pool | Connection


@contextmanager
def connection(db: Db) -> Iterator[Connection]:
    """A connection from the pool (committed when the block ends), or the caller's own."""
    if isinstance(db, ConnectionPool):
        with db.connection() as conn:
            yield conn
    else:
        yield db


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set (start nothing); otherwise the embedded server, started if needed."""
    if settings.database_url:
        return settings.database_url
    return embedded_postgres.ensure_running(settings.embedded_data_dir)


def prepare_database(settings: Settings) -> str:
    """Resolve the database and bring its schema up to date; return its URL. Apps call this on start."""
    url = database_url(settings)
    applied = migrations.migrate(url)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return url


def create_pool(url: str, settings: Settings, *, name: str = "enrollment") -> Pool:
    """A pool whose connections are checked before use, so a PostgreSQL restart costs one reconnect,
    not an error to the user."""
    pool: Pool = ConnectionPool(
        url,
        connection_class=Connection,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={"row_factory": dict_row},
        check=ConnectionPool.check_connection,
        name=name,
        open=True,
    )
    pool.wait(timeout=30)
    return pool


def one(row: dict[str, Any] | None) -> dict[str, Any]:
    """The row of a statement that always returns one (a function call, an aggregate, an UPSERT ...
    RETURNING): None there is a broken contract, not a case to handle."""
    if row is None:
        raise RuntimeError("the statement returned no row where it always returns one")
    return row


def execute_as_own_transaction(
    conn: Connection, sql: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Run one statement as its own transaction (autocommit) and return its first row: one round trip
    instead of two (the statement, then COMMIT). Only for a statement that is atomic by itself, on a
    pooled connection with no transaction open."""
    conn.autocommit = True
    try:
        return conn.execute(sql, params).fetchone()
    finally:
        if not conn.closed:  # a broken connection is discarded by the pool anyway
            conn.autocommit = False
