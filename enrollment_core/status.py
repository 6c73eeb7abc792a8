"""What state a session is in: the rules both the write side (service) and the read side (monitoring)
apply, in one place, and the one mapping of a session's row (the get_enrollment query) to SessionInfo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from .step_plan import FlowType


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


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    username: str
    flow_type: FlowType
    status: str  # in_progress, completed or expired (also when past expiry but not yet marked)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    device_info: str | None
    metadata: dict[str, Any]
    bound: bool = False  # started with a client secret: continues only with it

    @classmethod
    def from_row(cls, row: Mapping[str, Any], **more: Any) -> Self:
        """The session of a get_enrollment row (the service's and the staff's alike); `more`: the
        fields a subclass adds (monitoring.SessionDetail)."""
        return cls(
            session_id=row["session_id"],
            username=row["username"],
            flow_type=row["flow_type"],
            status=effective_status(row["status"], row["is_expired"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            expires_at=row["expires_at"],
            completed_at=row["completed_at"],
            device_info=row["device_info"],
            metadata=dict(row["metadata"] or {}),
            bound=row["client_secret_hash"] is not None,
            **more,
        )
