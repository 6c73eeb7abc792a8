"""The enrollment service: every rule of the flow, on top of the PostgreSQL contract.

Both Streamlit apps and the HTTP API call this; none of them holds SQL. Each public method validates
its input first (raising a typed EnrollmentError that names the field), then works in one transaction,
so a refused request changes nothing.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from . import device_tokens, rate_limits, sign_in_lockout, strokes, validation, verification
from .commands import SaveDrawing
from .config import Settings
from .database import Connection, Pool, execute_as_own_transaction, one
from .errors import (
    EnrollmentIncomplete,
    NoEnrolledSignatures,
    RateLimited,
    SessionClosed,
    StepConflict,
    UsernameUnavailable,
    UserNotFound,
    ValidationError,
    WrongFlow,
)
from .maintenance import PeriodicCleanup, archive_completed, cleanup_expired
from .queries import query
from .rate_limits import Limits
from .readiness import ReadinessProbe
from .save_outcome import ACCEPTED, SaveOutcome, refusal, session_expired, session_not_found
from .staff_reads import StaffReads, open_standby_reads
from .status import SessionInfo, SessionStatus
from .validation import DrawingStep


def new_session_id() -> str:
    """'sess_' + 192 random bits, URL-safe: unguessable, and fine in a query string."""
    return "sess_" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ClientInfo:
    """What the request says about the device; stored as device_info and metadata. The address also
    keys the rate limits and sign-in locks (none given: not limited per address).

    device_token: the device token this client holds for the account (from a Registration or an
    accepted LoginResult; see device_tokens.py): login and check_user_exists treat a valid one as a
    known device, which attempts from elsewhere cannot slow, lock or refuse.
    session_secret: a secret this client holds (the API's deviceToken, the app's per-browser secret):
    a session started with one (save_drawing without session_id) continues, by save_drawing, register,
    login, get_live_session and get_login_result, only with the same one (else SessionElsewhere).
    Both: 22-256 URL-safe characters (secrets.token_urlsafe(32) makes one), else ValidationError.
    Neither is shown in repr(), so neither reaches a log line."""

    user_agent: str | None = None
    ip: str | None = None
    device_token: str | None = field(default=None, repr=False)
    session_secret: str | None = field(default=None, repr=False)

    def metadata(self) -> dict[str, Any]:
        return {"ip": self.ip}


@dataclass(frozen=True)
class Progress:
    """One row of get_enrollment_progress()."""

    total_steps: int
    completed_steps: int
    last_step_number: int | None
    last_step_type: str | None
    remaining_steps: int
    is_complete: bool

    @property
    def next_step(self) -> int | None:
        return None if self.is_complete else self.completed_steps + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UsernameCheck:
    username: str
    ok: bool  # signup: valid and free; signin: the user exists
    reason: str | None = None
    code: str | None = None
    locked_until: datetime | None = None  # signin: the account exists but this address is locked out


@dataclass(frozen=True)
class SaveResult:
    session_id: str
    progress: Progress
    created: bool  # this call started the session
    duplicate: bool  # a retry of a step already saved with the same content; nothing was written


@dataclass(frozen=True)
class Registration:
    user_id: int
    username: str
    session_id: str
    drawings_copied: int
    # The new account's device token, for the client to keep and send with its sign-ins
    # (ClientInfo.device_token). A retry answers the same one (None once it was revoked or expired).
    # Not compared: two answers about one registration are the same registration.
    device_token: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LoginResult:
    """The verdict on one sign-in: accepted when score <= threshold (a lower score is a closer match)."""

    accepted: bool
    username: str
    session_id: str
    score: float | None
    threshold: float | None
    reason: str
    reason_code: str  # verification.REASONS: match, no_match, replay, empty, untimed, implausible_timing
    # Rejections left before this address is locked out of the account; for a known device (a valid
    # device token presented), before that token is revoked.
    failures_left: int
    locked_until: datetime | None  # set when this rejection locked this address out of the account
    # Accepted: the device token to keep (the one presented, or a new one for an unknown device) and
    # send with the next sign-ins; None when rejected.
    device_token: str | None = field(default=None, repr=False)
    known_device: bool = False  # the attempt presented a valid device token of the account
    device_token_revoked: bool = False  # this rejection (or an earlier one) revoked the token presented


class EnrollmentService:
    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.limits = Limits(self.settings.rate_limits)
        self._maintenance: PeriodicCleanup | None = None

    def start_background_maintenance(self) -> PeriodicCleanup:
        """Offer to run the hourly cleanup and archiving from this process (one runner across all
        instances at a time). Stopped by close()."""
        if self._maintenance is None:
            s = self.settings
            self._maintenance = PeriodicCleanup(
                self.pool,
                s.cleanup_interval_seconds,
                batch_size=s.cleanup_batch_size,
                archive_after_seconds=s.archive_after_seconds,
                pause_ratio=s.cleanup_pause_ratio,
                login_lock_seconds=s.login_lock_seconds,
            ).start()
        return self._maintenance

    # ---------------------------------------------------------------- the other doors on this database

    def staff_reads(self) -> StaffReads:
        """What the staff console reads, on this service's database (the primary)."""
        return StaffReads(self.pool)

    def standby_reads(self, read_url: str) -> StaffReads:
        """What the staff console reads, on a hot standby (its own pool: close() it); a stale snapshot
        found there is refreshed on this service's database."""
        return open_standby_reads(read_url, self.settings, self.pool)

    def readiness_probe(self) -> ReadinessProbe:
        """Can this database take a save right now? Asked on a connection of its own (readiness.py)."""
        return ReadinessProbe.of(self.pool)

    def close(self) -> None:
        """Stop background maintenance and close the connection pool."""
        if self._maintenance is not None:
            self._maintenance.stop()
            self._maintenance = None
        self.pool.close()

    # ---------------------------------------------------------------- usernames

    def check_username(self, username: Any, client: ClientInfo | None = None) -> UsernameCheck:
        """Signup: is this a valid username that nobody has registered (case-insensitively)? Limited per
        client address (RateLimited), before the name is looked up."""
        refused = _invalid_username(username)
        if refused:
            return refused
        name = username.strip()
        with self.pool.connection() as conn:
            rate_limits.take(conn, self.limits.lookup(_address(client)))
            taken = conn.execute(query("find_user"), {"username": name}).fetchone()
        if taken:
            return UsernameCheck(name, False, f"username {name!r} is already taken", "username_taken")
        return UsernameCheck(name, True)

    def check_user_exists(self, username: Any, client: ClientInfo | None = None) -> UsernameCheck:
        """Signin: is there a registered user with this username (and is this client's address locked
        out of it, unless the client holds a valid device token of the account)? Limited per client
        address (RateLimited), before the name is looked up."""
        # The token first: a malformed one is refused (ValidationError) whatever the username says.
        token = device_tokens.clean_secret(client.device_token if client else None, "device_token")
        refused = _invalid_username(username)
        if refused:
            return refused
        name = username.strip()
        address = sign_in_lockout.address_key(_address(client))
        with self.pool.connection() as conn:
            # A known device (a valid token of this account) is charged on its own limit, and no lock
            # stops it: what others did from its network does not reach it.
            known = device_tokens.find_valid(conn, name, token, own_transaction=True)
            rate_limits.take(conn, self.limits.lookup(_address(client), known.id if known else None))
            user = conn.execute(query("find_user"), {"username": name}).fetchone()
            lock = (
                conn.execute(
                    query("sign_in_lock_by_username"), {"username": name, "address": address}
                ).fetchone()
                if user and known is None
                else None
            )
        if not user:
            return UsernameCheck(name, False, f"no account is registered as {name!r}", "user_not_found")
        if lock:  # say so before the person draws, not after
            error = sign_in_lockout.locked_error(lock["locked_until"])
            return UsernameCheck(user["username"], True, error.message, error.code, lock["locked_until"])
        return UsernameCheck(user["username"], True)

    # ---------------------------------------------------------------- drawing steps

    def save_drawing(self, command: SaveDrawing, client: ClientInfo | None = None) -> SaveResult:
        """Save one step (the seed's save-drawing). Without session_id it starts a session for step 1;
        with it, it continues that session. Re-sending a saved step with the same content is a no-op
        that returns the same answer. Limited per client address (saves, sessions started, bytes
        stored: RateLimited) once the step is valid."""
        return self.save_validated_drawing(validation.parse_drawing_step(command), client)

    def save_validated_drawing(self, drawing: DrawingStep, client: ClientInfo | None = None) -> SaveResult:
        """save_drawing after validation.parse_drawing_step: the database part on its own."""
        client = client or ClientInfo()
        secret = device_tokens.clean_secret(client.session_secret, "session_secret")
        if drawing.session_id is None:
            validation.check_step_in_plan(drawing, drawing.flow_type or "signup")
            if drawing.step != 1:
                raise StepConflict(f"step: a new session starts at step 1, not {drawing.step}", field="step")
        params = {
            "session_id": drawing.session_id,
            "new_session_id": new_session_id() if drawing.session_id is None else None,
            "username": drawing.username,
            "flow_type": drawing.flow_type,
            "step_number": drawing.step,
            "step_type": drawing.type,
            "instruction": drawing.instruction.strip() or None,  # None: the plan's wording
            "signature_data": drawing.signature,
            # Already serialised by validation: reuse that JSON instead of dumping it again.
            "raw_data": Jsonb(drawing.raw, dumps=lambda _: drawing.raw_json),
            "metrics": Jsonb(drawing.metrics, dumps=lambda _: drawing.metrics_json),
            "content_hash": drawing.content_hash,
            "device_info": _truncate(client.user_agent),
            "metadata": Jsonb(client.metadata(), dumps=orjson.dumps),  # orjson: ~10x the stdlib's speed
            "last_ip": Jsonb({"last_ip": client.ip}, dumps=orjson.dumps),
            "ttl_seconds": self.settings.session_ttl_seconds,
            "client_secret_hash": None if secret is None else device_tokens.secret_hash(secret),
        }
        with self.pool.connection() as conn:
            known = None
            if drawing.session_id is None and client.device_token is not None:
                # A sign-in's drawing from a known device is charged on that device, not its network.
                token = device_tokens.clean_secret(client.device_token, "device_token")
                known = device_tokens.find_valid(conn, drawing.username, token, own_transaction=True)
            device = known.id if known is not None else None
            cost = self.limits.save(_address(client), drawing.stored_size, drawing.session_id is None, device)
            if drawing.session_id is None:
                rate_limits.take(conn, cost)  # one round trip, before anything is written
            else:  # the common save charges its limits in its own statement
                saved = _save_next_step(conn, {**params, **rate_limits.parameters(cost)})
                if saved is None:  # it failed: nothing happened, the limits neither
                    rate_limits.take(conn, cost)
                else:
                    rate_limits.raise_if_refused(saved)
                    if saved["flow_type"] is not None:
                        progress = _progress_of(saved)
                        return SaveResult(drawing.session_id, progress, created=False, duplicate=False)
                # Not saved: a session bound to another secret says so (the binding never changes
                # once the session exists, so this check cannot go stale before save_step).
                _check_binding(conn, drawing.session_id, drawing.username, secret)
            if drawing.session_id is None and secret is not None:
                with conn.transaction():  # the new session and its binding, committed together
                    row = one(conn.execute(query("save_step"), params).fetchone())
                    if row["outcome"] == SaveOutcome.CREATED:
                        binding = {**params, "session_id": row["session_id"]}
                        conn.execute(query("bind_session"), binding)
            else:
                row = one(execute_as_own_transaction(conn, query("save_step"), params))
            if drawing.session_id is None and row["outcome"] == SaveOutcome.DUPLICATE:
                # A first step sent again answers with its session only to the client it is bound to.
                _check_binding(conn, row["session_id"], drawing.username, secret)
        outcome = SaveOutcome(row["outcome"])
        if outcome in ACCEPTED:
            return SaveResult(
                row["session_id"],
                _progress_of(row),
                outcome == SaveOutcome.CREATED,
                outcome == SaveOutcome.DUPLICATE,
            )
        raise refusal(drawing, row)

    def _locked_session(
        self, conn: Connection, session_id: str, username: str, secret: str | None
    ) -> dict[str, Any]:
        """The user's session, locked until commit; SessionElsewhere when it is bound to another secret."""
        row = conn.execute(query("lock_enrollment"), {"session_id": session_id}).fetchone()
        if row is None or row["username"].lower() != username.lower():
            raise session_not_found()
        device_tokens.check_binding(row["client_secret_hash"], secret)
        return row

    # ---------------------------------------------------------------- progress and sessions

    def _progress(self, conn: Connection, session_id: str) -> Progress:
        row = conn.execute(query("get_progress"), {"session_id": session_id}).fetchone()
        if row is None:
            raise session_not_found()
        return Progress(**row)

    def get_progress(self, session_id: Any) -> Progress:
        session_id = validation.clean_session_id(session_id)
        with self.pool.connection() as conn:
            return self._progress(conn, session_id)

    def get_live_session(
        self, session_id: Any, client: ClientInfo | None = None
    ) -> tuple[SessionInfo, Progress]:
        """A session that can still be continued or completed, with its progress; SessionExpired once
        it is past expiry (a client resuming after a lost connection learns it must start again).
        With a client: SessionElsewhere when the session is bound to a secret the client does not hold
        (e.g. its link opened in another browser: say where to continue)."""
        secret = device_tokens.clean_secret(client.session_secret, "session_secret") if client else None
        session, bound_to = self._session(session_id)
        if client is not None:
            device_tokens.check_binding(bound_to, secret)
        if session.status == SessionStatus.EXPIRED:
            raise session_expired()
        return session, self.get_progress(session.session_id)

    def get_session(self, session_id: Any) -> SessionInfo:
        """A session's state, with status 'expired' as soon as it is past expiry (even before cleanup
        or a save marks it)."""
        return self._session(session_id)[0]

    def _session(self, session_id: Any) -> tuple[SessionInfo, bytes | None]:
        """get_session, and the hash of the secret the session is bound to (None: not bound)."""
        session_id = validation.clean_session_id(session_id)
        with self.pool.connection() as conn:
            row = conn.execute(query("get_enrollment"), {"session_id": session_id}).fetchone()
        if row is None:
            raise session_not_found()
        return SessionInfo.from_row(row), row["client_secret_hash"]

    def list_steps(self, session_id: Any) -> list[dict[str, Any]]:
        """Every saved step of a session, in order (images included), for review screens."""
        session_id = validation.clean_session_id(session_id)
        with self.pool.connection() as conn:
            row = conn.execute(query("get_enrollment"), {"session_id": session_id}).fetchone()
            if row is None:
                raise session_not_found()
            return conn.execute(query("list_steps"), {"enrollment_id": row["id"]}).fetchall()

    # ---------------------------------------------------------------- completion

    def register(
        self,
        username: Any,
        session_id: Any,
        use_temporary_data: bool = True,
        client: ClientInfo | None = None,
    ) -> Registration:
        """Turn a complete signup session into a user: completes the session, creates the user and
        copies the drawings, all in one transaction (so a refusal leaves the session usable), and issues
        the account's first device token (Registration.device_token; the client keeps it and sends it
        with its sign-ins as ClientInfo.device_token). A session bound to a client secret registers only
        with it (client.session_secret; else SessionElsewhere).
        Idempotent: the same request again, once the session made its account (the answer was lost, or
        both were sent at once: the second waits on the session's lock until the first commits),
        returns the same Registration (the same device token too) and writes nothing."""
        why = "registration uses the drawings saved in the session"
        name, session_id, client = _completion_request(username, session_id, use_temporary_data, client, why)
        secret = device_tokens.clean_secret(client.session_secret, "session_secret")
        with self.pool.connection() as conn:
            row = self._locked_session(conn, session_id, name, secret)
            # The token derives from the secret the session is bound to (None: unbound, the weaker path).
            bound_secret = secret if row["client_secret_hash"] is not None else None
            if row["flow_type"] != "signup":
                raise WrongFlow(
                    "this is a sign-in session; register needs a signup session", field="session_id"
                )
            if row["status"] == SessionStatus.COMPLETED:
                done = conn.execute(
                    query("registration_of_session"), {"username": name, "session_id": session_id}
                ).fetchone()
                if done is not None:
                    token = device_tokens.reissued(
                        conn, user_id=done["id"], session_id=session_id, client_secret=bound_secret
                    )
                    return Registration(done["id"], done["username"], session_id, done["drawings"], token)
                # Completed but no account from it (deleted since): refused below as already used.
            outcome = one(conn.execute(query("complete_enrollment"), {"session_id": session_id}).fetchone())
            if not outcome["success"]:
                _raise_for_completion(outcome, conn)
            try:
                with conn.transaction():  # savepoint: a duplicate username must not abort silently
                    user = one(
                        conn.execute(
                            query("insert_user"), {"username": row["username"], "session_id": session_id}
                        ).fetchone()
                    )
            except psycopg.errors.UniqueViolation:
                raise UsernameUnavailable(
                    f"username {row['username']!r} was registered by someone else meanwhile", field="username"
                ) from None
            copied = conn.execute(
                query("copy_steps_to_user"), {"user_id": user["id"], "enrollment_id": row["id"]}
            ).rowcount
            _build_at_registration(conn, user["id"])
            token = device_tokens.issue(
                conn,
                user_id=user["id"],
                session_id=session_id,
                client_secret=bound_secret,
                days=self.settings.device_token_days,
                user_agent=_truncate(client.user_agent),
                ip=client.ip,
            )
        return Registration(user["id"], user["username"], session_id, copied, token)

    def login(
        self,
        username: Any,
        session_id: Any,
        use_temporary_data: bool = True,
        client: ClientInfo | None = None,
    ) -> LoginResult:
        """Verify the signature drawn in a complete signin session against the user's enrolled
        signatures. Records the attempt. Each signin session gives one verdict (a refused one can be
        sent again). A session bound to a client secret completes only with it (client.session_secret;
        else SessionElsewhere).

        Known device (client.device_token is a valid token of the account, device_tokens.py): limited on
        its own only: sign-ins per token (RateLimited), and LOGIN_MAX_FAILURES rejections in a row with
        it revoke it (failures_left counts down to that; device_token_revoked says it happened).
        Nothing unknown devices did (address locks, the account's slowdown, per-address limits) applies.
        Unknown device: after `login_max_failures` rejections in a row from one client address, that
        address is locked out of the account for `login_lock_seconds` (AccountLocked); the owner
        elsewhere is not. Rejections from every address together slow the account down (RateLimited
        once its allowance is spent), and sign-ins are limited per address.
        Accepted: device_token is the token to keep (the one presented, its life extended, or a new one).

        Idempotent: the same request once the verdict is recorded returns that verdict again (as
        get_login_result: failures_left and locked_until as they are now, the same device token while
        it lives), and records, counts and charges nothing."""
        why = "sign-in verifies the signature saved in the session"
        name, session_id, client = _completion_request(username, session_id, use_temporary_data, client, why)
        token = device_tokens.clean_secret(client.device_token, "device_token")
        secret = device_tokens.clean_secret(client.session_secret, "session_secret")
        address = sign_in_lockout.address_key(client.ip)
        settings = self.settings
        with self.pool.connection() as conn:
            # A retry is answered before the per-address limit, so a client resending after a lost answer
            # is not told to wait. It gives an attacker nothing: it needs the session id (192 random
            # bits), the owner's username and the session's secret when it has one, and only repeats a
            # verdict, never verifies anything anew.
            verdict = execute_as_own_transaction(conn, query("login_verdict"), {"session_id": session_id})
            if verdict is not None and verdict["username"].lower() == name.lower():
                device_tokens.check_binding(verdict["client_secret_hash"], secret)
                return self._recorded_login(conn, session_id, verdict, token, secret)
            # Which limits this sign-in is charged on: a known device's own, else its address's.
            known = device_tokens.find_valid(conn, name, token, own_transaction=True)
            if known is not None:
                rate_limits.take(conn, self.limits.device_signin(known.id))
            else:
                rate_limits.take(conn, self.limits.signin(client.ip))
            row = self._locked_session(conn, session_id, name, secret)
            if row["flow_type"] != "signin":
                raise WrongFlow("this is a signup session; login needs a sign-in session", field="session_id")
            if row["status"] == SessionStatus.COMPLETED:
                # A retry sent while the first was being verified: it waited on the session's lock until
                # the verdict was committed (it was charged on the per-address limit above, not knowing).
                verdict = conn.execute(query("login_verdict"), {"session_id": session_id}).fetchone()
                if verdict is not None:
                    return self._recorded_login(conn, session_id, verdict, token, secret)
            user = conn.execute(query("lock_user"), {"username": name}).fetchone()
            if user is None:
                raise UserNotFound(f"no account is registered as {name!r}", field="username")
            if known is not None and token is not None:
                # Again under the user's lock, so exact: revoked meanwhile (staff, or its last allowed
                # rejection just committed), it is an unknown device, charged as one.
                known = device_tokens.lock_valid(conn, user["id"], token)
                if known is None:
                    rate_limits.take(conn, self.limits.signin(client.ip), own_transaction=False)
            if known is None:
                # Under the user's row lock, so exact: this address's lock, then the account's allowance.
                lock = sign_in_lockout.lock_of(conn, user["id"], address, settings.login_lock_seconds)
                if lock.locked_until is not None:
                    raise sign_in_lockout.locked_error(lock.locked_until)
                try:
                    check = self.limits.account_failures(name, cost=0)
                    rate_limits.take(conn, check, own_transaction=False)
                except RateLimited:
                    conn.commit()  # keep the refusal on the account's bucket for staff; nothing else changed
                    raise
            outcome = one(conn.execute(query("complete_enrollment"), {"session_id": session_id}).fetchone())
            if not outcome["success"]:
                _raise_for_completion(outcome, conn)
            attempt = one(conn.execute(query("list_steps"), {"enrollment_id": row["id"]}).fetchone())
            profile = _profile(conn, user["id"])
            recent = conn.execute(
                query("recent_signin_fingerprints"),
                {"user_id": user["id"], "limit": self.settings.signin_replay_window},
            ).fetchall()
            attempt_strokes = strokes.parse_strokes(attempt["raw_data"])
            attempt_path = verification.drawing_path(attempt_strokes)
            decision = verification.verify(
                profile,
                attempt_strokes,
                previous=[r["fingerprint"] for r in recent],
                previous_paths=[r["drawing_path"] for r in recent if r["drawing_path"] is not None],
                attempt_path=attempt_path,
            )
            conn.execute(
                query("record_login_attempt"),
                {
                    "user_id": user["id"],
                    "session_id": session_id,
                    "accepted": decision.accepted,
                    "reason_code": decision.reason_code,
                    "score": _finite(decision.score),
                    "threshold": decision.threshold,
                    "ip": client.ip,
                    "user_agent": _truncate(client.user_agent),
                    "fingerprint": verification.attempt_fingerprint(attempt_strokes),
                    "method": decision.method,
                    "drawing_path": attempt_path.to_bytes(),
                    "decided_by": decision.check,
                    "device_token_id": known.id if known is not None else None,
                },
            )
            outcome_params = {"user_id": user["id"], "accepted": decision.accepted}
            conn.execute(query("record_login_outcome"), outcome_params)
            issued: str | None = None
            revoked = False
            if known is not None:
                # A known device: only its own count changes (no address lock, no account allowance).
                lock = sign_in_lockout.AddressLock(0, None)
                if decision.accepted:
                    device_tokens.accepted(conn, known.id, settings.device_token_days)
                    issued = token
                else:
                    counted = device_tokens.rejected(conn, known.id, settings.login_max_failures)
                    lock = sign_in_lockout.AddressLock(counted.failures, None)
                    revoked = counted.revoked
            elif decision.accepted:
                sign_in_lockout.record_success(conn, user["id"], address)
                lock = sign_in_lockout.AddressLock(0, None)
                issued = device_tokens.issue(
                    conn,
                    user_id=user["id"],
                    session_id=session_id,
                    client_secret=secret if row["client_secret_hash"] is not None else None,
                    days=settings.device_token_days,
                    user_agent=_truncate(client.user_agent),
                    ip=client.ip,
                )
            else:
                lock = sign_in_lockout.record_failure(
                    conn, user["id"], address, settings.login_max_failures, settings.login_lock_seconds
                )
                # Spends from the allowance checked above (the row lock held since), so it cannot refuse.
                spend = self.limits.account_failures(name, cost=1)
                rate_limits.take(conn, spend, own_transaction=False)
        return LoginResult(
            accepted=decision.accepted,
            username=user["username"],
            session_id=session_id,
            score=_finite(decision.score),
            threshold=decision.threshold,
            reason=_verdict_reason(decision.reason, lock.locked_until, revoked),
            reason_code=decision.reason_code,
            failures_left=max(0, settings.login_max_failures - lock.failures),
            locked_until=lock.locked_until,
            device_token=issued,
            known_device=known is not None,
            device_token_revoked=revoked,
        )

    def get_login_result(self, session_id: Any, client: ClientInfo | None = None) -> LoginResult | None:
        """The verdict already given for a sign-in session (None before login), e.g. to show it again
        when its link is reopened; failures_left and locked_until are those of the address the sign-in
        came from (or of its device token), now. With the client that signed in (its session secret, its
        device token), the accepted verdict carries the device token again; a session bound to a secret
        the client does not hold raises SessionElsewhere."""
        session_id = validation.clean_session_id(session_id)
        token = device_tokens.clean_secret(client.device_token, "device_token") if client else None
        secret = device_tokens.clean_secret(client.session_secret, "session_secret") if client else None
        with self.pool.connection() as conn:
            row = conn.execute(query("login_verdict"), {"session_id": session_id}).fetchone()
            if row is None:
                return None
            if client is not None:
                device_tokens.check_binding(row["client_secret_hash"], secret)
            return self._recorded_login(conn, session_id, row, token, secret)

    def _recorded_login(
        self,
        conn: Connection,
        session_id: str,
        verdict: Mapping[str, Any],
        token: str | None = None,
        secret: str | None = None,
    ) -> LoginResult:
        """A recorded verdict (a login_verdict row) as login gave it; failures_left and locked_until
        are those of the address the sign-in came from (or of the device token it presented), now (the
        same as then unless that address or token signed in again meanwhile); an accepted verdict's
        device token while it lives (token, secret: what the retry presents)."""
        reason = verification.REASONS.get(verdict["reason_code"]) or verdict["reason_code"]
        max_failures = self.settings.login_max_failures
        known = device_tokens.failures_now(conn, verdict["device_token_id"])
        issued: str | None = None
        if verdict["device_token_id"] is not None:
            # Signed in as a known device: its token's count now, no address lock.
            failures = known.failures if known is not None else max_failures
            revoked = known is None or known.revoked
            if verdict["accepted"] and token is not None:
                found = device_tokens.find_valid(conn, verdict["username"], token)
                issued = token if found is not None and found.id == verdict["device_token_id"] else None
            return LoginResult(
                accepted=verdict["accepted"],
                username=verdict["username"],
                session_id=session_id,
                score=verdict["score"],
                threshold=verdict["threshold"],
                reason=_verdict_reason(reason, None, revoked and not verdict["accepted"]),
                reason_code=verdict["reason_code"],
                failures_left=max(0, max_failures - failures) if not verdict["accepted"] else max_failures,
                locked_until=None,
                device_token=issued,
                known_device=True,
                device_token_revoked=revoked and not verdict["accepted"],
            )
        address = sign_in_lockout.address_key(verdict["ip"])
        lock = sign_in_lockout.lock_of(conn, verdict["user_id"], address, self.settings.login_lock_seconds)
        # login words a lock only in a rejection's reason (an accepted sign-in has just cleared it).
        notice = None if verdict["accepted"] else lock.locked_until
        if verdict["accepted"]:
            bound_secret = secret if verdict["client_secret_hash"] is not None else None
            issued = device_tokens.reissued(
                conn, user_id=verdict["user_id"], session_id=session_id, client_secret=bound_secret
            )
        return LoginResult(
            accepted=verdict["accepted"],
            username=verdict["username"],
            session_id=session_id,
            score=verdict["score"],
            threshold=verdict["threshold"],
            reason=_verdict_reason(reason, notice),
            reason_code=verdict["reason_code"],
            failures_left=max(0, max_failures - lock.failures),
            locked_until=lock.locked_until,
            device_token=issued,
        )

    # ---------------------------------------------------------------- maintenance

    def cleanup_expired(self) -> int:
        """Delete every expired, never-completed session, in short batches; return how many."""
        return cleanup_expired(self.pool, self.settings.cleanup_batch_size, self.settings.cleanup_pause_ratio)

    def archive_completed(self, older_than_seconds: int) -> int:
        """Move completed sessions older than this into enrollment_archive, in short batches."""
        return archive_completed(
            self.pool, older_than_seconds, self.settings.cleanup_batch_size, self.settings.cleanup_pause_ratio
        )


