"""Readiness: can this API save a drawing right now? Answered from the event loop on a connection of its
own, so the answer comes in well under a second even when every pooled connection and worker thread is
busy with saves (a probe queued behind them would time out, and a load balancer would take a busy but
healthy server out of service).

The probe reads the sessions table under a short lock_timeout, so a held table lock that stalls every
save makes the server "not ready" too, instead of "ok" while nothing can be saved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from enrollment_core.database import Pool
from enrollment_core.queries import query

log = logging.getLogger(__name__)

# The whole probe (connecting included) answers within this many seconds.
PROBE_SECONDS = 0.5


class ReadinessProbe:
    def __init__(
        self,
        conninfo: str | Callable[[], str],
        timeout: float = PROBE_SECONDS,
        *,
        transaction_pooling: bool = False,
    ) -> None:
        """conninfo: the pool's (psycopg_pool accepts a string or a function returning one).
        transaction_pooling: conninfo is a transaction pooler (PgBouncer), where a session-level SET
        would stay on a server connection that saves use next: the probe's short limits are then set
        for its own transaction only."""
        self.conninfo = conninfo
        self.timeout = timeout
        self.transaction_pooling = transaction_pooling
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._lock = asyncio.Lock()  # one probe at a time on the one connection

    @classmethod
    def of(cls, pool: Pool) -> ReadinessProbe:
        """The probe of the database `pool` connects to, the way it connects."""
        return cls(pool.conninfo, transaction_pooling=pool.transaction_pooling)

    def _limits(self) -> dict[str, str]:
        # The server gives up before we do, a lock wait first, so that a held lock is named as such.
        statement, lock = str(round(self.timeout * 600)), str(round(self.timeout * 400))  # ms
        return {"statement_timeout": statement, "lock_timeout": lock}

    async def problem(self) -> str | None:
        """None when the database answers and its sessions table can be read now; otherwise why not,
        in words for the person reading the load balancer's log."""
        try:
            async with asyncio.timeout(self.timeout), self._lock:
                await self._check()
            return None
        except TimeoutError:
            reason = f"the database did not answer within {self.timeout:g} seconds"
        except psycopg.errors.UndefinedTable:
            reason = "the database has no enrollment schema yet"
        except psycopg.errors.LockNotAvailable:
            reason = "the sessions table is locked: saves cannot finish now"
        except psycopg.Error as exc:
            reason = f"the database is unavailable ({type(exc).__name__})"
        await self.close()  # a connection in an unknown state is not reused: the next probe reconnects
        return reason

    async def _check(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                await self._probe(self._conn)
                return
            except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
                raise  # the database answered: the sessions table cannot be read now
            except psycopg.OperationalError:
                # Broken since the last probe (the server restarted meanwhile): that says nothing of
                # now. Once more on a new connection, within the same time limit.
                await self.close()
        self._conn = await self._connect()
        await self._probe(self._conn)

    async def _probe(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        if not self.transaction_pooling:
            await conn.execute(query("readiness_check"))
            return
        async with conn.transaction():  # one server connection for the limits and the check
            await conn.execute(query("set_transaction_limits"), self._limits())
            await conn.execute(query("readiness_check"))

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        conninfo = self.conninfo() if callable(self.conninfo) else self.conninfo
        if self.transaction_pooling:  # no server-side prepared statements, no session-level SETs
            return await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=2, prepare_threshold=None
            )
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, connect_timeout=2)
        limits = self._limits()
        idle = {"idle_in_transaction_timeout": limits["statement_timeout"]}
        await conn.execute(query("set_session_limits"), {**limits, **idle})
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:
                log.debug("closing the readiness connection failed", exc_info=True)
