"""Typed errors of the enrollment flow.

Every refusal is an EnrollmentError with a machine-readable `code`, the `field` it concerns (when one
does) and a human `message`; the HTTP API maps each class to one status code, the apps show the message.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

# The database could not answer the request: PostgreSQL is down or restarting, or it did not answer
# within its limits (no pooled connection within DB_POOL_TIMEOUT_SECONDS: psycopg_pool.PoolTimeout; a
# statement or lock wait cut off: QueryCanceled, LockNotAvailable; a transaction left idle ended by the
# server: IdleInTransactionSessionTimeout), or too many requests already wait for a connection
# (psycopg_pool.TooManyRequests). The transaction was rolled back: nothing of the request was saved, so
# it can be sent again once the database answers. All are psycopg.OperationalError subclasses except
# IdleInTransactionSessionTimeout (an InternalError), hence a tuple, for `except DATABASE_UNAVAILABLE:`.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.errors.IdleInTransactionSessionTimeout,
)


class EnrollmentError(Exception):
    """Base class: a request the flow refuses. Nothing was changed in the database."""

    code = "enrollment_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}


class ValidationError(EnrollmentError):
    """A field is missing, malformed or out of range."""

    code = "validation_error"


class PayloadTooLarge(ValidationError):
    """A field is larger than its documented limit (see enrollment_core.validation)."""

    code = "payload_too_large"


class UsernameUnavailable(EnrollmentError):
    """Signup: the username is already registered (case-insensitively)."""

    code = "username_taken"


class UserNotFound(EnrollmentError):
    """Signin: no registered user has this username."""

    code = "user_not_found"


class SessionNotFound(EnrollmentError):
    """No session with this id for this username (unknown, cleaned up, or started by someone else)."""

    code = "session_not_found"


class SessionExpired(EnrollmentError):
    """The session passed its expiry time; its drawings will be removed by cleanup."""

    code = "session_expired"


class SessionClosed(EnrollmentError):
    """The session is already completed and used; it accepts no more steps or registrations."""

    code = "session_closed"


class SessionElsewhere(EnrollmentError):
    """The session was started by a client holding a secret (a device token, a browser's own secret)
    and continues only with it: this request came without it, e.g. a session link opened in another
    browser. Nothing was done; the session goes on where it started."""

    code = "session_elsewhere"


class StepConflict(EnrollmentError):
    """The step was already saved with different content, or is not the next step of the plan."""

    code = "step_conflict"


class EnrollmentIncomplete(EnrollmentError):
    """register/login on a session that has not drawn every step of its plan."""

    code = "enrollment_incomplete"


class WrongFlow(EnrollmentError):
    """A signin session passed to register, or a signup session passed to login."""

    code = "wrong_flow"


class AccountLocked(EnrollmentError):
    """Too many rejected sign-ins in a row from this client address: signing in to this account from
    here is locked until `locked_until` (from elsewhere it is not)."""

    code = "account_locked"

    def __init__(self, message: str, *, locked_until: datetime, field: str | None = "username") -> None:
        super().__init__(message, field=field)
        self.locked_until = locked_until


class NoEnrolledSignatures(EnrollmentError):
    """The account has no usable enrolled signatures to verify a sign-in against."""

    code = "no_enrolled_signatures"


class RateLimited(EnrollmentError):
    """Too many requests of one kind from this client address (or rejected sign-ins of this account):
    refused, and nothing was done; the same request may be sent again after `retry_after_seconds`.
    `limit` names the limit (enrollment_core.rate_limits.Family)."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after_seconds: int, limit: str, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit
