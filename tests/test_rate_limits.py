"""Rate limits in PostgreSQL (enrollment_core.rate_limits) and the sign-in lockout's staff side
(enrollment_core.sign_in_lockout), on a real database: exact under concurrency, all of a request's
limits or none, one round trip, whole again with time, readable and clearable by staff, forgotten when
idle."""

from __future__ import annotations

import threading
from dataclasses import replace

import psycopg
import pytest

from enrollment_core import errors, maintenance, rate_limits, sign_in_lockout
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.rate_limits import Family, Limits
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService
from enrollment_core.staff import StaffActions
from tests.flows import draw_signin, register_user

ADDRESS = "192.0.2.10"


def limited(service: EnrollmentService, **limits: int) -> EnrollmentService:
    """The service with these limits (the others as defaults)."""
    return EnrollmentService(service.pool, replace(service.settings, rate_limits=RateLimitSettings(**limits)))


def take(service: EnrollmentService, request: rate_limits.Request | None) -> None:
    with service.pool.connection() as conn:
        rate_limits.take(conn, request)


def test_concurrent_requests_are_counted_exactly(service: EnrollmentService) -> None:
    """16 clients of one address at once, 8 requests each, against 50 an hour: exactly 50 get through."""
    limits = Limits(RateLimitSettings(lookups_per_hour=50))
    allowed, refused = [], []
    start = threading.Barrier(16)

    def client() -> None:
        start.wait()
        for _ in range(8):
            try:
                take(service, limits.lookup(ADDRESS))
                allowed.append(1)
            except errors.RateLimited:
                refused.append(1)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(allowed), len(refused)) == (50, 78)


