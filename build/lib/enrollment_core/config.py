"""Settings, read once from the environment. Every setting has a safe default for the embedded set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_N = TypeVar("_N", int, float)


def _env_number(name: str, default: _N, minimum: _N, kind: type[_N], what: str) -> _N:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    return _env_number(name, default, minimum, int, "an integer")


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    return _env_number(name, default, minimum, float, "a number")


def _env_flag(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 0 or 1, got {raw!r}")


def duration_words(seconds: int, *, adjective: bool = False) -> str:
    """A whole duration in words: '2 hours', '90 minutes', '1 hour'; as an adjective '2-hour'."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            if adjective:
                return f"{count}-{unit}"
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable: every whole number of seconds is a whole number of seconds")


@dataclass(frozen=True)
class RateLimitSettings:
    """How much one client address (or, for failures, one account) may ask for; 0 turns a limit off.
    Each is a token bucket (enrollment_core.rate_limits): the full amount at once, then refilled evenly
    over its period. Defaults fit a person enrolling and signing in, with room for a few people behind
    one address (a home or office network)."""

    lookups_per_hour: int = 120  # check-username and check-user-exists, per address
    saves_per_minute: int = 60  # drawing steps saved, per address (a signup is 11)
    sessions_per_hour: int = 30  # enrollments (signup or sign-in) started, per address
    upload_bytes_per_hour: int = 50_000_000  # drawing data stored, per address (a signup is ~0.3-1 MB)
    signins_per_hour: int = 30  # sign-in verifications (login), per address
    # Rejected sign-ins of one account from all addresses together: past this the account is slowed
    # (refused with Retry-After until a token refills), never locked.
    account_failures_per_hour: int = 10

    @classmethod
    def off(cls) -> RateLimitSettings:
        """No limits (tests of other behaviour, benchmarks that measure the limits' cost set their own)."""
        return cls(**{name: 0 for name in cls.__dataclass_fields__})

    @classmethod
    def from_env(cls) -> RateLimitSettings:
        return cls(
            lookups_per_hour=_env_int("RATE_LIMIT_LOOKUPS_PER_HOUR", cls.lookups_per_hour),
            saves_per_minute=_env_int("RATE_LIMIT_SAVES_PER_MINUTE", cls.saves_per_minute),
            sessions_per_hour=_env_int("RATE_LIMIT_SESSIONS_PER_HOUR", cls.sessions_per_hour),
            upload_bytes_per_hour=_env_int("RATE_LIMIT_UPLOAD_BYTES_PER_HOUR", cls.upload_bytes_per_hour),
            signins_per_hour=_env_int("RATE_LIMIT_SIGNINS_PER_HOUR", cls.signins_per_hour),
            account_failures_per_hour=_env_int(
                "RATE_LIMIT_ACCOUNT_FAILURES_PER_HOUR", cls.account_failures_per_hour
            ),
        )


@dataclass(frozen=True)
class DatabaseLimits:
    """How long anything may wait on the database, so that a request fails fast (503, nothing written)
    instead of hanging when PostgreSQL is down, locked or overloaded. Defaults fit the API: a save takes
    a few milliseconds, so seconds are already far beyond a healthy wait (docs/performance.md, Faults)."""

    # A request waits at most this long for a pooled connection (then 503 + Retry-After).
    pool_timeout_seconds: float = 3.0
    # Requests waiting for a connection, per pool; one more is refused at once (503), not queued.
    pool_max_waiting: int = 20
    # A reconnection attempt to a database that went away is given up after this long, and the next
    # request starts a new one at once: psycopg_pool's own back-off doubles without a cap (1, 2, 4 ... 32 s).
    reconnect_seconds: float = 2.0
    # Opening a connection (libpq's connect_timeout; it counts whole seconds, at least 2).
    connect_timeout_seconds: int = 2
    # Per statement and per lock wait on the product's connections (PostgreSQL's statement_timeout and
    # lock_timeout): a held table lock or a runaway query costs a request this, not an open-ended wait.
    statement_timeout_seconds: float = 5.0
    lock_timeout_seconds: float = 2.0
    # A transaction left open and idle this long is ended by the server (its locks released).
    idle_in_transaction_seconds: float = 10.0
    # The cleanup, the archiving and the dashboard's snapshot work on many rows: their own, longer limits.
    maintenance_statement_timeout_seconds: float = 300.0
    maintenance_lock_timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> DatabaseLimits:
        return cls(
            pool_timeout_seconds=_env_float("DB_POOL_TIMEOUT_SECONDS", cls.pool_timeout_seconds, 0.1),
            pool_max_waiting=_env_int("DB_POOL_MAX_WAITING", cls.pool_max_waiting),
            reconnect_seconds=_env_float("DB_RECONNECT_SECONDS", cls.reconnect_seconds, 0.1),
            connect_timeout_seconds=_env_int("DB_CONNECT_TIMEOUT_SECONDS", cls.connect_timeout_seconds, 2),
            statement_timeout_seconds=_env_float(
                "DB_STATEMENT_TIMEOUT_SECONDS", cls.statement_timeout_seconds
            ),
            lock_timeout_seconds=_env_float("DB_LOCK_TIMEOUT_SECONDS", cls.lock_timeout_seconds),
            idle_in_transaction_seconds=_env_float(
                "DB_IDLE_IN_TRANSACTION_SECONDS", cls.idle_in_transaction_seconds
            ),
            maintenance_statement_timeout_seconds=_env_float(
                "MAINTENANCE_STATEMENT_TIMEOUT_SECONDS", cls.maintenance_statement_timeout_seconds
            ),
            maintenance_lock_timeout_seconds=_env_float(
                "MAINTENANCE_LOCK_TIMEOUT_SECONDS", cls.maintenance_lock_timeout_seconds
            ),
        )


