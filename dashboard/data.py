"""The dashboard's connection to the database: one EnrollmentService (and its pool) per process."""

from __future__ import annotations

import os

import streamlit as st
from psycopg_pool import ConnectionPool

from enrollment_core import EnrollmentService, open_service


def _close(service: EnrollmentService) -> None:
    service.pool.close()


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


def pool() -> ConnectionPool:
    return service().pool
