"""The save's contract in one place: every outcome save_enrollment_step (sql/schema.sql) can return,
and what each means to a caller: a result, or the typed error it raises.
tests/test_save_outcome.py checks that every outcome the SQL can return is listed and mapped."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from . import validation
from .errors import (
    EnrollmentError,
    SessionClosed,
    SessionExpired,
    SessionNotFound,
    StepConflict,
    UsernameUnavailable,
    UserNotFound,
    ValidationError,
)
from .validation import DrawingStep


class SaveOutcome(StrEnum):
    CREATED = "created"  # step 1 started a new session
    SAVED = "saved"
    DUPLICATE = "duplicate"  # a retry of a saved step with the same content; nothing written
    USERNAME_TAKEN = "username_taken"
    USER_NOT_FOUND = "user_not_found"
    NOT_FOUND = "not_found"
    WRONG_FLOW = "wrong_flow"
    NOT_IN_PLAN = "not_in_plan"
    CONFLICT = "conflict"
    COMPLETED = "completed"
    EXPIRED = "expired"
    OUT_OF_ORDER = "out_of_order"


ACCEPTED = frozenset({SaveOutcome.CREATED, SaveOutcome.SAVED, SaveOutcome.DUPLICATE})


def session_not_found() -> SessionNotFound:
    """No such session (for this user): the one wording wherever a person is told so. A session started
    by someone else is reported exactly like an unknown one."""
    return SessionNotFound(
        "no enrollment session with this id (it may have expired and been removed)", field="session_id"
    )


def session_expired() -> SessionExpired:
    return SessionExpired("this enrollment session has expired; please start again", field="session_id")


def _not_in_plan(drawing: DrawingStep, row: Mapping[str, Any]) -> EnrollmentError:
    problem = validation.plan_problem(drawing, row["flow_type"])
    if problem is None:  # the database's plan says no where step_plan says yes
        raise RuntimeError("enrollment_step_plan differs from step_plan.PLAN: run the migrations")
    return problem


Refusal = Callable[[DrawingStep, Mapping[str, Any]], EnrollmentError]

# outcome -> the error of that refusal (drawing: what was sent; row: save_enrollment_step's row).
REFUSALS: dict[SaveOutcome, Refusal] = {
    SaveOutcome.USERNAME_TAKEN: lambda d, _: UsernameUnavailable(
        f"username {d.username!r} is already taken", field="username"
    ),
    SaveOutcome.USER_NOT_FOUND: lambda d, _: UserNotFound(
        f"no account is registered as {d.username!r}", field="username"
    ),
    SaveOutcome.NOT_FOUND: lambda _d, _r: session_not_found(),
    SaveOutcome.WRONG_FLOW: lambda d, row: ValidationError(
        f"the flow type is {d.flow_type!r} but this session is a {row['flow_type']} session",
        field="flow_type",
    ),
    SaveOutcome.NOT_IN_PLAN: _not_in_plan,
    SaveOutcome.CONFLICT: lambda d, _: StepConflict(
        f"step {d.step} is already saved with a different drawing", field="step"
    ),
    SaveOutcome.COMPLETED: lambda _d, _r: SessionClosed(
        "this enrollment is already completed", field="session_id"
    ),
    SaveOutcome.EXPIRED: lambda _d, _r: session_expired(),
    SaveOutcome.OUT_OF_ORDER: lambda d, row: StepConflict(
        f"step {d.step} cannot be saved yet: the next step of this session is {row['expected_step']}",
        field="step",
    ),
}


def refusal(drawing: DrawingStep, row: Mapping[str, Any]) -> EnrollmentError:
    """The typed error for a refusing row of save_enrollment_step."""
    outcome = SaveOutcome(row["outcome"])  # ValueError on an outcome this release does not know
    return REFUSALS[outcome](drawing, row)
