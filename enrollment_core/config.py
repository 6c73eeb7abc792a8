"""The settings registry: every environment variable the product reads, declared once here with its
type, default and bounds (the README's configuration table is checked against it).

`Configuration.from_env()` reads them all; an entry point builds it once per process (or asks for
`process_configuration()`, which does so the first time) and passes the parts down: `Settings` to the
core, `ApiServerSettings` to api/serve.py, `DashboardSettings` to the console, `AppSettings` to the
enrollment app. Nothing reads the environment at import time, and nothing but this module reads it.
Every setting has a safe default for the embedded set-up; a value that cannot be used is refused with
the variable's name and the reason.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_T = TypeVar("_T")
_N = TypeVar("_N", int, float)
_D = TypeVar("_D")
# Field metadata: the variable a setting is read from, and how its text becomes the value.
_ENV = "env"
_PARSE = "parse"
Parse = Callable[[str, str], Any]  # (variable name, its raw text) -> value; ValueError names the variable

# Variables read by something other than this Python code; declared so the README's table is complete.
READ_ELSEWHERE: dict[str, str] = {
    "ENROLLMENT_APP_PORT": "./dev start: the enrollment app's port",
    "DASHBOARD_PORT": "./dev start: the dashboard's port",
    "FORWARDED_ALLOW_IPS": "uvicorn (under the API and Streamlit): proxies whose X-Forwarded-For is believed",
}


def _number(kind: type[_N], what: str, minimum: _N) -> Callable[[str, str], _N]:
    def parse(name: str, raw: str) -> _N:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"{name} must be {what}, got {raw!r}") from None
        if not value >= minimum:  # also refuses NaN
            raise ValueError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def _int(minimum: int = 0) -> Callable[[str, str], int]:
    return _number(int, "an integer", minimum)


def _float(minimum: float = 0.0) -> Callable[[str, str], float]:
    return _number(float, "a number", minimum)


def _flag(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 0 or 1, got {raw!r}")


def _text(_name: str, raw: str) -> str:
    return raw


def _path(_name: str, raw: str) -> Path:
    return Path(raw)


def _env(name: str, default: _T, parse: Callable[[str, str], _T], *, secret: bool = False) -> _T:
    """A setting read from the variable `name` (unset or blank: `default`). Typed as its value, so the
    dataclass's field has the setting's own type. A secret is left out of the settings' repr (logs)."""
    return field(default=default, repr=not secret, metadata={_ENV: name, _PARSE: parse})


def _read(cls: type[_D], environ: Mapping[str, str]) -> _D:
    """An instance of the registry dataclass `cls` from `environ`: each declared variable that is set
    (not blank) replaces its default; nested registry dataclasses are read the same way."""
    values: dict[str, Any] = {}
    for spec in fields(cast(Any, cls)):
        if _ENV in spec.metadata:
            raw = environ.get(spec.metadata[_ENV])
            if raw is not None and raw.strip():
                values[spec.name] = spec.metadata[_PARSE](spec.metadata[_ENV], raw)
        elif isinstance(spec.default_factory, type) and is_dataclass(spec.default_factory):
            values[spec.name] = _read(spec.default_factory, environ)
    return cls(**values)


def _declared(cls: type[Any]) -> list[str]:
    names: list[str] = []
    for spec in fields(cls):
        if _ENV in spec.metadata:
            names.append(spec.metadata[_ENV])
        elif isinstance(spec.default_factory, type) and is_dataclass(spec.default_factory):
            names.extend(_declared(spec.default_factory))
    return names


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

    # check-username and check-user-exists, per address
    lookups_per_hour: int = _env("RATE_LIMIT_LOOKUPS_PER_HOUR", 120, _int())
    # drawing steps saved, per address (a signup is 11)
    saves_per_minute: int = _env("RATE_LIMIT_SAVES_PER_MINUTE", 60, _int())
    # enrollments (signup or sign-in) started, per address
    sessions_per_hour: int = _env("RATE_LIMIT_SESSIONS_PER_HOUR", 30, _int())
    # drawing data stored, per address (a signup is ~0.3-1 MB)
    upload_bytes_per_hour: int = _env("RATE_LIMIT_UPLOAD_BYTES_PER_HOUR", 50_000_000, _int())
    # sign-in verifications (login), per address
    signins_per_hour: int = _env("RATE_LIMIT_SIGNINS_PER_HOUR", 30, _int())
    # Rejected sign-ins of one account from all addresses together: past this the account is slowed
    # (refused with Retry-After until a token refills), never locked.
    account_failures_per_hour: int = _env("RATE_LIMIT_ACCOUNT_FAILURES_PER_HOUR", 10, _int())

    @classmethod
    def off(cls) -> RateLimitSettings:
        """No limits (tests of other behaviour, benchmarks that measure the limits' cost set their own)."""
        return cls(**{spec.name: 0 for spec in fields(cls)})


