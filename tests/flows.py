"""Shared steps for tests: drive the real service through whole flows."""

from __future__ import annotations

import psycopg

from enrollment_core.sample_drawings import drawing_payload
from enrollment_core.service import EnrollmentService
from enrollment_core.step_plan import total_steps


def draw_signup(service: EnrollmentService, username: str, steps: int | None = None, sample: int = 0) -> str:
    """Save the first `steps` signup steps (all by default); return the session id."""
    steps = total_steps("signup") if steps is None else steps
    session_id = service.save_drawing(drawing_payload(username, 1, sample=sample)).session_id
    for number in range(2, steps + 1):
        service.save_drawing(drawing_payload(username, number, session_id=session_id, sample=sample))
    return session_id


def register_user(service: EnrollmentService, username: str) -> str:
    session_id = draw_signup(service, username)
    service.register(username, session_id)
    return session_id


def draw_signin(
    service: EnrollmentService, username: str, *, sample: int = 50, person: str | None = None
) -> str:
    payload = drawing_payload(username, 1, flow_type="signin", sample=sample, person=person)
    return service.save_drawing(payload).session_id


def expire(db: psycopg.Connection, session_id: str) -> None:
    """Move a session's clock back past its expiry."""
    db.execute(
        "UPDATE temp_enrollments SET created_at = created_at - interval '3 hours',"
        " expires_at = NOW() - interval '1 minute' WHERE session_id = %s",
        (session_id,),
    )
