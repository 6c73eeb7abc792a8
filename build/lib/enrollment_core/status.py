"""What state a session is in: the rules both the write side (service) and the read side (monitoring)
apply, in one place."""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    """temp_enrollments.status (the design note's values)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    EXPIRED = "expired"


def effective_status(stored: str, is_expired: bool) -> SessionStatus:
    """A session past its expiry is 'expired' even before cleanup or a save marks it so."""
    if stored == SessionStatus.IN_PROGRESS and is_expired:
        return SessionStatus.EXPIRED
    return SessionStatus(stored)