@dataclass(frozen=True)
class Settings:
    # Where to connect. None means: start (or reuse) the embedded PostgreSQL under `embedded_data_dir`.
    database_url: str | None = None
    # Where work that needs a session of its own connects (migrations' and the cleanup runner's advisory
    # locks): the primary itself or a session-mode pool. None: database_url. Set it when database_url
    # goes through a transaction pooler, where a session lock would land on whichever server connection.
    session_database_url: str | None = None
    # database_url goes through a transaction pooler (PgBouncer pool_mode=transaction): no server-side
    # prepared statements, and no session-level SETs (they would stay on one server connection and
    # reach other clients); the time limits must then be set pooler-side, and are checked at start.
    transaction_pooling: bool = False
    # The dashboard's reads go here (a hot standby) when set; its writes stay on database_url.
    dashboard_read_url: str | None = None
    embedded_data_dir: Path = PROJECT_ROOT / "var" / "pgdata"
    # How long an enrollment session lives from its first drawing.
    session_ttl_seconds: int = 2 * 3600
    # How often the background cleanup runs (once per interval across all app instances).
    cleanup_interval_seconds: int = 3600
    cleanup_batch_size: int = 5000
    # After each cleanup/archive batch, rest this many times the batch's duration. Off by default: on
    # the bench, rests doubled the cleanup's duration without shortening the saves' longest waits.
    cleanup_pause_ratio: float = 0.0
    # Completed sessions older than this move to enrollment_archive in the hourly run (0 = never).
    archive_after_seconds: int = 7 * 24 * 3600
    pool_min_size: int = 1
    pool_max_size: int = 10
    # Sign-in: rejections in a row from one address before that address is locked out of the account,
    # and how long the lock lasts (the owner elsewhere is not locked; see sign_in_lockout.py).
    login_max_failures: int = 5
    login_lock_seconds: int = 15 * 60
    # Device tokens (device_tokens.py): how long one lives after its issue or its latest accepted sign-in.
    device_token_days: int = 90
    # Sign-in: how many of the user's latest attempts a new one is compared with for replay.
    signin_replay_window: int = 20
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    database_limits: DatabaseLimits = field(default_factory=DatabaseLimits)
    # HTTP API: a request (headers and body) must arrive whole within this long, or it gets 408.
    request_timeout_seconds: float = 15.0
    # HTTP API: the request line and headers together may be this large (counted as they arrive), and
    # hold this many header fields; past either the client gets 431 and the connection is closed.
    max_header_bytes: int = 16 * 1024
    max_header_count: int = 100
    # HTTP API: requests one worker process handles at once; one more is answered 503 at once (load
    # shedding), instead of joining a queue that only grows. The health checks are never refused.
    max_in_flight: int = 32
    # How often the supervisor of `./dev start` checks that the embedded server answers (db_supervisor.py).
    db_check_interval_seconds: float = 0.5

    @property
    def session_lifetime(self) -> str:
        """How long a session lives, in words ('2 hours')."""
        return duration_words(self.session_ttl_seconds)

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = os.environ.get("ENROLLMENT_PGDATA")
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            session_database_url=os.environ.get("DATABASE_SESSION_URL") or None,
            transaction_pooling=_env_flag("DB_TRANSACTION_POOLING", cls.transaction_pooling),
            dashboard_read_url=os.environ.get("DASHBOARD_READ_URL") or None,
            embedded_data_dir=Path(data_dir) if data_dir else cls.embedded_data_dir,
            session_ttl_seconds=_env_int("ENROLLMENT_TTL_SECONDS", cls.session_ttl_seconds, minimum=1),
            cleanup_interval_seconds=_env_int(
                "CLEANUP_INTERVAL_SECONDS", cls.cleanup_interval_seconds, minimum=1
            ),
            cleanup_batch_size=_env_int("CLEANUP_BATCH_SIZE", cls.cleanup_batch_size, minimum=1),
            cleanup_pause_ratio=_env_float("CLEANUP_PAUSE_RATIO", cls.cleanup_pause_ratio, minimum=0.0),
            archive_after_seconds=_env_int("ARCHIVE_AFTER_SECONDS", cls.archive_after_seconds, minimum=0),
            pool_min_size=_env_int("DB_POOL_MIN_SIZE", cls.pool_min_size, minimum=0),
            pool_max_size=_env_int("DB_POOL_MAX_SIZE", cls.pool_max_size, minimum=1),
            login_max_failures=_env_int("LOGIN_MAX_FAILURES", cls.login_max_failures, minimum=1),
            login_lock_seconds=_env_int("LOGIN_LOCK_SECONDS", cls.login_lock_seconds, minimum=1),
            device_token_days=_env_int("DEVICE_TOKEN_DAYS", cls.device_token_days, minimum=1),
            signin_replay_window=_env_int("SIGNIN_REPLAY_WINDOW", cls.signin_replay_window, minimum=0),
            rate_limits=RateLimitSettings.from_env(),
            database_limits=DatabaseLimits.from_env(),
            request_timeout_seconds=_env_float(
                "API_REQUEST_TIMEOUT_SECONDS", cls.request_timeout_seconds, minimum=0.1
            ),
            max_in_flight=_env_int("API_MAX_IN_FLIGHT", cls.max_in_flight, minimum=1),
            max_header_bytes=_env_int("API_MAX_HEADER_BYTES", cls.max_header_bytes, minimum=1024),
            max_header_count=_env_int("API_MAX_HEADERS", cls.max_header_count, minimum=10),
            db_check_interval_seconds=_env_float(
                "DB_CHECK_INTERVAL_SECONDS", cls.db_check_interval_seconds, minimum=0.05
            ),
        )