def _invalid_username(username: Any) -> UsernameCheck | None:
    """The answer to a username check when the name itself is not acceptable (echoed back safely)."""
    problem = validation.username_problem(username)
    if problem is None:
        return None
    return UsernameCheck(validation.printable(username), False, f"username {problem}", "validation_error")


def _address(client: ClientInfo | None) -> str | None:
    return client.ip if client is not None else None


def _raise_for_completion(outcome: Mapping[str, Any], conn: Connection) -> None:
    if outcome["status"] == "expired":
        conn.commit()  # keep the 'expired' mark that complete_enrollment set
        raise session_expired()
    if outcome["status"] == "completed":
        raise SessionClosed("this enrollment session was already used", field="session_id")
    raise EnrollmentIncomplete(outcome["message"], field="session_id")


def _verdict_reason(reason: str, locked_until: datetime | None, token_revoked: bool = False) -> str:
    """The verdict's words, and the lock when the address is locked out of the account after it, or
    that the device is no longer remembered when its token was revoked."""
    if token_revoked:
        return (
            f"{reason}; after several rejected sign-ins in a row this device is no longer remembered, so "
            "the usual limits apply to its next sign-ins"
        )
    if locked_until is None:
        return reason
    return (
        f"{reason}; too many attempts: signing in to this account from your network is locked until "
        f"{locked_until:%H:%M UTC}"
    )


