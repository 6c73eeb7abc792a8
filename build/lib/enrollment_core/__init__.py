"""enrollment_core: the database access and the rules of the signature-enrollment flow.

    from enrollment_core import open_service
    service = open_service()          # embedded PostgreSQL unless DATABASE_URL is set; schema migrated
    service.check_username("john_doe")
"""

from __future__ import annotations

from .config import Settings
from .database import create_pool, prepare_database
from .errors import EnrollmentError
from .maintenance import PeriodicCleanup
from .service import (
    ClientInfo,
    EnrollmentService,
    LoginResult,
    Progress,
    Registration,
    SaveResult,
    SessionInfo,
    UsernameCheck,
)

__all__ = [
    "ClientInfo",
    "EnrollmentError",
    "EnrollmentService",
    "LoginResult",
    "PeriodicCleanup",
    "Progress",
    "Registration",
    "SaveResult",
    "SessionInfo",
    "Settings",
    "UsernameCheck",
    "open_service",
]


def open_service(settings: Settings | None = None, *, background_cleanup: bool = False) -> EnrollmentService:
    """Connect (starting the embedded database if needed), migrate, and return a ready service.
    With background_cleanup, this process also offers to run the hourly cleanup and archiving;
    service.close() stops it."""
    settings = settings or Settings.from_env()
    url = prepare_database(settings)
    service = EnrollmentService(create_pool(url, settings), settings)
    if background_cleanup:
        service.start_background_maintenance()
    return service
