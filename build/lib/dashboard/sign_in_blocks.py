"""What stops one person from signing in, in words for support staff, and the staff action that lifts
each block: the client addresses locked out of the account after rejected sign-ins in a row
(sign_in_lockout), the account's slow-down after many rejected sign-ins from every address, and the
rate limits of the addresses the person signed in from lately (rate_limits). The People page shows it
and runs the actions through StaffActions (each confirmed, each in the staff log).

Every sentence here is Markdown-safe: text a client sent (username, address) goes through
formatting.plain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd

from dashboard import formatting, words
from enrollment_core import rate_limits, sign_in_lockout
from enrollment_core.config import Settings
from enrollment_core.staff_reads import StaffReads

# The addresses of a person's latest attempts whose rate limits are read (one indexed read each).
ADDRESSES_CHECKED = 10
RECENT = timedelta(hours=1)  # "rejected sign-ins in the last hour": the account limit's period


@dataclass(frozen=True)
class Fix:
    """A staff action that lifts one block: the button that offers it, the question that confirms it
    (naming exactly what will happen), and what StaffActions is called with."""

    kind: Literal["unlock", "clear", "revoke"]
    button: str
    question: str
    confirm: str  # the confirm button's label
    username: str = ""  # unlock: the account
    address: str | None = None  # unlock: the locked address (sign_in_lockout's key), None: every one
    subject: str = ""  # clear: rate_limits.ClientLimits.subject
    limit: str | None = None  # clear: the rate_limits.Family value refused, None: every limit
    token_id: int | None = None  # revoke: device_tokens.DeviceToken.id, None: every live one
    shown_as: str = ""  # the address or account in words (Markdown-safe), for the result


@dataclass(frozen=True)
class Block:
    kind: Literal["lock", "slowed", "refused"]
    text: str
    fix: Fix


@dataclass(frozen=True)
class SignInBlocks:
    """Everything that stops the person now (blocks), what counts toward a block without stopping them
    yet (notes), and one action to unlock every locked address when more than one is locked."""

    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unlock_all: Fix | None = None


def address_words(address: str) -> str:
    """A client address as staff read it (Markdown-safe)."""
    return formatting.plain(words.address(address))


def read(
    reads: StaffReads, username: str, attempts: pd.DataFrame, settings: Settings, now: datetime
) -> SignInBlocks:
    """The sign-in blocks of this account (username: the account's spelling); attempts: the person's
    latest sign-in attempts, newest first (ip, accepted, attempted_at)."""
    state = reads.lockout_state(username)
    if state is None:  # the account is gone
        return SignInBlocks()
    name = formatting.plain(state.username)
    found = SignInBlocks()
    for locked in state.locked_addresses:
        found.blocks.append(_lock(name, state.username, locked, now))
    if state.slowed_until is not None and state.slowed_until > now:
        found.blocks.append(_slowed(name, state, attempts, settings, now))
    for client in _address_limits(reads, attempts, state):
        if client.blocked_until is not None and client.blocked_until > now:
            found.blocks.append(_refused(name, client, settings, now))
    max_failures = settings.login_max_failures
    for counting in state.addresses:
        if counting.locked_until is None and counting.failures > 0:
            found.notes.append(
                f"From {address_words(counting.address)}: "
                f"{words.count(counting.failures, 'rejected sign-in')} in a row; "
                f"{max_failures} in a row lock that address out of the account."
            )
    if len(state.locked_addresses) > 1:
        listed = ", ".join(address_words(a.address) for a in state.locked_addresses)
        found = SignInBlocks(
            found.blocks,
            found.notes,
            Fix(
                "unlock",
                "Unlock every address…",
                f"Unlock sign-in for **{name}** from all {len(state.locked_addresses)} locked addresses "
                f"({listed})? Their rejected sign-ins in a row are forgotten, so the next sign-in from "
                "each is verified at once.",
                "Unlock every address",
                username=state.username,
                address=None,
                shown_as="from every address",
            ),
        )
    return found


def _lock(name: str, username: str, locked: sign_in_lockout.AddressState, now: datetime) -> Block:
    assert locked.locked_until is not None
    where = address_words(locked.address)
    text = (
        f"Locked out from {where} until {formatting.until(locked.locked_until, now)} after "
        f"{words.count(locked.failures, 'rejected sign-in')} in a row. From any other address this "
        "person can still sign in."
    )
    fix = Fix(
        "unlock",
        f"Unlock {where}…",
        f"Unlock sign-in for **{name}** from {where}? The lock ends now and its "
        f"{words.count(locked.failures, 'rejected sign-in')} in a row are forgotten, so the next sign-in "
        "from there is verified at once.",
        "Unlock",
        username=username,
        address=locked.address,
        shown_as=f"from {where}",
    )
    return Block("lock", text, fix)


def _slowed(
    name: str,
    state: sign_in_lockout.LockoutState,
    attempts: pd.DataFrame,
    settings: Settings,
    now: datetime,
) -> Block:
    assert state.slowed_until is not None
    rejected = _recent_rejections(attempts, now)
    addresses = rejected["ip"].fillna("").map(sign_in_lockout.address_key).nunique()
    why = (
        f"{words.count(len(rejected), 'rejected sign-in')} in the last hour from "
        f"{addresses} address{'' if addresses == 1 else 'es'}"
        if len(rejected)
        else "many rejected sign-ins"
    )
    per_hour = settings.rate_limits.account_failures_per_hour
    text = (
        f"Sign-ins to this account are slowed until {formatting.until(state.slowed_until, now)} ({why}): "
        "every sign-in, from any address, is refused until then. The account is not locked."
    )
    fix = Fix(
        "clear",
        "Clear the slow-down…",
        f"Clear the limit on rejected sign-ins for **{name}**? Sign-ins to this account are verified "
        f"again at once, from every address, and it may again have {per_hour} rejected sign-ins per hour "
        "before it is slowed.",
        "Clear the slow-down",
        subject=rate_limits.account_key(state.username),
        limit=rate_limits.Family.SIGNIN_FAILURES.value,
        shown_as=f"account {name}",
    )
    return Block("slowed", text, fix)


def _refused(name: str, client: rate_limits.ClientLimits, settings: Settings, now: datetime) -> Block:
    assert client.blocked_until is not None
    where = formatting.plain(client.subject.removeprefix("address "))
    limit = client.last_refused_limit.value if client.last_refused_limit else None
    whole = client.whole_again_at.get(client.last_refused_limit) if client.last_refused_limit else None
    whole_words = f", whole again in {formatting.duration((whole - now).total_seconds())}" if whole else ""
    text = (
        f"Address {where} is refused: {words.limit_reason(limit)} from it. Next try allowed at "
        f"{formatting.until(client.blocked_until, now)}{whole_words}. Everyone behind that address is "
        "refused, not only this person."
    )
    fix = Fix(
        "clear",
        f"Clear block on {where}…",
        f"Clear the {words.limit_name(limit)} for address {where}? Everyone behind that address (not "
        f"only **{name}**) gets its whole allowance back at once.",
        "Clear block",
        subject=client.subject,
        limit=limit,
        shown_as=f"address {where}",
    )
    return Block("refused", text, fix)


def _recent_rejections(attempts: pd.DataFrame, now: datetime) -> pd.DataFrame:
    if attempts.empty:
        return attempts
    when = pd.to_datetime(attempts["attempted_at"], utc=True)
    return attempts[(~attempts["accepted"].astype(bool)) & (when > now - RECENT)]


def _address_limits(
    reads: StaffReads, attempts: pd.DataFrame, state: sign_in_lockout.LockoutState
) -> list[rate_limits.ClientLimits]:
    """The rate limits of the addresses of the latest attempts and of the addresses with rejections
    counted (each address once, as the limits count it: an IPv6 address as its /64)."""
    addresses = [ip for ip in attempts["ip"] if isinstance(ip, str) and ip] if not attempts.empty else []
    addresses += [a.address for a in state.addresses if a.address]
    seen: dict[str, str] = {}
    for ip in addresses:
        seen.setdefault(rate_limits.address_subject(ip), ip)
        if len(seen) >= ADDRESSES_CHECKED:
            break
    found = (reads.address_blocks(ip) for ip in seen.values())
    return [client for client in found if client is not None]


# ---------------------------------------------------------------- everyone refused now


@dataclass(frozen=True)
class RefusedNow:
    """One account or address refused now, for the list staff see without knowing a name. who and what
    are shown in table cells (text, never Markdown), so they are not escaped."""

    who: str
    what: str
    until: datetime
    username: str | None  # the person to open (a lock, a slowed account)
    fix: Fix | None  # an address's Clear block (an address is not a person)


def refused_now(reads: StaffReads, now: datetime, limit: int = 50) -> list[RefusedNow]:
    """Addresses locked out of an account, accounts slowed and addresses over a limit, now; the
    latest to end first. Rate limits refused in the last hour are looked at (recent_blocks)."""
    found = [
        RefusedNow(
            lock.username,
            f"Locked out from {words.address(lock.address)} after "
            f"{words.count(lock.failures, 'rejected sign-in')} in a row",
            lock.locked_until,
            lock.username,
            None,
        )
        for lock in reads.locked_now(limit)
    ]
    for client in reads.recent_blocks(int(RECENT.total_seconds()), limit):
        if client.blocked_until is None or client.blocked_until <= now:
            continue
        limit_code = client.last_refused_limit.value if client.last_refused_limit else None
        if client.subject.startswith("account "):
            username = client.subject.removeprefix("account ")
            what = "Sign-ins slowed: too many rejected sign-ins from every address"
            found.append(RefusedNow(username, what, client.blocked_until, username, None))
        elif client.subject.startswith("device "):  # a remembered device over its own sign-in limit
            owner = reads.device_owner_of_limit(client.subject)
            what = "Sign-ins refused: too many from one remembered device of theirs"
            found.append(RefusedNow(owner or "a remembered device", what, client.blocked_until, owner, None))
        else:
            address = client.subject.removeprefix("address ")
            where = formatting.plain(address)
            fix = Fix(
                "clear",
                f"Clear block on {where}…",
                f"Clear the {words.limit_name(limit_code)} for address {where}? Everyone behind that "
                "address gets its whole allowance back at once.",
                "Clear block",
                subject=client.subject,
                limit=limit_code,
                shown_as=f"address {where}",
            )
            what = f"Refused: {words.limit_reason(limit_code)} from it"
            found.append(RefusedNow(f"address {address}", what, client.blocked_until, None, fix))
    return sorted(found, key=lambda r: r.until, reverse=True)[:limit]