def _check_binding(conn: Connection, session_id: str, username: str, secret: str | None) -> None:
    """SessionElsewhere when this user's session is bound to a secret the client does not hold (an
    unknown session, or another user's, is left to the caller to report as not found)."""
    params = {"session_id": session_id, "username": username}
    row = execute_as_own_transaction(conn, query("session_binding"), params)  # the save's connection: idle
    if row is not None:
        device_tokens.check_binding(row["client_secret_hash"], secret)


def _profile(conn: Connection, user_id: int) -> verification.Profile:
    """The account's verification profile: the stored one, or (none stored, or of another format
    version: an account registered before profiles were stored, or a release that changed them) built
    from the enrolled signatures and stored for the next sign-in. Called under the user's row lock, so
    two sign-ins never build it at once."""
    stored = conn.execute(query("verification_profile"), {"user_id": user_id}).fetchone()
    if stored is not None and stored["version"] == verification.PROFILE_VERSION:
        try:
            return verification.Profile.from_bytes(stored["profile"])
        except ValueError:
            pass  # damaged: rebuilt below from the drawings, which are the reference
    enrolled = conn.execute(query("user_signatures"), {"user_id": user_id}).fetchall()
    try:
        profile = verification.build_profile([strokes.parse_strokes(r["raw_data"]) for r in enrolled])
    except ValueError as exc:  # InvalidRawData is a ValueError too
        raise NoEnrolledSignatures(f"this account cannot be verified: {exc}", field="username") from None
    _store_profile(conn, user_id, profile)
    return profile