@dataclass(frozen=True)
class DatabaseLimits:
    """How long anything may wait on the database, so that a request fails fast (503, nothing written)
    instead of hanging when PostgreSQL is down, locked or overloaded. Defaults fit the API: a save takes
    a few milliseconds, so seconds are already far beyond a healthy wait (docs/performance.md, Faults)."""

    # A request waits at most this long for a pooled connection (then 503 + Retry-After).
    pool_timeout_seconds: float = _env("DB_POOL_TIMEOUT_SECONDS", 3.0, _float(0.1))
    # Requests waiting for a connection, per pool; one more is refused at once (503), not queued.
    pool_max_waiting: int = _env("DB_POOL_MAX_WAITING", 20, _int())
    # A reconnection attempt to a database that went away is given up after this long, and the next
    # request starts a new one at once: psycopg_pool's own back-off doubles without a cap (1, 2, 4 ... 32 s).
    reconnect_seconds: float = _env("DB_RECONNECT_SECONDS", 2.0, _float(0.1))
    # Opening a connection (libpq's connect_timeout; it counts whole seconds, at least 2).
    connect_timeout_seconds: int = _env("DB_CONNECT_TIMEOUT_SECONDS", 2, _int(2))
    # Per statement and per lock wait on the product's connections (PostgreSQL's statement_timeout and
    # lock_timeout): a held table lock or a runaway query costs a request this, not an open-ended wait.
    statement_timeout_seconds: float = _env("DB_STATEMENT_TIMEOUT_SECONDS", 5.0, _float())
    lock_timeout_seconds: float = _env("DB_LOCK_TIMEOUT_SECONDS", 2.0, _float())
    # A transaction left open and idle this long is ended by the server (its locks released).
    idle_in_transaction_seconds: float = _env("DB_IDLE_IN_TRANSACTION_SECONDS", 10.0, _float())
    # The cleanup, the archiving and the dashboard's snapshot work on many rows: their own, longer limits.
    maintenance_statement_timeout_seconds: float = _env(
        "MAINTENANCE_STATEMENT_TIMEOUT_SECONDS", 300.0, _float()
    )
    maintenance_lock_timeout_seconds: float = _env("MAINTENANCE_LOCK_TIMEOUT_SECONDS", 10.0, _float())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DatabaseLimits:
        return _read(cls, environ)


