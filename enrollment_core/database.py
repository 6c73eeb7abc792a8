"""Connections: which PostgreSQL to use, schema set-up, and the connection pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout, TooManyRequests

from . import embedded_postgres, migrations
from .config import DatabaseLimits, Settings
from .queries import query

log = logging.getLogger(__name__)

# Every connection of the project's pools returns rows as dicts (column name -> value).
Connection = psycopg.Connection[DictRow]


class Pool(ConnectionPool[Connection]):
    """psycopg's pool with two changes, both found by killing PostgreSQL under load:

    - each connection is checked as it is handed out and a broken one replaced at once: after a
      restart every pooled connection is broken, and psycopg's own check slept 1, 2, 4 s... between
      them (its reconnection back-off), holding requests for seconds after the database was back;
    - the queue bound (`max_waiting`) counts the requests waiting now. psycopg_pool's own counts
      requests that gave up waiting too, until a connection is returned: after an outage longer than
      its reconnection attempts, the queue stayed "full" of them, every request was refused at once,
      and, none being queued, none asked for a new connection: it never reconnected.

    `limits` are the timeouts its connections were configured with. `transaction_pooling`: they go
    through a transaction pooler, and `session_url`, when set, is where work that needs a session of
    its own connects (session_advisory_lock). `writer`, set on a pool that reads from a standby, is
    the pool writes go to (writer_of)."""

    def __init__(
        self,
        *args: Any,
        limits: DatabaseLimits,
        max_waiting: int = 0,
        session_url: str | None = None,
        writer: Pool | None = None,
        transaction_pooling: bool = False,
        **kwargs: Any,
    ) -> None:
        self.limits = limits
        self.transaction_pooling = transaction_pooling
        self.session_url = session_url
        self.writer = writer
        self.max_waiting_requests = max_waiting
        self._waiting_now = 0
        self._waiting_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def getconn(self, timeout: float | None = None) -> Connection:
        with self._waiting_lock:
            if self.max_waiting_requests and self._waiting_now >= self.max_waiting_requests:
                waiting = f"{self._waiting_now} requests waiting"
                raise TooManyRequests(f"the pool {self.name!r} has already {waiting}")
            self._waiting_now += 1
        try:
            return self._working_connection(self.timeout if timeout is None else timeout)
        finally:
            with self._waiting_lock:
                self._waiting_now -= 1

    def _working_connection(self, wait: float) -> Connection:
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            conn = super().getconn(timeout=left)
            try:
                ConnectionPool.check_connection(conn)
            except psycopg.Error:
                self.putconn(conn)  # broken: the pool drops it and opens a replacement in the background
                continue
            return conn
        raise PoolTimeout(f"couldn't get a working connection after {wait:.2f} sec")


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


NO_SESSION_URL = (
    "DB_TRANSACTION_POOLING is on but DATABASE_SESSION_URL is not set: migrations and the cleanup "
    "runner hold session-level locks, which a transaction pooler cannot keep; set DATABASE_SESSION_URL "
    "to the primary itself (or a session-mode pool)"
)


def session_database_url(settings: Settings) -> str:
    """Where work that holds a session-level lock connects: DATABASE_SESSION_URL, else database_url
    (which a transaction pooler cannot be)."""
    if settings.session_database_url:
        return settings.session_database_url
    if settings.transaction_pooling:
        raise ValueError(NO_SESSION_URL)
    return database_url(settings)


def prepare_database(settings: Settings) -> str:
    """Resolve the database and bring its schema up to date; return its URL. Apps call this on start.
    Migrations hold a session-level advisory lock, so they run over the session URL."""
    url = database_url(settings)
    applied = migrations.migrate(session_database_url(settings))
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return url


class PoolerLimitsError(RuntimeError):
    """Under transaction pooling, the server connections behind the pooler lack the time limits the
    settings ask for (the product would wait without bound where it promises a 503 within seconds)."""


def create_pool(
    url: str,
    settings: Settings,
    *,
    name: str = "enrollment",
    transaction_pooling: bool | None = None,
    writer: Pool | None = None,
) -> Pool:
    """A pool whose waits are all bounded (settings.database_limits, see config.DatabaseLimits): a
    request waits a few seconds at most for a connection, a full queue is refused at once
    (psycopg_pool.TooManyRequests), each statement and lock wait has a time limit, and a database
    that comes back is reconnected to within about a second. Connections are checked before use, so a
    PostgreSQL restart costs a reconnect, not an error to the user.

    With transaction pooling (settings.transaction_pooling unless given: `url` is a PgBouncer in
    transaction mode) each transaction may run on another server connection, so nothing may rest on
    session state: psycopg prepares no statements on the server (prepare_threshold=None), the time
    limits are not SET per connection (they would stay on one server connection and reach other
    clients' transactions) but must be set pooler-side, which is checked here (PoolerLimitsError), and
    session-level locks go to settings.session_database_url (session_advisory_lock).
    `writer`: for a pool reading from a standby, the pool writes go to (writer_of)."""
    limits = settings.database_limits
    pooled = settings.transaction_pooling if transaction_pooling is None else transaction_pooling
    if pooled and not settings.session_database_url:
        raise ValueError(NO_SESSION_URL)
    kwargs: dict[str, Any] = {"row_factory": dict_row, "connect_timeout": limits.connect_timeout_seconds}
    if pooled:
        kwargs["prepare_threshold"] = None
    pool = Pool(
        url,
        limits=limits,
        connection_class=Connection,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs=kwargs,
        configure=None if pooled else (lambda conn: _set_session_limits(conn, limits)),
        timeout=limits.pool_timeout_seconds,
        max_waiting=limits.pool_max_waiting,
        reconnect_timeout=limits.reconnect_seconds,
        session_url=settings.session_database_url if pooled else None,
        writer=writer,
        transaction_pooling=pooled,
        name=name,
        open=True,
    )
    try:
        pool.wait(timeout=30)
        if pooled:
            check_pooler_limits(pool, limits)
    except BaseException:
        pool.close()
        raise
    return pool


def _wanted_limits(limits: DatabaseLimits) -> dict[str, str]:
    return {
        "statement_timeout": _ms(limits.statement_timeout_seconds),
        "lock_timeout": _ms(limits.lock_timeout_seconds),
        "idle_in_transaction_session_timeout": _ms(limits.idle_in_transaction_seconds),
    }


def check_pooler_limits(pool: Pool, limits: DatabaseLimits) -> None:
    """Raise PoolerLimitsError unless a connection through the pooler has the time limits the settings
    ask for (in PgBouncer, each server connection gets them from connect_query: deploy/pgbouncer.ini)."""
    with pool.connection() as conn:
        found = {row["name"]: row["setting"] for row in conn.execute(query("current_session_limits"))}
    wrong = [
        f"{name} is {found.get(name, 'unset')} ms where the settings ask for {want} ms"
        for name, want in _wanted_limits(limits).items()
        if found.get(name) != want
    ]
    if wrong:
        raise PoolerLimitsError(
            "DB_TRANSACTION_POOLING is on, but on connections through DATABASE_URL "
            + "; ".join(wrong)
            + ". Under transaction pooling the application cannot set them per connection: set them on "
            "the pooler's server connections (PgBouncer's connect_query, see deploy/pgbouncer.ini.in) or "
            "on the database role (ALTER ROLE ... SET), or change the DB_*_TIMEOUT_SECONDS settings."
        )


_D = TypeVar("_D")


def writer_of(db: _D) -> _D:
    """Where writes go: the primary's pool for a pool that reads from a standby, else db itself."""
    if isinstance(db, Pool) and db.writer is not None:
        return cast(_D, db.writer)
    return db


def catch_up(db: object, timeout: float = 2.0) -> bool:
    """For a pool reading from a standby, after a write through writer_of(db): wait (at most `timeout`
    seconds) until the standby has replayed everything the primary committed so far, so that the next
    read sees the write. True when it has (at once for anything but a standby's pool)."""
    if not isinstance(db, Pool) or db.writer is None:
        return True
    with connection(db.writer) as conn:
        lsn = one(conn.execute(query("current_wal_position")).fetchone())["lsn"]
    deadline = time.monotonic() + timeout
    while True:
        with connection(db) as conn:
            if one(conn.execute(query("replayed_up_to"), {"lsn": lsn}).fetchone())["done"]:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


@contextmanager
def session_advisory_lock(pool: Pool, key: int) -> Iterator[bool]:
    """Try to take the session-level advisory lock `key`; yield whether it was taken, and release it
    after the block. Behind a transaction pooler (pool.session_url set) the lock is held on a
    connection of its own to the session URL: taken and released through the pooler, they could land
    on two server connections, and the lock would stay held by whatever client came next."""
    if pool.session_url is None:
        with pool.connection() as conn:
            conn.autocommit = True
            try:
                with _locked(conn, key) as taken:
                    yield taken
            finally:
                if not conn.closed:  # a broken connection is discarded by the pool anyway
                    conn.autocommit = False
        return
    with psycopg.connect(
        pool.session_url,
        autocommit=True,
        row_factory=dict_row,
        connect_timeout=pool.limits.connect_timeout_seconds,
    ) as own, _locked(own, key) as taken:
        yield taken


@contextmanager
def _locked(conn: Connection, key: int) -> Iterator[bool]:
    taken = bool(one(conn.execute(query("try_advisory_lock"), {"key": key}).fetchone())["ok"])
    try:
        yield taken
    finally:
        if taken and not conn.closed:
            conn.execute(query("advisory_unlock"), {"key": key})


def _ms(seconds: float) -> str:
    return str(round(seconds * 1000))  # PostgreSQL's unit for these settings; 0 turns a limit off


def _set_session_limits(conn: Connection, limits: DatabaseLimits) -> None:
    """The pool's configure hook: this connection's time limits, in one round trip, as it opens."""
    conn.autocommit = True  # the pool wants the connection idle, not in a transaction, afterwards
    conn.execute(
        query("set_session_limits"),
        {
            "statement_timeout": _ms(limits.statement_timeout_seconds),
            "lock_timeout": _ms(limits.lock_timeout_seconds),
            "idle_in_transaction_timeout": _ms(limits.idle_in_transaction_seconds),
        },
    )
    conn.autocommit = False


def allow_long_transaction(conn: psycopg.Connection[Any], limits: DatabaseLimits) -> None:
    """For the rest of this transaction, the longer time limits of work over many rows (cleanup,
    archiving, the dashboard's snapshot) instead of a request's."""
    conn.execute(
        query("set_transaction_limits"),
        {
            "statement_timeout": _ms(limits.maintenance_statement_timeout_seconds),
            "lock_timeout": _ms(limits.maintenance_lock_timeout_seconds),
        },
    )


def limits_of(db: object) -> DatabaseLimits:
    """The limits of the pool `db` (a caller's own connection, e.g. in a test: the defaults)."""
    return db.limits if isinstance(db, Pool) else DatabaseLimits()


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
