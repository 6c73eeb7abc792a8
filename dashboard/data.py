"""The dashboard's connection to the database: one EnrollmentService (and its pool) per process."""

from __future__ import annotations

import logging
import os
import threading

import streamlit as st
from psycopg_pool import ConnectionPool

from dashboard import auth
from enrollment_core import EnrollmentService, monitoring, open_service
from enrollment_core.config import DatabaseLimits
from enrollment_core.database import Pool, create_pool
from enrollment_core.errors import DATABASE_UNAVAILABLE
from enrollment_core.staff import StaffActions

log = logging.getLogger(__name__)
# How often the background thread checks the snapshot; it refreshes it when older than this, so pages
# read figures at most about a minute old without waiting for the (seconds-long) refresh themselves.
SNAPSHOT_CHECK_SECONDS = 30.0


def _close(service: EnrollmentService) -> None:
    service.close()  # also stops the background cleanup thread, which would poll a closed pool


# on_release closes the pool when the cache is cleared (tests, a changed DATABASE_URL).
@st.cache_resource(show_spinner="Connecting to the database…", on_release=_close)
def _service(database_url: str | None, background_cleanup: bool) -> EnrollmentService:
    # database_url is only the cache key: open_service reads the same settings from the environment.
    return open_service(background_cleanup=background_cleanup)


def service() -> EnrollmentService:
    # The dashboard offers to run the hourly cleanup like every app instance (the database makes sure it
    # runs once per interval in all); DASHBOARD_BACKGROUND_CLEANUP=0 turns that off (tests, read-only use).
    background = os.environ.get("DASHBOARD_BACKGROUND_CLEANUP", "1") != "0"
    return _service(os.environ.get("DATABASE_URL") or None, background)


def staff() -> StaffActions:
    """What the signed-in person can do (cleanup, archive), each one call, logged under their name."""
    return StaffActions(service(), auth.staff_name())


def pool() -> ConnectionPool:
    """Where the pages read: the hot standby when DASHBOARD_READ_URL is set, else the primary. Writes
    (staff actions, the snapshot, cleanup) go to the primary: staff(), writer_pool()."""
    read_url = os.environ.get("DASHBOARD_READ_URL") or None
    return _read_pool(read_url, os.environ.get("DATABASE_URL") or None) if read_url else writer_pool()


def writer_pool() -> ConnectionPool:
    return service().pool


def reads_from_standby() -> bool:
    return bool(os.environ.get("DASHBOARD_READ_URL"))


# on_release closes the pool when the cache is cleared (tests, a changed DASHBOARD_READ_URL).
@st.cache_resource(show_spinner="Connecting to the database…", on_release=lambda pool: pool.close())
def _read_pool(read_url: str, database_url: str | None) -> Pool:
    # A direct connection to the standby (it takes the session limits as it opens); a stale snapshot
    # found there is refreshed on the primary's pool (enrollment_core.database.writer_of).
    settings, writer = service().settings, writer_pool()
    return create_pool(read_url, settings, name="dashboard-read", transaction_pooling=False, writer=writer)


def limits() -> DatabaseLimits:
    """The time limits of the dashboard's connections (read from the environment, as open_service does:
    also known when the service could not be opened)."""
    return DatabaseLimits.from_env()


def _refresh_snapshots(stop: threading.Event, db: ConnectionPool) -> None:
    while not stop.wait(SNAPSHOT_CHECK_SECONDS):
        try:
            monitoring.ensure_snapshot(db, max_age_seconds=SNAPSHOT_CHECK_SECONDS)
        except Exception:  # a database hiccup must not kill the thread; the next round retries
            log.exception("dashboard snapshot refresh failed")


@st.cache_resource(on_release=lambda stop: stop.set())
def _snapshot_refresher(database_url: str | None) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=_refresh_snapshots, args=(stop, writer_pool()), name="dashboard-snapshots", daemon=True
    ).start()
    return stop


def start_background_refresh() -> None:
    """Keep the dashboard's snapshot fresh from a daemon thread (one per process), unless background work
    is off (DASHBOARD_BACKGROUND_CLEANUP=0: tests, read-only use); readers then refresh it themselves."""
    if os.environ.get("DASHBOARD_BACKGROUND_CLEANUP", "1") != "0":
        try:
            _snapshot_refresher(os.environ.get("DATABASE_URL") or None)
        except DATABASE_UNAVAILABLE as error:  # no database to open yet: pages say so, the next run retries
            log.warning("dashboard snapshot refresher not started: %s: %s", type(error).__name__, error)