@dataclass(frozen=True)
class Settings:
    """The core's settings (the service, the pool, the maintenance, the API's request guards). Tests build
    one directly; processes read it from the environment through Configuration."""

    # Where to connect. None means: start (or reuse) the embedded PostgreSQL under `embedded_data_dir`.
    database_url: str | None = _env("DATABASE_URL", None, _text)
    # Where work that needs a session of its own connects (migrations' and the cleanup runner's advisory
    # locks): the primary itself or a session-mode pool. None: database_url. Set it when database_url
    # goes through a transaction pooler, where a session lock would land on whichever server connection.
    session_database_url: str | None = _env("DATABASE_SESSION_URL", None, _text)
    # database_url goes through a transaction pooler (PgBouncer pool_mode=transaction): no server-side
    # prepared statements, and no session-level SETs (they would stay on one server connection and
    # reach other clients); the time limits must then be set pooler-side, and are checked at start.
    transaction_pooling: bool = _env("DB_TRANSACTION_POOLING", False, _flag)
    # The dashboard's reads go here (a hot standby) when set; its writes stay on database_url.
    dashboard_read_url: str | None = _env("DASHBOARD_READ_URL", None, _text)
    embedded_data_dir: Path = _env("ENROLLMENT_PGDATA", PROJECT_ROOT / "var" / "pgdata", _path)
    # How long an enrollment session lives from its first drawing.
    session_ttl_seconds: int = _env("ENROLLMENT_TTL_SECONDS", 2 * 3600, _int(1))
    # How often the background cleanup runs (once per interval across all app instances).
    cleanup_interval_seconds: int = _env("CLEANUP_INTERVAL_SECONDS", 3600, _int(1))
    cleanup_batch_size: int = _env("CLEANUP_BATCH_SIZE", 5000, _int(1))
    # After each cleanup/archive batch, rest this many times the batch's duration. Off by default: on
    # the bench, rests doubled the cleanup's duration without shortening the saves' longest waits.
    cleanup_pause_ratio: float = _env("CLEANUP_PAUSE_RATIO", 0.0, _float())
    # Completed sessions older than this move to enrollment_archive in the hourly run (0 = never).
    archive_after_seconds: int = _env("ARCHIVE_AFTER_SECONDS", 7 * 24 * 3600, _int())
    pool_min_size: int = _env("DB_POOL_MIN_SIZE", 1, _int())
    pool_max_size: int = _env("DB_POOL_MAX_SIZE", 10, _int(1))
    # Sign-in: rejections in a row from one address before that address is locked out of the account,
    # and how long the lock lasts (the owner elsewhere is not locked; see sign_in_lockout.py).
    login_max_failures: int = _env("LOGIN_MAX_FAILURES", 5, _int(1))
    login_lock_seconds: int = _env("LOGIN_LOCK_SECONDS", 15 * 60, _int(1))
    # Device tokens (device_tokens.py): how long one lives after its issue or its latest accepted sign-in.
    device_token_days: int = _env("DEVICE_TOKEN_DAYS", 90, _int(1))
    # Sign-in: how many of the user's latest attempts a new one is compared with for replay.
    signin_replay_window: int = _env("SIGNIN_REPLAY_WINDOW", 20, _int())
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    database_limits: DatabaseLimits = field(default_factory=DatabaseLimits)
    # HTTP API: a request (headers and body) must arrive whole within this long, or it gets 408.
    request_timeout_seconds: float = _env("API_REQUEST_TIMEOUT_SECONDS", 15.0, _float(0.1))
    # HTTP API: the request line and headers together may be this large (counted as they arrive), and
    # hold this many header fields; past either the client gets 431 and the connection is closed.
    max_header_bytes: int = _env("API_MAX_HEADER_BYTES", 16 * 1024, _int(1024))
    max_header_count: int = _env("API_MAX_HEADERS", 100, _int(10))
    # HTTP API: requests one worker process handles at once; one more is answered 503 at once (load
    # shedding), instead of joining a queue that only grows. The health checks are never refused.
    max_in_flight: int = _env("API_MAX_IN_FLIGHT", 32, _int(1))
    # How often the supervisor of `./dev start` checks that the embedded server answers (db_supervisor.py).
    db_check_interval_seconds: float = _env("DB_CHECK_INTERVAL_SECONDS", 0.5, _float(0.05))

    @property
    def session_lifetime(self) -> str:
        """How long a session lives, in words ('2 hours')."""
        return duration_words(self.session_ttl_seconds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return _read(cls, environ)


@dataclass(frozen=True)
class ApiServerSettings:
    """How `python -m api.serve` (./dev start) runs the API's server."""

    # The address the API listens on; 0.0.0.0 for every interface, behind a proxy.
    host: str = _env("API_HOST", "127.0.0.1", _text)
    port: int = _env("API_PORT", 8000, _int(1))
    # Worker processes; None: one per CPU this process may use, at most api.serve.MAX_DEFAULT_WORKERS.
    workers: int | None = _env("API_WORKERS", None, _int(1))
    # A line per request (off: it cost a fifth of the API's CPU per save; the proxy in front logs them).
    access_log: bool = _env("API_ACCESS_LOG", False, _flag)


@dataclass(frozen=True)
class DashboardSettings:
    """The staff console's own settings (its database settings are the core's)."""

    # The staff secret (Streamlit's secrets may hold it instead: dashboard/auth.py); None: no access.
    password: str | None = _env("DASHBOARD_PASSWORD", None, _text, secret=True)
    # How long the signed cookie keeps a person signed in across reloads.
    sign_in_hours: float = _env("DASHBOARD_SIGN_IN_HOURS", 8.0, _float(0.01))
    # The console offers to run the hourly cleanup and keeps its figures fresh from a thread; off for
    # tests and read-only use.
    background_work: bool = _env("DASHBOARD_BACKGROUND_CLEANUP", True, _flag)


@dataclass(frozen=True)
class AppSettings:
    """The enrollment app's own settings."""

    # How people reach support ("help@example.org", "the front desk"); None: no support line.
    support_contact: str | None = _env("SUPPORT_CONTACT", None, _text)


@dataclass(frozen=True)
class Configuration:
    """The registry: every setting of every part, read from the environment in one go."""

    settings: Settings = field(default_factory=Settings)
    api_server: ApiServerSettings = field(default_factory=ApiServerSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    app: AppSettings = field(default_factory=AppSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Configuration:
        return _read(cls, environ)

    @classmethod
    def variables(cls) -> set[str]:
        """Every environment variable the product reads: the registry's, and those of READ_ELSEWHERE."""
        return set(_declared(cls)) | set(READ_ELSEWHERE)


# The registry's own variables, in order (the key that tells process_configuration to read anew).
_VARIABLES = tuple(_declared(Configuration))
_process_lock = threading.Lock()
_process: tuple[tuple[str | None, ...], Configuration] | None = None


def process_configuration() -> Configuration:
    """This process's configuration, read from the environment the first time it is asked for and kept.
    A process's environment does not change, so that is once per process; read again only when one of
    the declared variables did change (tests set them between runs of an app in one process)."""
    global _process
    key = tuple(os.environ.get(name) for name in _VARIABLES)
    current = _process
    if current is not None and current[0] == key:
        return current[1]
    with _process_lock:
        if _process is None or _process[0] != key:
            _process = (key, Configuration.from_env())
        return _process[1]
