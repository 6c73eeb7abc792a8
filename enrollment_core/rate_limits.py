"""Rate limits and quotas, kept in PostgreSQL so that they hold across API processes, the Streamlit app
and machines (no other server).

Each client has one row of rate_limits: an address (IPv6: its /64 network), or an account for its
rejected sign-ins. Every limit is "an amount per period" (config.RateLimitSettings), kept as the time
the client's allowance is whole again: a request of cost c (1, or its size in bytes) moves that time
c x period / amount later and is refused (RateLimited, with the wait) when it would then lie more than
a period ahead, i.e. when the allowance is spent (the generic cell rate algorithm, a token bucket kept
as one timestamp). One statement decides all of a request's limits together (the charge_rate_limits
function: one row read and written under its lock, so limits stay exact under concurrency): take()
sends it (one round trip), and the common save's own statement calls it first (none). A caller that
gives no client address (the CLI, benchmarks, tests driving the service) is not limited per address.

Settings: config.RateLimitSettings (environment variables RATE_LIMIT_*; 0 turns a limit off).
Staff: blocks_for_address, blocks_for_user, recent_blocks to read; clear to lift.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .config import RateLimitSettings
from .database import Connection, Db, connection, execute_as_own_transaction, one
from .errors import RateLimited
from .queries import query


class Family(StrEnum):
    """One limit, by the name charge_rate_limits and the rate_limits table (its <name>_full_at column) know
    it by."""

    LOOKUPS = "lookups"  # username checks, per address
    SAVES = "saves"  # drawing steps saved, per address
    SESSIONS = "sessions"  # enrollments started, per address
    UPLOAD_BYTES = "upload_bytes"  # drawing data stored, per address (cost: the step's size in bytes)
    SIGNINS = "signins"  # sign-in verifications, per address
    SIGNIN_FAILURES = "signin_failures"  # rejected sign-ins of one account, from every address


# What a refused person reads: the reason, then "please wait ... and try again".
_REASONS = {
    Family.LOOKUPS: "too many username checks from your network",
    Family.SAVES: "too many drawings were saved from your network in a short time",
    Family.SESSIONS: "too many enrollments were started from your network in the last hour",
    Family.UPLOAD_BYTES: "your network has sent too much drawing data in the last hour",
    Family.SIGNINS: "too many sign-in attempts from your network",
    Family.SIGNIN_FAILURES: "this account has had many rejected sign-ins, so its sign-ins are slowed down",
}


@dataclass(frozen=True)
class Request:
    """What one request costs one client (Limits makes them): its row's key, a cost per limit involved,
    and charge_rate_limits' parameters."""

    subject: str  # address_key(...) or account_key(...)
    costs: Mapping[Family, float]
    parameters: Mapping[str, Any]


def address_key(address: str) -> str:
    return f"address {address_subject(address)}"


def account_key(username: str) -> str:
    return f"account {username.strip().lower()}"


def device_key(token_id: int) -> str:
    """A device token's own limits (its sign-ins: device_tokens.py)."""
    return f"device {token_id}"


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


def _key(address: str | None) -> str | None:
    return address_key(address) if address else None  # no address: not limited per address


@dataclass(frozen=True)
class Limits:
    """The configured limits: what each kind of request costs, and the statement's parameters."""

    settings: RateLimitSettings

    def amount_and_period(self, family: Family) -> tuple[int, int]:
        s = self.settings
        return {
            Family.LOOKUPS: (s.lookups_per_hour, 3600),
            Family.SAVES: (s.saves_per_minute, 60),
            Family.SESSIONS: (s.sessions_per_hour, 3600),
            Family.UPLOAD_BYTES: (s.upload_bytes_per_hour, 3600),
            Family.SIGNINS: (s.signins_per_hour, 3600),
            Family.SIGNIN_FAILURES: (s.account_failures_per_hour, 3600),
        }[family]

    def _request(self, subject: str | None, costs: Mapping[Family, float]) -> Request | None:
        charged = {f: float(c) for f, c in costs.items() if self.amount_and_period(f)[0] > 0}  # 0: off
        if subject is None or not charged:
            return None
        # Each limit involved by its name, with its cost, amount and period, as array literals: psycopg
        # sends a string at once, where it would inspect a list item by item. In Family's order, which
        # names the first of equally long waits.
        involved = [f for f in Family if f in charged]
        every = [self.amount_and_period(f) for f in involved]
        params = {
            "limit_subject": subject,
            "limit_names": "{" + ",".join(f.value for f in involved) + "}",
            "limit_costs": "{" + ",".join(repr(charged[f]) for f in involved) + "}",
            "limit_amounts": "{" + ",".join(str(max(amount, 1)) for amount, _ in every) + "}",
            "limit_periods": "{" + ",".join(str(period) for _, period in every) + "}",
        }
        return Request(subject, charged, params)

    def lookup(self, address: str | None, device: int | None = None) -> Request | None:
        """A username check; device: as in save."""
        return self._request(_key(address) if device is None else device_key(device), {Family.LOOKUPS: 1})

    def save(
        self, address: str | None, size_bytes: int, starts_session: bool, device: int | None = None
    ) -> Request | None:
        """A drawing step saved; device: the id of a valid device token the client presented for the
        username (a sign-in's first step), charged instead of its address."""
        costs = {Family.SAVES: 1.0, Family.UPLOAD_BYTES: float(size_bytes)}
        if starts_session:
            costs[Family.SESSIONS] = 1.0
        return self._request(_key(address) if device is None else device_key(device), costs)

    def signin(self, address: str | None) -> Request | None:
        return self._request(_key(address), {Family.SIGNINS: 1})

    def device_signin(self, token_id: int) -> Request | None:
        """A sign-in presenting a valid device token: charged on that token, not on its address."""
        return self._request(device_key(token_id), {Family.SIGNINS: 1})

    def account_failures(self, username: str, cost: float) -> Request | None:
        """The account's allowance of rejected sign-ins: cost 0 asks whether any is left (before a
        sign-in is verified), cost 1 spends one (after a rejection)."""
        return self._request(account_key(username), {Family.SIGNIN_FAILURES: cost})


