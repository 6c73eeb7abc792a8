"""Device tokens (OWASP's "device cookies" against lockout attacks) and the client secrets that bind a
session to the client that started it.

A device token is what register and every accepted login give the client (service.Registration and
service.LoginResult .device_token), and what the client sends with its later sign-ins
(ClientInfo.device_token). The rules (service.login):

- An attempt that presents a valid token of the account (issued to it, not expired, not revoked) is a
  *known device*: nothing that attempts without one did can slow, lock or refuse it (no per-address
  lockout, no account-wide slowdown, no per-address sign-in limit).
- A known device is limited on its own: its sign-ins are rate-limited per token
  (RATE_LIMIT_SIGNINS_PER_HOUR), and LOGIN_MAX_FAILURES rejections in a row with one token revoke it, so
  a stolen token buys that many guesses before its holder is an unknown device again.
- Everything else is an *unknown device*, under the per-address lockout, the account-wide slowdown and
  the per-address limits (sign_in_lockout.py, rate_limits.py), as before.
- A token lives DEVICE_TOKEN_DAYS from its issue or its latest accepted sign-in; an account keeps at most
  MAX_LIVE_TOKENS_PER_ACCOUNT live tokens (the ones used longest ago are revoked first); staff list and
  revoke them (staff.StaffActions.revoke_device_token).

Only a token's SHA-256 is stored. A token is HMAC-SHA256(the server's key, the session id, the secret
the session is bound to), 256 bits, URL-safe: the key (table device_token_key) comes from PostgreSQL's
strong random generator, so tokens are unguessable, and a retried register or login derives the same
token again, so it answers exactly as the first time although the token itself was never stored. A
session bound to a client secret (below) derives its token from that secret too, which only the client
holds: reading the database does not give those tokens.

Client secrets: a session started with one (ClientInfo.session_secret: the API's deviceToken, the app's
per-browser secret) continues (saves, register, login) only with the same one; anything else is refused
with SessionElsewhere. A session started without one continues for anyone who holds its id and
username (the weaker path, kept for the design note's client).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .database import Connection, Db, connection, execute_as_own_transaction
from .errors import SessionElsewhere, ValidationError
from .queries import query

# An account's live tokens beyond this are revoked, the least recently used first: a client that
# signs in without ever keeping its token cannot pile up tokens without end.
MAX_LIVE_TOKENS_PER_ACCOUNT = 20
# Expired or revoked tokens stay this many days for staff to see, then the hourly maintenance drops them.
KEEP_OLD_TOKENS_DAYS = 30

# Device tokens and client secrets: URL-safe base64 (what secrets.token_urlsafe makes), at least 22
# characters (128 bits) so that a client cannot bind a session to something guessable.
SECRET_MIN_CHARS = 22
SECRET_MAX_CHARS = 256
SECRET_PATTERN = rf"^[A-Za-z0-9_-]{{{SECRET_MIN_CHARS},{SECRET_MAX_CHARS}}}$"
_SECRET = re.compile(SECRET_PATTERN)


def clean_secret(value: Any, field: str) -> str | None:
    """A device token or client secret as given (None: none given); ValidationError naming the field
    when it is not one."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SECRET.match(value):
        raise ValidationError(
            # Worded for both (the API's deviceToken is both): the field says which one it was.
            f"a device token or secret must be {SECRET_MIN_CHARS}-{SECRET_MAX_CHARS} characters of "
            "letters, digits, '-' and '_' (a device token: sent back exactly as this service gave it)",
            field=field,
        )
    return value