def test_an_allowance_comes_back_with_time_and_the_wait_is_said(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    limits = Limits(RateLimitSettings(lookups_per_hour=3))
    for _ in range(3):
        take(service, limits.lookup(ADDRESS))
    with pytest.raises(errors.RateLimited) as refused:
        take(service, limits.lookup(ADDRESS))
    assert 1195 <= refused.value.retry_after_seconds <= 1200  # one request in 3600 / 3 s
    assert refused.value.limit == "lookups" and "about 20 minutes" in refused.value.message
    db.execute("UPDATE rate_limits SET lookups_full_at = lookups_full_at - interval '41 minutes'")
    take(service, limits.lookup(ADDRESS))
    take(service, limits.lookup(ADDRESS))  # two requests' worth came back in 41 minutes
    with pytest.raises(errors.RateLimited):
        take(service, limits.lookup(ADDRESS))


def test_a_request_is_charged_on_all_its_limits_or_none(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    """A save costs a save and its bytes: when the bytes do not fit, the save is not spent either, and
    the wait is that of the bytes (600 asked, 400 left of 1000 an hour: 720 s)."""
    limits = Limits(RateLimitSettings(saves_per_minute=10, upload_bytes_per_hour=1000))
    take(service, limits.save(ADDRESS, 600, starts_session=False))
    before = db.execute("SELECT saves_full_at FROM rate_limits").fetchone()
    with pytest.raises(errors.RateLimited) as refused:
        take(service, limits.save(ADDRESS, 600, starts_session=False))
    assert (refused.value.limit, refused.value.retry_after_seconds) == ("upload_bytes", 720)
    assert db.execute("SELECT saves_full_at FROM rate_limits").fetchone() == before
    take(service, limits.save(ADDRESS, 300, starts_session=False))  # what still fits is allowed


def test_the_limit_costs_at_most_one_round_trip_per_request(
    service: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each limited call sends at most one statement more with the limits on than with them off: a name
    check and a first step one, a later step none (its save statement charges the limits itself)."""
    statements: list[str] = []
    original = psycopg.Connection.execute

    def counting(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(str(query)[:40])
        return original(self, query, params, **kwargs)

    on = limited(service)
    client = ClientInfo("UA", ADDRESS)
    sessions = {
        svc: svc.save_drawing(sample_drawing(f"round_trip_{n}", 1)).session_id
        for n, svc in enumerate((service, on))
    }
    calls = {
        "check_username": lambda svc: svc.check_username("someone", client),
        "save step 1": lambda svc: svc.save_drawing(sample_drawing(f"new_{id(svc)}", 1), client),
        "save step 2": lambda svc: svc.save_drawing(
            sample_drawing(f"round_trip_{0 if svc is service else 1}", 2, session_id=sessions[svc]), client
        ),
    }
    monkeypatch.setattr(psycopg.Connection, "execute", counting)
    for name, call in calls.items():
        counts = []
        for svc in (service, on):
            statements.clear()
            call(svc)
            counts.append(len(statements))
        extra = 0 if name == "save step 2" else 1
        assert counts[0] >= 1 and counts[1] == counts[0] + extra, (name, counts, statements)


def test_staff_see_blocks_and_clear_them(service: EnrollmentService, db: psycopg.Connection) -> None:
    strict = limited(service, lookups_per_hour=2)
    client = ClientInfo("UA", ADDRESS)
    strict.check_username("first_name", client)
    seen = rate_limits.blocks_for_address(db, ADDRESS)
    assert seen is not None and not seen.blocked and set(seen.whole_again_at) == {Family.LOOKUPS}
    strict.check_username("second_name", client)
    with pytest.raises(errors.RateLimited):
        strict.check_username("third_name", client)
    seen = rate_limits.blocks_for_address(db, ADDRESS)
    assert seen is not None and seen.subject == f"address {ADDRESS}"
    assert (seen.blocked, seen.refused, seen.last_refused_limit) == (True, 1, Family.LOOKUPS)
    assert [c.subject for c in rate_limits.recent_blocks(db)] == [f"address {ADDRESS}"]
    assert rate_limits.blocks_for_address(db, "192.0.2.99") is None

    assert StaffActions(strict, "Sam Support").clear_rate_limit(seen.subject, Family.LOOKUPS) is True
    assert _staff_log(db) == [("Sam Support", "clear_rate_limit", f"address {ADDRESS}", True, "lookups")]
    cleared = rate_limits.blocks_for_address(db, ADDRESS)
    assert cleared is not None and not cleared.blocked and cleared.whole_again_at == {}
    assert strict.check_username("third_name", client).ok


def test_staff_see_an_accounts_sign_in_state_and_unlock_an_address(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    strict = EnrollmentService(service.pool, replace(service.settings, login_max_failures=2))
    forger, elsewhere = ClientInfo("UA", "203.0.113.5"), ClientInfo("UA", "203.0.113.6")
    register_user(strict, "dora")
    for sample in (1, 2):
        strict.login("dora", draw_signin(strict, "dora", person="eve", sample=sample), client=forger)
    strict.login("dora", draw_signin(strict, "dora", person="eve", sample=3), client=elsewhere)
    state = sign_in_lockout.state_for_user(db, "DORA")
    assert state is not None and state.username == "dora" and state.failed_logins == 3
    assert [(a.address, a.failures) for a in state.addresses] == [("203.0.113.6", 1), ("203.0.113.5", 2)]
    assert [a.address for a in state.locked_addresses] == ["203.0.113.5"] and state.slowed_until is None
    assert sign_in_lockout.state_for_user(db, "nobody") is None

    assert StaffActions(strict, "Sam Support").unlock_sign_in("dora", "203.0.113.5") == 1
    assert _staff_log(db) == [("Sam Support", "unlock_sign_in", "dora from 203.0.113.5", True, 1)]
    assert sign_in_lockout.state_for_user(db, "dora").locked_addresses == []  # type: ignore[union-attr]
    accepted = strict.login("dora", draw_signin(strict, "dora"), client=forger)
    assert accepted.accepted and accepted.failures_left == 2
    assert sign_in_lockout.unlock(db, "dora") == 1  # every address: the other one's count


def _staff_log(db: psycopg.Connection) -> list[tuple[object, ...]]:
    """The staff log's rows: who, what, on what, whether it worked, and the count or limit it reports."""
    rows = db.execute(
        "SELECT staff_name, action, target, succeeded, coalesce(result->'unlocked', result->'limit')"
        " AS reported FROM staff_actions ORDER BY id"
    ).fetchall()
    return [tuple(row.values()) for row in rows]


def test_idle_counters_are_forgotten_by_the_hourly_maintenance(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    limits = Limits(RateLimitSettings())
    take(service, limits.lookup("192.0.2.1"))
    take(service, limits.lookup("192.0.2.2"))
    register_user(service, "erin")
    service.login("erin", draw_signin(service, "erin", person="eve"), client=ClientInfo("UA", ADDRESS))
    db.execute(
        "UPDATE rate_limits SET lookups_full_at = NOW() - interval '1 second' WHERE subject LIKE '%.1'"
    )
    db.execute("UPDATE sign_in_lockouts SET last_failed_at = NOW() - interval '1 hour'")
    assert maintenance.forget_idle_abuse_counters(service.pool, login_lock_seconds=900) == 2
    assert [r["subject"] for r in db.execute("SELECT subject FROM rate_limits")] == ["address 192.0.2.2"]
    assert db.execute("SELECT count(*) AS n FROM sign_in_lockouts").fetchone() == {"n": 0}


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOOKUPS_PER_HOUR", "7")
    monkeypatch.setenv("RATE_LIMIT_SAVES_PER_MINUTE", "0")
    monkeypatch.setenv("API_REQUEST_TIMEOUT_SECONDS", "2.5")
    settings = Settings.from_env()
    assert settings.rate_limits.lookups_per_hour == 7 and settings.request_timeout_seconds == 2.5
    assert settings.rate_limits.sessions_per_hour == RateLimitSettings.sessions_per_hour
    limits = Limits(settings.rate_limits)
    save = limits.save(ADDRESS, 1000, starts_session=True)
    assert save is not None and set(save.costs) == {Family.UPLOAD_BYTES, Family.SESSIONS}  # saves: off
    assert limits.lookup(None) is None  # no client address: not limited per address
    assert Limits(RateLimitSettings.off()).save(ADDRESS, 1000, starts_session=True) is None
    monkeypatch.setenv("RATE_LIMIT_SIGNINS_PER_HOUR", "many")
    with pytest.raises(ValueError, match="RATE_LIMIT_SIGNINS_PER_HOUR must be an integer"):
        Settings.from_env()


def test_an_ipv6_network_is_one_address(service: EnrollmentService, db: psycopg.Connection) -> None:
    """One subscriber's /64 holds 2**64 addresses: limits and sign-in locks count the network."""
    strict = limited(service, lookups_per_hour=2)
    same_network = [ClientInfo("UA", f"2001:db8:1:2::{n}") for n in ("a", "b", "c")]
    strict.check_username("six_one", same_network[0])
    strict.check_username("six_two", same_network[1])
    with pytest.raises(errors.RateLimited):
        strict.check_username("six_three", same_network[2])
    assert strict.check_username("six_three", ClientInfo("UA", "2001:db8:9:9::a")).ok
    seen = rate_limits.blocks_for_address(db, "2001:db8:1:2::ffff")
    assert seen is not None and seen.subject == "address 2001:db8:1:2::/64" and seen.blocked

    locking = EnrollmentService(service.pool, replace(service.settings, login_max_failures=1))
    register_user(service, "vera")
    locking.login("vera", draw_signin(locking, "vera", person="eve"), client=same_network[0])
    assert locking.check_user_exists("vera", same_network[1]).code == "account_locked"
    assert locking.check_user_exists("vera", ClientInfo("UA", "2001:db8:9:9::a")).locked_until is None
    assert rate_limits.address_subject("::ffff:198.51.100.7") == "198.51.100.7"


def test_each_limit_is_matched_by_its_name_and_an_unknown_name_is_an_error(db: psycopg.Connection) -> None:
    """charge_rate_limits finds a limit's column by the name sent beside its cost, in any order."""
    charge = "SELECT * FROM charge_rate_limits('address 198.51.100.7', %s, %s, %s, %s)"
    limits = (["upload_bytes", "saves"], [100.0, 1.0], [1000.0, 60.0], [3600.0, 60.0])
    row = db.execute(charge, limits).fetchone()
    assert row is not None and row["allowed"] is True
    state = db.execute("SELECT * FROM rate_limits WHERE subject = 'address 198.51.100.7'").fetchone()
    assert state is not None
    charged = {column for column, value in state.items() if column.endswith("_full_at") and value is not None}
    assert charged == {"upload_bytes_full_at", "saves_full_at"}
    with pytest.raises(psycopg.errors.RaiseException, match="no rate limit named uploads"):
        db.execute(charge, (["uploads"], [1.0], [10.0], [60.0]))
