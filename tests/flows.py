"""Shared steps for tests: drive the real service through whole flows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import psycopg

from api.wire import save_drawing_json
from enrollment_core.commands import SaveDrawing
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import EnrollmentService
from enrollment_core.step_plan import steps_of, total_steps


def draw_signup(service: EnrollmentService, username: str, steps: int | None = None, sample: int = 0) -> str:
    """Save the first `steps` signup steps (all by default); return the session id."""
    steps = total_steps("signup") if steps is None else steps
    session_id = service.save_drawing(sample_drawing(username, 1, sample=sample)).session_id
    for number in range(2, steps + 1):
        service.save_drawing(sample_drawing(username, number, session_id=session_id, sample=sample))
    return session_id


def drawing_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """sample_drawing's command as the save-drawing JSON body a client posts."""
    return save_drawing_json(sample_drawing(*args, **kwargs))


def register_user(service: EnrollmentService, username: str) -> str:
    session_id = draw_signup(service, username)
    service.register(username, session_id)
    return session_id


def draw_signin(
    service: EnrollmentService, username: str, *, sample: int = 50, person: str | None = None
) -> str:
    payload = sample_drawing(username, 1, flow_type="signin", sample=sample, person=person)
    return service.save_drawing(payload).session_id


def expire(db: psycopg.Connection, session_id: str) -> None:
    """Move a session's clock back past its expiry."""
    db.execute(
        "UPDATE temp_enrollments SET created_at = created_at - interval '3 hours',"
        " expires_at = NOW() - interval '1 minute' WHERE session_id = %s",
        (session_id,),
    )


@contextmanager
def service_on(url: str, settings: Settings, name: str = "test") -> Iterator[EnrollmentService]:
    """A service with its own pool on `url` and these settings, closed when the block ends."""
    with create_pool(url, settings, name=name) as pool:
        yield EnrollmentService(pool, settings)


@contextmanager
def locked(db_url: str, table: str) -> Iterator[None]:
    """`table` locked by another connection (as a long migration or a stuck maintenance job would)
    until the block ends."""
    with psycopg.connect(db_url) as holder:  # a transaction: the lock is held until its rollback
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


def pad_raw(strokes: list[np.ndarray]) -> dict[str, Any]:
    """A drawing in the pad's timed format (signature_pad's shape), in canvas-like pixels."""
    points = np.concatenate(strokes)
    lo, span = points[:, :2].min(axis=0), np.ptp(points[:, :2], axis=0).max() or 1.0
    t0 = points[0, 2]
    return {
        "strokes": [
            {
                "pointerType": "pen",
                "points": [
                    {"x": float((x - lo[0]) / span * 300 + 20), "y": float((y - lo[1]) / span * 150 + 40),
                     "time": float(t - t0)}
                    for x, y, t in s
                ],
            }
            for s in strokes
        ]
    }  # fmt: skip


def signup_with_signatures(
    username: str, genuine: dict[int, list[np.ndarray]], save: Callable[[SaveDrawing], str]
) -> str:
    """Draw a whole signup whose signature steps carry the user's timed signatures (genuine[1], [2], ...
    as pad_raw draws them), each step through `save` (which returns the session id); its session id."""
    session_id: str | None = None
    signature = 0
    for step in steps_of("signup"):
        command = sample_drawing(username, step.number, session_id=session_id)
        if step.type == "signature":
            signature += 1
            command = replace(command, raw=pad_raw(genuine[signature]), metrics=None)
        session_id = save(command)
    assert session_id is not None, "a signup has steps"
    return session_id
