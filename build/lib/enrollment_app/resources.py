"""The enrollment service, shared by every browser session of this app process: one pool per process,
which nothing a visitor sends can multiply or close (enrollment_core.shared_service)."""

from __future__ import annotations

import os
from collections.abc import Hashable

import streamlit as st

from enrollment_core import EnrollmentService, open_service
from enrollment_core.shared_service import SharedService


def _open(_key: Hashable) -> EnrollmentService:
    # background_cleanup: while the app runs it also takes its turn at the hourly cleanup of
    # expired sessions (the database makes sure only one instance runs it per interval).
    # The key (DATABASE_URL) only tells when to open anew: open_service reads the environment itself.
    return open_service(background_cleanup=True)


_SHARED = SharedService(_open)


def get_service() -> EnrollmentService:
    """The app's service (AppTest tests replace this function to inject the test database's service)."""
    key = os.environ.get("DATABASE_URL") or None
    if _SHARED.is_open(key):
        return _SHARED.get(key)
    with st.spinner("Getting ready…"):  # words for the person, not the machinery
        return _SHARED.get(key)


def close_service() -> None:
    """Close the app's pool (tests; the process ending closes it anyway)."""
    _SHARED.close()
