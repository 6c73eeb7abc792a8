"""What support staff do from the dashboard, one method per action: the action itself, a line in the staff
log (staff_actions: who, what, on what, when, result) and whatever must follow it (the dashboard's
figures refreshed, so the next screen shows its effect)."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from psycopg.types.json import Jsonb

from . import device_tokens, monitoring, rate_limits, sign_in_lockout
from .database import Pool, one
from .errors import DATABASE_UNAVAILABLE, ValidationError
from .queries import query
from .service import EnrollmentService

log = logging.getLogger(__name__)

STAFF_NAME_MAX_LENGTH = 100  # staff_actions.staff_name


class StaffAction(StrEnum):
    """staff_actions.action."""

    CLEANUP = "cleanup"
    ARCHIVE = "archive"
    UNLOCK_SIGN_IN = "unlock_sign_in"
    CLEAR_RATE_LIMIT = "clear_rate_limit"
    REVOKE_DEVICE_TOKEN = "revoke_device_token"
    SIGN_IN = "sign_in"  # a wrong password at the dashboard's door (target: the client address)


def clean_staff_name(name: Any) -> str:
    """The name a person gave at sign-in to the dashboard, trimmed, inner spaces collapsed; refused when
    empty, too long or holding control characters (it is written to the log and shown to other staff)."""
    if not isinstance(name, str):
        raise ValidationError("staff_name must be text", field="staff_name")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError("staff_name is required: the log records who did what", field="staff_name")
    if len(cleaned) > STAFF_NAME_MAX_LENGTH:
        raise ValidationError(
            f"staff_name must be at most {STAFF_NAME_MAX_LENGTH} characters", field="staff_name"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise ValidationError("staff_name must not contain control characters", field="staff_name")
    return cleaned


class StaffActions:
    """The actions of one member of staff (staff_name: the name they gave at sign-in)."""

    def __init__(self, service: EnrollmentService, staff_name: str) -> None:
        self.service = service
        self.staff_name = clean_staff_name(staff_name)

    def run_cleanup(self) -> int:
        """Delete every expired, never-completed session now (each leaves its summary); return how many."""
        removed = self._logged(StaffAction.CLEANUP, None, self.service.cleanup_expired, "removed", {})
        self._refresh_figures()
        return removed

    def run_archive(self, older_than_seconds: int) -> int:
        """Move completed sessions older than this to the archive summary; return how many."""
        moved = self._logged(
            StaffAction.ARCHIVE,
            None,
            lambda: self.service.archive_completed(older_than_seconds),
            "moved",
            {"older_than_seconds": older_than_seconds},
        )
        self._refresh_figures()
        return moved

    def unlock_sign_in(self, username: str, address: str | None = None) -> int:
        """Lift the sign-in lock of one client address on this account (every address's when None);
        return how many were lifted. Reading: sign_in_lockout.state_for_user."""
        target = f"{username} from {address}" if address else username
        return self._logged(
            StaffAction.UNLOCK_SIGN_IN,
            target,
            lambda: sign_in_lockout.unlock(self.service.pool, username, address),
            "unlocked",
            {"username": username, "address": address},
        )

    def clear_rate_limit(self, subject: str, family: rate_limits.Family | None = None) -> bool:
        """Lift a rate-limit block: one limit of this client made whole again, every limit when family
        is None. subject: rate_limits.ClientLimits.subject ('address ...' or 'account ...').
        Reading: rate_limits.blocks_for_address, blocks_for_user, recent_blocks."""
        cleared = self._logged(
            StaffAction.CLEAR_RATE_LIMIT,
            subject,
            lambda: int(rate_limits.clear(self.service.pool, subject, family)),
            "cleared",
            {"limit": str(family) if family else "all"},
        )
        return bool(cleared)

    def revoke_device_token(self, username: str, token_id: int | None = None) -> int:
        """Revoke one live device token of this account (every live one when token_id is None); return
        how many. A sign-in presenting it is then an unknown device (address locks, the account's
        slowdown). Reading: device_tokens.tokens_for_user."""
        return self._logged(
            StaffAction.REVOKE_DEVICE_TOKEN,
            username,
            lambda: device_tokens.revoke(self.service.pool, username, token_id),
            "revoked",
            {"username": username, "token_id": token_id},
        )

    def _refresh_figures(self) -> None:
        """Recount the dashboard's figures, so that the next screen shows the action's effect. When the
        database cannot answer that now, the action is done all the same (and said so): the figures are
        recounted by the next refresh instead."""
        try:
            monitoring.refresh_snapshot(self.service.pool)
        except DATABASE_UNAVAILABLE as error:
            log.warning("figures not refreshed after a staff action: %s: %s", type(error).__name__, error)

    def _logged(
        self,
        action: StaffAction,
        target: str | None,
        run: Callable[[], int],
        counted: str,
        parameters: dict[str, Any],
    ) -> int:
        """Run the action and log it, also when it fails (then with the error, and the error raised)."""
        try:
            count = run()
        except Exception as exc:
            self._log(action, target, False, {**parameters, "error": str(exc) or type(exc).__name__})
            raise
        self._log(action, target, True, {**parameters, counted: count})
        return count

    def _log(self, action: StaffAction, target: str | None, succeeded: bool, result: dict[str, Any]) -> None:
        with self.service.pool.connection() as conn:
            one(
                conn.execute(
                    query("record_staff_action"),
                    {
                        "staff_name": self.staff_name,
                        "action": str(action),
                        "target": target,
                        "succeeded": succeeded,
                        "result": Jsonb(result),
                    },
                ).fetchone()
            )


# ---------------------------------------------------------------- the staff door

# Wrong dashboard passwords from one address before its attempts are refused, and the window they count in.
STAFF_SIGN_IN_MAX_FAILURES = 10
STAFF_SIGN_IN_WINDOW_SECONDS = 900


@dataclass(frozen=True)
class StaffSignIn:
    """The outcome of one attempt to sign in to the dashboard."""

    signed_in: bool
    refused_until: datetime | None = None  # too many wrong passwords from this address: not compared


def staff_sign_in(
    db: Pool,
    address: str,
    staff_name: str,
    password_is_right: Callable[[], bool],
    *,
    max_failures: int = STAFF_SIGN_IN_MAX_FAILURES,
    window_seconds: int = STAFF_SIGN_IN_WINDOW_SECONDS,
) -> StaffSignIn:
    """One sign-in attempt from `address` (the client address as limits count it). An address with
    max_failures wrong passwords in the last window_seconds is refused without the password being
    compared (refused_until: when it may try again). A wrong password stays in the staff log (action
    sign_in, not succeeded, target the address).

    The attempt is charged first: its line is written as failed, under a lock on the address, before
    password_is_right() is asked, and removed when the password was right. So parallel attempts from one
    address are counted exactly (50 at once get 10 comparisons), and the time a comparison takes cannot
    be used to slip more past the count."""
    name = clean_staff_name(staff_name)
    params = {
        "address": address,
        "staff_name": name,
        "max_failures": max_failures,
        "window_seconds": window_seconds,
        "result": Jsonb({"password": "wrong"}),
    }
    with db.connection() as conn:  # one transaction: the address's lock, the count, the line
        conn.execute(query("lock_staff_door"), params)
        taken = one(conn.execute(query("take_staff_sign_in"), params).fetchone())
    if taken["attempt_id"] is None:
        return StaffSignIn(False, taken["refused_until"])
    if not password_is_right():
        return StaffSignIn(False)
    with db.connection() as conn:
        conn.execute(query("staff_sign_in_succeeded"), {"attempt_id": taken["attempt_id"]})
    return StaffSignIn(True)


def sign_in_at_door(
    service: EnrollmentService, address: str, staff_name: str, password_is_right: Callable[[], bool]
) -> StaffSignIn:
    """staff_sign_in on the service's database (the primary: the attempt is counted and logged there)."""
    return staff_sign_in(service.pool, address, staff_name, password_is_right)
