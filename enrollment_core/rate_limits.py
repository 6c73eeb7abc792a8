"""Rate limits and quotas, kept in PostgreSQL so that they hold across API processes, the Streamlit app
and machines (no other server).

Each limit is a token bucket per (family, subject), a row of rate_limit_buckets: it holds up to
`capacity` tokens and refills evenly over `period_seconds`; a request takes its cost (1, or its size in
bytes) when the bucket holds enough, else it is refused with RateLimited and Retry-After. One statement
(the take_rate_limit_tokens function) checks every bucket of one request and locks them, so limits stay
exact under concurrency: take() sends it (one round trip), and the common save runs it inside its own
statement (none). Subjects are client addresses, except for rejected sign-ins of an account
(SIGNIN_FAILURES), keyed by the lower-case username. A caller that gives no client address (the CLI,
benchmarks, tests driving the service) is not limited per address.

Settings: config.RateLimitSettings (environment variables RATE_LIMIT_*; 0 turns a limit off).
Staff: blocks_for_address, blocks_for_user, recent_blocks to read; clear / clear_address to lift.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from .config import RateLimitSettings
from .database import Connection, Db, connection, execute_as_own_transaction, one
from .errors import RateLimited
from .queries import query


class Family(StrEnum):
    """What a bucket limits."""

    LOOKUP = "lookup"  # username checks, per address
    SAVE = "save"  # drawing steps saved, per address
    SESSION = "session"  # enrollments started, per address
    BYTES = "bytes"  # drawing data stored, per address (cost: the step's size in bytes)
    SIGNIN = "signin"  # sign-in verifications, per address
    SIGNIN_FAILURES = "signin_failures"  # rejected sign-ins of one account, from every address


ADDRESS_FAMILIES = (Family.LOOKUP, Family.SAVE, Family.SESSION, Family.BYTES, Family.SIGNIN)
ACCOUNT_FAMILIES = (Family.SIGNIN_FAILURES,)

# What a refused person reads: the reason, then "please wait ... and try again".
_REASONS = {
    Family.LOOKUP: "too many username checks from your network",
    Family.SAVE: "too many drawings were saved from your network in a short time",
    Family.SESSION: "too many enrollments were started from your network in the last hour",
    Family.BYTES: "your network has sent too much drawing data in the last hour",
    Family.SIGNIN: "too many sign-in attempts from your network",
    Family.SIGNIN_FAILURES: "this account has had many rejected sign-ins, so its sign-ins are slowed down",
}


@dataclass(frozen=True)
class Charge:
    """What one request takes from one bucket."""

    family: Family
    subject: str
    cost: float
    capacity: float
    period_seconds: float


@dataclass(frozen=True)
class Limits:
    """The configured limits, turned into charges for each kind of request."""

    settings: RateLimitSettings

    def _charge(self, family: Family, subject: str | None, cost: float = 1.0) -> list[Charge]:
        if subject is None:  # no client address: not limited per address
            return []
        if family in ADDRESS_FAMILIES:
            subject = address_subject(subject)
        amount, period = {
            Family.LOOKUP: (self.settings.lookups_per_hour, 3600),
            Family.SAVE: (self.settings.saves_per_minute, 60),
            Family.SESSION: (self.settings.sessions_per_hour, 3600),
            Family.BYTES: (self.settings.upload_bytes_per_hour, 3600),
            Family.SIGNIN: (self.settings.signins_per_hour, 3600),
            Family.SIGNIN_FAILURES: (self.settings.account_failures_per_hour, 3600),
        }[family]
        if amount <= 0:  # this limit is off
            return []
        return [Charge(family, subject, float(cost), float(amount), float(period))]

    def lookup(self, address: str | None) -> list[Charge]:
        return self._charge(Family.LOOKUP, address)

    def save(self, address: str | None, size_bytes: int, starts_session: bool) -> list[Charge]:
        charges = self._charge(Family.SAVE, address) + self._charge(Family.BYTES, address, size_bytes)
        if starts_session:
            charges += self._charge(Family.SESSION, address)
        return charges

    def signin(self, address: str | None) -> list[Charge]:
        return self._charge(Family.SIGNIN, address)

    def account_failures(self, username: str, cost: float) -> list[Charge]:
        """The account's allowance of rejected sign-ins: cost 0 asks whether any is left (before a
        sign-in is verified), cost 1 spends one (after a rejection)."""
        return self._charge(Family.SIGNIN_FAILURES, account_subject(username), cost)


def account_subject(username: str) -> str:
    return username.strip().lower()


@functools.lru_cache(maxsize=4096)
def address_subject(ip: str) -> str:
    """The client address as limits and locks count it: an IPv4 address as it is; an IPv6 address as its
    /64 network, which is what one subscriber gets (counting single IPv6 addresses would give every
    client 2**64 fresh ones); anything else (a proxy's odd value) as given."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def take(conn: Connection, charges: Sequence[Charge], *, own_transaction: bool = True) -> None:
    """Take every charge of one request, in one statement; raise RateLimited (naming the limit that
    frees up last) when a bucket cannot give. own_transaction: the statement is its own transaction
    (autocommit, one round trip); False runs it in the caller's transaction (its locks held until then).
    A request refused by one bucket may still have spent from another of its buckets. (The common save
    takes its charges inside its own statement instead: charges_parameter and raise_if_refused.)"""
    if not charges:
        return
    sql, params = query("take_rate_limit_tokens"), {"charges": charges_parameter(charges)}
    if own_transaction:
        raise_if_refused(one(execute_as_own_transaction(conn, sql, params)))
    else:
        raise_if_refused(one(conn.execute(sql, params).fetchone()))


def charges_parameter(charges: Sequence[Charge]) -> Jsonb | None:
    """The charges as the take_rate_limit_tokens function's parameter (a JSON array, NULL for none)."""
    rows = [
        {
            "family": c.family,
            "subject": c.subject,
            "cost": c.cost,
            "capacity": c.capacity,
            "period_seconds": c.period_seconds,
        }
        for c in charges
    ]
    return Jsonb(rows, dumps=orjson.dumps) if rows else None


def raise_if_refused(row: Mapping[str, Any]) -> None:
    """Raise RateLimited for a refusing row of take_rate_limit_tokens (allowed, retry_after_seconds,
    refused_by)."""
    if not row["allowed"]:
        raise refused(Family(row["refused_by"]), row["retry_after_seconds"])


def refused(family: Family, retry_after_seconds: float) -> RateLimited:
    wait = max(1, math.ceil(retry_after_seconds))
    return RateLimited(
        f"{_REASONS[family]}; please wait {wait_words(wait)} and try again",
        retry_after_seconds=wait,
        limit=family.value,
    )


def wait_words(seconds: int) -> str:
    """'45 seconds', 'about 3 minutes', 'about 2 hours'."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"about {math.ceil(seconds / 60)} minutes"
    return f"about {math.ceil(seconds / 3600)} hours"


# ---------------------------------------------------------------- staff: read and clear


@dataclass(frozen=True)
class Bucket:
    """One limit's state for one subject, as staff see it."""

    family: Family
    subject: str  # the client address, or the lower-case username (SIGNIN_FAILURES)
    capacity: float  # requests (bytes for BYTES) per period
    period_seconds: float
    tokens_now: float  # what is left now
    refused: int  # requests refused since this bucket was last full and idle
    last_refused_at: datetime | None
    blocked_for_seconds: float  # > 0: a request like its latest one is refused until then

    @property
    def blocked(self) -> bool:
        return self.blocked_for_seconds > 0


def _buckets(rows: list[dict[str, Any]]) -> list[Bucket]:
    return [
        Bucket(
            family=Family(r["family"]),
            subject=r["subject"],
            capacity=r["capacity"],
            period_seconds=r["period_seconds"],
            tokens_now=r["tokens_now"],
            refused=r["refused"],
            last_refused_at=r["last_refused_at"],
            blocked_for_seconds=r["blocked_for_seconds"],
        )
        for r in rows
    ]


def blocks_for_address(db: Db, address: str) -> list[Bucket]:
    """Every bucket of this client address (look-ups, saves, sessions, bytes, sign-ins), as it stands
    now; Bucket.blocked says whether it is refusing requests. No bucket: nothing used recently."""
    families = [f.value for f in ADDRESS_FAMILIES]
    with connection(db) as conn:
        rows = conn.execute(query("rate_limit_buckets_of"), {"subjects": [address], "families": families})
        return _buckets(rows.fetchall())


def blocks_for_user(db: Db, username: str) -> list[Bucket]:
    """The account's bucket of rejected sign-ins (from every address): blocked means its sign-ins are
    slowed down (refused until blocked_for_seconds pass). The account's per-address locks are in
    sign_in_lockout.state_for_user."""
    families = [f.value for f in ACCOUNT_FAMILIES]
    params = {"subjects": [account_subject(username)], "families": families}
    with connection(db) as conn:
        return _buckets(conn.execute(query("rate_limit_buckets_of"), params).fetchall())


def recent_blocks(db: Db, within_seconds: int = 3600, limit: int = 100) -> list[Bucket]:
    """Buckets that refused a request in the last `within_seconds`, latest refusal first."""
    params = {"within_seconds": within_seconds, "limit": limit}
    with connection(db) as conn:
        return _buckets(conn.execute(query("recent_rate_limit_blocks"), params).fetchall())


def clear(db: Db, family: Family, subject: str) -> bool:
    """Lift a block: the bucket is forgotten, which makes it full. True when there was one."""
    with connection(db) as conn:  # a pool's connection commits on leaving; a caller's, when it commits
        cur = conn.execute(query("clear_rate_limit_bucket"), {"family": family.value, "subject": subject})
        return cur.rowcount > 0


def clear_address(db: Db, address: str) -> int:
    """Lift every block of this client address; return how many buckets were forgotten."""
    return sum(clear(db, family, address) for family in ADDRESS_FAMILIES)
