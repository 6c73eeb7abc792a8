"""Sign-in lockout that cannot be aimed at someone else (NIST SP 800-63B 5.2.2, OWASP).

- Rejected sign-ins lock the pair (account, client address): LOGIN_MAX_FAILURES rejections in a row
  from one address lock that address out of the account for LOGIN_LOCK_SECONDS (table
  sign_in_lockouts). The owner signing in from anywhere else is not locked.
- Rejections of one account from every address together spend its allowance of failures
  (rate_limits.Family.SIGNIN_FAILURES, RATE_LIMIT_ACCOUNT_FAILURES_PER_HOUR): once it is spent, the
  account's sign-ins are slowed (refused with Retry-After until the allowance refills), never locked.
- users.failed_logins counts the account's rejections in a row, from any address, for staff.
An accepted sign-in clears its address's count and the account's count.

login (service.py) uses lock_of, record_failure and record_success inside its transaction, after
locking the user's row, so counts are exact under concurrency. Staff: state_for_user, locked_now and
unlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .database import Connection, Db, connection, one
from .errors import AccountLocked
from .queries import query
from .rate_limits import address_subject, blocks_for_user


def address_key(ip: str | None) -> str:
    """The address a lock is kept for: the client address (an IPv6 one as its /64 network, as the rate
    limits count it), or '' when the caller gave none."""
    return address_subject(ip) if ip else ""


def locked_error(locked_until: datetime) -> AccountLocked:
    return AccountLocked(
        "too many rejected sign-ins from your network: signing in to this account from here is locked "
        f"until {locked_until:%H:%M UTC}; try again later",
        locked_until=locked_until,
    )


@dataclass(frozen=True)
class AddressLock:
    """One address's rejections in a row on one account, and its lock (None when not locked now)."""

    failures: int
    locked_until: datetime | None


def lock_of(conn: Connection, user_id: int, address: str, lock_seconds: int) -> AddressLock:
    row = conn.execute(
        query("sign_in_lock"), {"user_id": user_id, "address": address, "lock_seconds": lock_seconds}
    ).fetchone()
    return AddressLock(row["failures"], row["locked_until"]) if row else AddressLock(0, None)


def record_failure(
    conn: Connection, user_id: int, address: str, max_failures: int, lock_seconds: int
) -> AddressLock:
    """One more rejection from this address; at max_failures in a row the address is locked out."""
    params = {
        "user_id": user_id,
        "address": address,
        "max_failures": max_failures,
        "lock_seconds": lock_seconds,
    }
    row = one(conn.execute(query("record_sign_in_failure"), params).fetchone())
    return AddressLock(row["failures"], row["locked_until"])


def record_success(conn: Connection, user_id: int, address: str) -> None:
    conn.execute(query("clear_sign_in_failures"), {"user_id": user_id, "address": address})


# ---------------------------------------------------------------- staff


@dataclass(frozen=True)
class AddressState:
    address: str  # '' when the sign-ins came with no client address
    failures: int  # rejections in a row from this address
    last_failed_at: datetime
    locked_until: datetime | None  # set while this address is locked out of the account


@dataclass(frozen=True)
class LockoutState:
    """An account's sign-in state for staff."""

    username: str
    failed_logins: int  # rejections in a row from every address since the last accepted sign-in
    last_failed_at: datetime | None
    addresses: list[AddressState]  # latest failure first
    slowed_until: datetime | None  # set while the account's allowance of failures is spent: sign-ins wait

    @property
    def locked_addresses(self) -> list[AddressState]:
        return [a for a in self.addresses if a.locked_until is not None]


def state_for_user(db: Db, username: str) -> LockoutState | None:
    """Which addresses are locked out of this account until when, every address's rejections in a row,
    the account's recent failure count and its current slow-down (seen once a sign-in was refused for
    it); None when there is no such account."""
    with connection(db) as conn:
        row = conn.execute(query("account_lockout_state"), {"username": username}).fetchone()
    if row is None:
        return None
    account = blocks_for_user(db, username)
    slowed = account.blocked_until if account is not None else None
    return LockoutState(
        username=row["username"],
        failed_logins=row["failed_logins"],
        last_failed_at=row["last_failed_at"],
        addresses=[_address_state(a) for a in row["addresses"]],
        slowed_until=slowed,
    )


def _address_state(item: dict[str, Any]) -> AddressState:
    until = item["locked_until"]
    return AddressState(
        address=item["address"],
        failures=item["failures"],
        last_failed_at=datetime.fromisoformat(item["last_failed_at"]),
        locked_until=datetime.fromisoformat(until) if until else None,
    )


@dataclass(frozen=True)
class Lock:
    """One address locked out of one account now."""

    username: str
    address: str  # '' when the sign-ins came with no client address
    failures: int
    locked_until: datetime


def locked_now(db: Db, limit: int = 50) -> list[Lock]:
    """Every (account, address) pair locked out now, the latest lock first, at most `limit`."""
    with connection(db) as conn:
        rows = conn.execute(query("sign_in_locks_now"), {"limit": limit}).fetchall()
    return [Lock(r["username"], r["address"], r["failures"], r["locked_until"]) for r in rows]


def unlock(db: Db, username: str, address: str | None = None) -> int:
    """Lift the lock (and forget the rejections in a row) of one address on this account, or of every
    address when address is None; return how many addresses were unlocked. The account's slow-down is
    lifted with rate_limits.clear(db, rate_limits.account_key(username))."""
    with connection(db) as conn:
        return conn.execute(query("unlock_sign_in"), {"username": username, "address": address}).rowcount
