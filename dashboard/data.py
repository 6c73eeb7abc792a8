"""The dashboard's connection to the database: one EnrollmentService (and its pool) per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from typing import cast

import streamlit as st

from dashboard import auth
from enrollment_core import EnrollmentService, open_service
from enrollment_core.config import Configuration, DatabaseLimits, Settings, process_configuration
from enrollment_core.errors import DATABASE_UNAVAILABLE
from enrollment_core.shared_service import SharedService
from enrollment_core.staff import StaffActions
from enrollment_core.staff_reads import StaffReads

log = logging.getLogger(__name__)
# How often the background thread checks the snapshot; it refreshes it when older than this, so pages
# read figures at most about a minute old without waiting for the (seconds-long) refresh themselves.
SNAPSHOT_CHECK_SECONDS = 30.0


def configuration() -> Configuration:
    """This process's settings, every part of them (enrollment_core.config: read once per process)."""
    return process_configuration()


def _open(key: Hashable) -> EnrollmentService:
    # The key (the core's settings, background work on or off) tells when to open anew (tests).
    settings, background_cleanup = cast("tuple[Settings, bool]", key)
    return open_service(settings, background_cleanup=background_cleanup)


# One pool per process, not st.cache_resource: any visitor, signed in or not, can send Streamlit's "clear
# caches" message, which closed the staff's pool under their running queries (enrollment_core.shared_service).
_SHARED: SharedService[EnrollmentService] = SharedService(_open)


def _key() -> tuple[Settings, bool]:
    # The dashboard offers to run the hourly cleanup like every app instance (the database makes sure it
    # runs once per interval in all); DASHBOARD_BACKGROUND_CLEANUP=0 turns that off (tests, read-only use).
    configured = configuration()
    return configured.settings, configured.dashboard.background_work


def service() -> EnrollmentService:
    key = _key()
    if _SHARED.is_open(key):
        return _SHARED.get(key)
    with st.spinner("Connecting to the database…"):
        return _SHARED.get(key)


def close_service() -> None:
    """Stop the snapshot thread and close the dashboard's pool (tests; the process ending does it too)."""
    _REFRESHER.close()
    _STANDBY.close()
    _SHARED.close()


def staff() -> StaffActions:
    """What the signed-in person can do (cleanup, archive), each one call, logged under their name."""
    return StaffActions(service(), auth.staff_name())


def reads() -> StaffReads:
    """Where the pages read: the hot standby when DASHBOARD_READ_URL is set, else the primary. Writes
    (staff actions, the snapshot, cleanup) go to the primary: staff()."""
    settings = configuration().settings
    if settings.dashboard_read_url is None:
        return service().staff_reads()
    return _standby_reads(settings.dashboard_read_url, settings.database_url)


def reads_from_standby() -> bool:
    return configuration().settings.dashboard_read_url is not None


# The standby's reads: one pool per process too (not st.cache_resource, whose "clear caches" any visitor
# can send), opened anew only when DASHBOARD_READ_URL or DATABASE_URL changes (tests).
def _open_standby(key: Hashable) -> StaffReads:
    read_url, _database_url = cast("tuple[str, str | None]", key)
    return service().standby_reads(read_url)


_STANDBY: SharedService[StaffReads] = SharedService(_open_standby)


def _standby_reads(read_url: str, database_url: str | None) -> StaffReads:
    key = (read_url, database_url)
    if _STANDBY.is_open(key):
        return _STANDBY.get(key)
    with st.spinner("Connecting to the database…"):
        return _STANDBY.get(key)


def limits() -> DatabaseLimits:
    """The time limits of the dashboard's connections (the settings open_service is given: also known
    when the service could not be opened)."""
    return configuration().settings.database_limits


def _refresh_snapshots(stop: threading.Event, figures: StaffReads) -> None:
    while not stop.wait(SNAPSHOT_CHECK_SECONDS):
        try:
            figures.refresh_snapshot(SNAPSHOT_CHECK_SECONDS)
        except Exception:  # a database hiccup must not kill the thread; the next round retries
            log.exception("dashboard snapshot refresh failed")


class _SnapshotRefresher:
    """The thread keeping the snapshot of one primary fresh; close() stops it."""

    def __init__(self, primary: EnrollmentService) -> None:
        self._stop = threading.Event()
        threading.Thread(
            target=_refresh_snapshots,
            args=(self._stop, primary.staff_reads()),
            name="dashboard-snapshots",
            daemon=True,
        ).start()

    def close(self) -> None:
        self._stop.set()


# The snapshot thread: one per process, for the database it was started for (not st.cache_resource,
# for the same reason as the pool: a visitor's "clear caches" would stop and start it at will).
_REFRESHER: SharedService[_SnapshotRefresher] = SharedService(
    lambda primary: _SnapshotRefresher(cast(EnrollmentService, primary))
)


def _snapshot_refresher() -> None:
    # The primary: the snapshot is written there. Raises when the database cannot be opened (the old
    # thread, if any, goes on).
    _REFRESHER.get(service())


def start_background_refresh() -> None:
    """Keep the dashboard's snapshot fresh from a daemon thread (one per process), unless background work
    is off (DASHBOARD_BACKGROUND_CLEANUP=0: tests, read-only use); readers then refresh it themselves."""
    if configuration().dashboard.background_work:
        try:
            _snapshot_refresher()
        except DATABASE_UNAVAILABLE as error:  # no database to open yet: pages say so, the next run retries
            log.warning("dashboard snapshot refresher not started: %s: %s", type(error).__name__, error)