def take(conn: Connection, request: Request | None, *, own_transaction: bool = True) -> None:
    """Charge one request on its client's limits; raise RateLimited (naming a limit that refused, with
    the longest wait) when one does not fit, and then charge nothing. own_transaction: the statement is
    its own transaction (autocommit, one round trip); False runs it in the caller's transaction (the
    row stays locked until that ends)."""
    if request is None:
        return
    sql = query("charge_rate_limits")
    if own_transaction:
        row = one(execute_as_own_transaction(conn, sql, request.parameters))
    else:
        row = one(conn.execute(sql, request.parameters).fetchone())
    if row["allowed"] is False and request.subject.startswith("device "):
        raise refused(Family(row["refused_by"]), row["retry_after_seconds"], from_device=True)
    raise_if_refused(row)


# The save statement's limit parameters when its request is not limited.
NO_LIMITS = {
    "limit_subject": None,
    "limit_names": None,
    "limit_costs": None,
    "limit_amounts": None,
    "limit_periods": None,
}


def parameters(request: Request | None) -> Mapping[str, Any]:
    """The limit parameters of a statement that charges inside itself (save_next_step)."""
    return NO_LIMITS if request is None else request.parameters


def raise_if_refused(row: Mapping[str, Any]) -> None:
    """RateLimited for a refusing row (allowed false; NULL: not limited)."""
    if row["allowed"] is False:
        raise refused(Family(row["refused_by"]), row["retry_after_seconds"])


def refused(family: Family, retry_after_seconds: float, *, from_device: bool = False) -> RateLimited:
    wait = max(1, math.ceil(retry_after_seconds))
    reason = _REASONS[family]
    if from_device:  # a known device's own limit (device_tokens.py), not its network's
        reason = reason.replace("from your network", "from this device")
    return RateLimited(
        f"{reason}; please wait {wait_words(wait)} and try again",
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
class ClientLimits:
    """One client's limits as staff see them."""

    subject: str  # 'address 203.0.113.9' (IPv6: its /64) or 'account alice'
    whole_again_at: dict[Family, datetime]  # the limits not whole now: when each is whole again
    refused: int  # requests refused since the row was made
    last_refused_at: datetime | None
    last_refused_limit: Family | None
    blocked_until: datetime | None  # set while the latest request was refused and its wait runs

    @property
    def blocked(self) -> bool:
        return self.blocked_until is not None


def _client_limits(row: Mapping[str, Any], now: datetime) -> ClientLimits:
    whole = {f: row[f"{f}_full_at"] for f in Family if row[f"{f}_full_at"] and row[f"{f}_full_at"] > now}
    blocked_until = None
    if not row["last_allowed"] and row["last_refused_at"] is not None:
        until = row["last_refused_at"] + timedelta(seconds=row["last_wait_seconds"] or 0)
        blocked_until = until if until > now else None
    limit = row["last_refused_limit"]
    return ClientLimits(
        subject=row["subject"],
        whole_again_at=whole,
        refused=row["refused"],
        last_refused_at=row["last_refused_at"],
        last_refused_limit=Family(limit) if limit else None,
        blocked_until=blocked_until,
    )


def _read(db: Db, sql: str, params: Mapping[str, Any]) -> list[ClientLimits]:
    with connection(db) as conn:
        now = conn.execute(query("database_now")).fetchone()
        rows = conn.execute(sql, params).fetchall()
    return [_client_limits(r, now["now"] if now else datetime.now().astimezone()) for r in rows]


def blocks_for_address(db: Db, address: str) -> ClientLimits | None:
    """This client address's limits (look-ups, saves, sessions, upload bytes, sign-ins) as they stand;
    None when it used none of them recently. ClientLimits.blocked: it is being refused now."""
    found = _read(db, query("rate_limits_of"), {"subjects": [address_key(address)]})
    return found[0] if found else None


def blocks_for_user(db: Db, username: str) -> ClientLimits | None:
    """The account's allowance of rejected sign-ins (from every address): blocked means its sign-ins are
    slowed down (refused until blocked_until). Its per-address locks: sign_in_lockout.state_for_user."""
    found = _read(db, query("rate_limits_of"), {"subjects": [account_key(username)]})
    return found[0] if found else None


def recent_blocks(db: Db, within_seconds: int = 3600, limit: int = 100) -> list[ClientLimits]:
    """Clients refused in the last `within_seconds`, latest refusal first."""
    return _read(db, query("recent_rate_limit_blocks"), {"within_seconds": within_seconds, "limit": limit})


def clear(db: Db, subject: str, family: Family | None = None) -> bool:
    """Lift a block: make one limit of this client whole again (every limit when family is None).
    subject: ClientLimits.subject (address_key(...) or account_key(...)). True when there was a row."""
    params = {"subject": subject, "limit": family.value if family else None}
    with connection(db) as conn:  # a pool's connection commits on leaving; a caller's, when it commits
        return conn.execute(query("clear_rate_limit"), params).rowcount > 0
