"""The enrollment service, shared by every browser session of this app process."""

from __future__ import annotations

import streamlit as st

from enrollment_core import EnrollmentService, open_service


@st.cache_resource(show_spinner="Getting ready…")  # words for the person, not the machinery
def _open_service() -> EnrollmentService:
    # background_cleanup: while the app runs it also takes its turn at the hourly cleanup of
    # expired sessions (the database makes sure only one instance runs it per interval).
    return open_service(background_cleanup=True)


def get_service() -> EnrollmentService:
    """The app's service (AppTest tests replace this function to inject the test database's service)."""
    return _open_service()