def _store_profile(conn: Connection, user_id: int, profile: verification.Profile) -> None:
    conn.execute(
        query("store_verification_profile"),
        {"user_id": user_id, "version": profile.version, "profile": profile.to_bytes()},
    )


def _build_at_registration(conn: Connection, user_id: int) -> None:
    """Store the new account's profile with it, so its first sign-in does not build it. Drawings that
    cannot make one (too few signatures, empty ones) are not an error here: sign-in says so."""
    enrolled = conn.execute(query("user_signatures"), {"user_id": user_id}).fetchall()
    try:
        profile = verification.build_profile([strokes.parse_strokes(r["raw_data"]) for r in enrolled])
    except ValueError:
        return
    _store_profile(conn, user_id, profile)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _completion_request(
    username: Any, session_id: Any, use_temporary_data: Any, client: ClientInfo | None, why: str
) -> tuple[str, str, ClientInfo]:
    """The checked arguments register and login share: the username, the session id, the client (none
    given: an anonymous one), and use_temporary_data, which must be true (`why`: what uses it)."""
    name = validation.clean_username(username)
    session_id = validation.clean_session_id(session_id)
    if use_temporary_data is not True:
        raise ValidationError(f"the temporary data must be used (true): {why}", field="use_temporary_data")
    return name, session_id, client or ClientInfo()


_PROGRESS_FIELDS = tuple(Progress.__dataclass_fields__)


def _save_next_step(conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The common save (sql/queries.sql save_next_step): its row (the limits' verdict; flow_type when it
    saved the step), or None when it failed and changed nothing."""
    try:
        return one(execute_as_own_transaction(conn, query("save_next_step"), params))
    except psycopg.errors.UniqueViolation:  # the step is there although step_count said otherwise
        return None


def _progress_of(row: dict[str, Any]) -> Progress:
    """The progress columns of a save's row (computed by SQL's step_progress, never here)."""
    return Progress(**{name: row[name] for name in _PROGRESS_FIELDS})


def _truncate(text: str | None) -> str | None:
    return None if text is None else text[: validation.USER_AGENT_MAX_CHARS]