def secret_hash(secret: str) -> bytes:
    """What is stored of a token or a client secret: its SHA-256 (both hold >= 128 random bits, so a
    plain hash cannot be reversed by guessing)."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def derive_token(key: bytes, session_id: str, client_secret: str | None) -> str:
    """The device token a register or login session gives: the same for the same session and secret."""
    message = (
        b"device-token\x1f" + session_id.encode("ascii") + b"\x1f" + (client_secret or "").encode("ascii")
    )
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_binding(bound_hash: bytes | None, client_secret: str | None) -> None:
    """SessionElsewhere unless the session is unbound or the client holds its secret."""
    if bound_hash is None:
        return
    if client_secret is None or not hmac.compare_digest(bytes(bound_hash), secret_hash(client_secret)):
        raise SessionElsewhere(
            "this session was started on another device or in another browser, and continues only "
            "there; open it where you started, or start again here",
            field="session_id",
        )


# ---------------------------------------------------------------- within the service's transactions


def server_key(conn: Connection) -> bytes:
    row = conn.execute(query("device_token_key")).fetchone()
    if row is None:  # the migration makes it; a missing row is a broken install, not a client's fault
        raise RuntimeError("device_token_key has no row: run the migrations (enrollment migrate)")
    return bytes(row["secret"])


@dataclass(frozen=True)
class KnownDevice:
    """A valid token of the account, presented by a sign-in."""

    id: int
    failures: int  # rejections in a row with it


def find_valid(
    conn: Connection, username: str, token: str | None, *, own_transaction: bool = False
) -> KnownDevice | None:
    """The presented token when it is a live one of this account (before the user's row lock).
    own_transaction: the read is its own transaction (autocommit), on a connection with none open."""
    if token is None:
        return None
    sql, params = query("valid_device_token"), {"token_hash": secret_hash(token), "username": username}
    row = (
        execute_as_own_transaction(conn, sql, params)
        if own_transaction
        else conn.execute(sql, params).fetchone()
    )
    return KnownDevice(row["id"], row["failures"]) if row else None


def lock_valid(conn: Connection, user_id: int, token: str) -> KnownDevice | None:
    """The presented token, still live for this account, locked until commit (under the user's lock)."""
    row = conn.execute(
        query("lock_device_token"), {"token_hash": secret_hash(token), "user_id": user_id}
    ).fetchone()
    return KnownDevice(row["id"], row["failures"]) if row else None


def issue(
    conn: Connection,
    *,
    user_id: int,
    session_id: str,
    client_secret: str | None,
    days: int,
    user_agent: str | None,
    ip: str | None,
) -> str:
    """The session's token, issued to the account (once: the same session and secret again find it
    issued), and the account's surplus of live tokens revoked."""
    token = derive_token(server_key(conn), session_id, client_secret)
    params = {
        "user_id": user_id,
        "token_hash": secret_hash(token),
        "session_id": session_id,
        "days": days,
        "user_agent": user_agent,
        "ip": ip,
    }
    if conn.execute(query("issue_device_token"), params).rowcount:
        conn.execute(
            query("retire_surplus_device_tokens"), {"user_id": user_id, "keep": MAX_LIVE_TOKENS_PER_ACCOUNT}
        )
    return token


def reissued(conn: Connection, *, user_id: int, session_id: str, client_secret: str | None) -> str | None:
    """A retried register or login: the token the first answer gave, while it is still live."""
    token = derive_token(server_key(conn), session_id, client_secret)
    row = conn.execute(
        query("device_token_state"), {"token_hash": secret_hash(token), "user_id": user_id}
    ).fetchone()
    return token if row else None


def accepted(conn: Connection, token_id: int, days: int) -> None:
    conn.execute(query("device_token_accepted"), {"id": token_id, "days": days})


@dataclass(frozen=True)
class TokenFailures:
    failures: int  # rejections in a row with the token
    revoked: bool  # this one (or an earlier) revoked it


def rejected(conn: Connection, token_id: int, max_failures: int) -> TokenFailures:
    row = conn.execute(
        query("device_token_rejected"), {"id": token_id, "max_failures": max_failures}
    ).fetchone()
    if row is None:
        return TokenFailures(max_failures, True)
    return TokenFailures(row["failures"], row["revoked_at"] is not None)


def failures_now(conn: Connection, token_id: int | None) -> TokenFailures | None:
    """A recorded sign-in's token as it stands now (None: the sign-in presented none, or it is gone)."""
    if token_id is None:
        return None
    row = conn.execute(query("device_token_failures"), {"id": token_id}).fetchone()
    return None if row is None else TokenFailures(row["failures"], not row["live"])


# ---------------------------------------------------------------- staff


@dataclass(frozen=True)
class DeviceToken:
    """One device token as staff see it (never the token: only its hash is stored)."""

    id: int
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None  # 'staff', 'failures' or 'replaced'
    failures: int  # rejected sign-ins in a row with it
    user_agent: str | None
    ip: str | None
    live: bool  # neither expired nor revoked: a sign-in presenting it is a known device


def tokens_for_user(db: Db, username: str, limit: int = 50) -> list[DeviceToken]:
    """An account's device tokens, the latest first (expired and revoked ones for KEEP_OLD_TOKENS_DAYS)."""
    with connection(db) as conn:
        rows = conn.execute(query("device_tokens_of_user"), {"username": username, "limit": limit}).fetchall()
    return [DeviceToken(**row) for row in rows]


def owner_of_limit(db: Db, subject: str) -> str | None:
    """The username whose device token a rate-limit subject ('device <id>', rate_limits.device_key) is;
    None for another subject or a token gone since."""
    number = subject.removeprefix("device ")
    if number == subject or not number.isdigit():
        return None
    with connection(db) as conn:
        row = conn.execute(query("device_token_owner"), {"id": int(number)}).fetchone()
    return None if row is None else str(row["username"])


def revoke(db: Db, username: str, token_id: int | None = None) -> int:
    """Revoke one live token of this account (every live one when token_id is None); return how many.
    A sign-in presenting a revoked token is an unknown device."""
    with connection(db) as conn:
        return conn.execute(
            query("revoke_device_tokens"), {"username": username, "token_id": token_id}
        ).rowcount


def forget_old(conn: Connection) -> int:
    """Hourly maintenance: drop tokens expired or revoked more than KEEP_OLD_TOKENS_DAYS ago."""
    return conn.execute(query("forget_old_device_tokens"), {"keep_days": KEEP_OLD_TOKENS_DAYS}).rowcount
