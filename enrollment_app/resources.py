"""What the app process holds for every browser session: its configuration (read from the environment
once) and the enrollment service, one pool per process, which nothing a visitor sends can multiply or
close (enrollment_core.shared_service)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import cast

import streamlit as st

from enrollment_core import EnrollmentService, open_service
from enrollment_core.config import Configuration, Settings, process_configuration
from enrollment_core.shared_service import SharedService


def configuration() -> Configuration:
    """This process's settings, every part of them (enrollment_core.config: read once per process)."""
    return process_configuration()


def _open(key: Hashable) -> EnrollmentService:
    # background_cleanup: while the app runs it also takes its turn at the hourly cleanup of
    # expired sessions (the database makes sure only one instance runs it per interval).
    return open_service(cast(Settings, key), background_cleanup=True)


_SHARED: SharedService[EnrollmentService] = SharedService(_open)


def get_service() -> EnrollmentService:
    """The app's service (AppTest tests replace this function to inject the test database's service)."""
    key = configuration().settings  # the service is opened anew only when the core's settings change
    if _SHARED.is_open(key):
        return _SHARED.get(key)
    with st.spinner("Getting ready…"):  # words for the person, not the machinery
        return _SHARED.get(key)


def close_service() -> None:
    """Close the app's pool (tests; the process ending closes it anyway)."""
    _SHARED.close()
