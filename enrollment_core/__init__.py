"""enrollment_core: the database access and the rules of the signature-enrollment flow.

    from enrollment_core import open_service, process_configuration
    service = open_service(process_configuration().settings)   # embedded PostgreSQL unless DATABASE_URL
    service.check_username("john_doe")                         # is set; schema migrated
"""

from __future__ import annotations

from .config import Configuration, Settings, process_configuration
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
    UsernameCheck,
)
from .status import SessionInfo

__all__ = [
    "ClientInfo",
    "Configuration",
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
    "process_configuration",
]


def open_service(settings: Settings, *, background_cleanup: bool = False) -> EnrollmentService:
    """Connect (starting the embedded database if needed), migrate, and return a ready service.
    With background_cleanup, this process also offers to run the hourly cleanup and archiving;
    service.close() stops it."""
    url = prepare_database(settings)
    service = EnrollmentService(create_pool(url, settings), settings)
    if background_cleanup:
        service.start_background_maintenance()
    return service
