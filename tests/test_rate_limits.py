"""Rate limits in PostgreSQL (enrollment_core.rate_limits) and the sign-in lockout's staff side
(enrollment_core.sign_in_lockout), on a real database: exact under concurrency, one round trip,
refilled with time, readable and clearable by staff, forgotten when idle."""

from __future__ import annotations

import threading
from dataclasses import replace

import psycopg
import pytest

from enrollment_core import errors, maintenance, rate_limits, sign_in_lockout
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.rate_limits import Charge, Family
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService
from enrollment_core.staff import StaffActions
from tests.flows import draw_signin, register_user

ADDRESS = "192.0.2.10"


def lookup(capacity: float, subject: str = ADDRESS) -> list[Charge]:
    return [Charge(Family.LOOKUP, subject, 1.0, capacity, 3600.0)]


def test_concurrent_requests_are_counted_exactly(service: EnrollmentService) -> None:
    """16 clients at once, 8 requests each, against a bucket of 50: exactly 50 get through."""
    allowed, refused = [], []
    start = threading.Barrier(16)

    def client() -> None:
        start.wait()
        for _ in range(8):
            with service.pool.connection() as conn:
                try:
                    rate_limits.take(conn, lookup(50))
                    allowed.append(1)
                except errors.RateLimited:
                    refused.append(1)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(allowed), len(refused)) == (50, 78)


def test_a_bucket_refills_with_time_and_says_how_long_to_wait(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    with service.pool.connection() as conn:
        for _ in range(3):
            rate_limits.take(conn, lookup(3))
        with pytest.raises(errors.RateLimited) as refused:
            rate_limits.take(conn, lookup(3))
    assert 1195 <= refused.value.retry_after_seconds <= 1200  # one token in 3600 / 3 s
    assert refused.value.limit == "lookup" and "about 20 minutes" in refused.value.message
    db.execute("UPDATE rate_limit_buckets SET refilled_at = refilled_at - interval '41 minutes'")
    with service.pool.connection() as conn:
        rate_limits.take(conn, lookup(3))
        rate_limits.take(conn, lookup(3))  # two tokens refilled in 41 minutes
        with pytest.raises(errors.RateLimited):
            rate_limits.take(conn, lookup(3))


def test_a_request_larger_than_what_is_left_waits_for_its_size(service: EnrollmentService) -> None:
    bytes_charge = [Charge(Family.BYTES, ADDRESS, 600.0, 1000.0, 3600.0)]
    with service.pool.connection() as conn:
        rate_limits.take(conn, bytes_charge)
        with pytest.raises(errors.RateLimited) as refused:
            rate_limits.take(conn, bytes_charge)  # 400 left, 600 asked: 200 more to refill
    assert refused.value.retry_after_seconds == 720


def test_the_limit_costs_at_most_one_round_trip_per_request(
    service: EnrollmentService, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each limited call sends at most one statement more with the limits on than with them off: a
    name check and a first step one, a later step none (the save statement takes the charges)."""
    statements: list[str] = []
    original = psycopg.Connection.execute

    def counting(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(str(query)[:40])
        return original(self, query, params, **kwargs)

    limited = EnrollmentService(service.pool, replace(service.settings, rate_limits=RateLimitSettings()))
    register_user(service, "counted")
    client = ClientInfo("UA", ADDRESS)
    first = service.save_drawing(sample_drawing("round_trip", 1)).session_id
    limited_first = limited.save_drawing(sample_drawing("round_trip_2", 1)).session_id
    calls = {
        "check_username": lambda svc, _: svc.check_username("someone", client),
        "save step 1": lambda svc, n: svc.save_drawing(sample_drawing(f"new_{n}", 1), client),
        "save step 2": lambda svc, s: svc.save_drawing(sample_drawing(s[0], 2, session_id=s[1]), client),
    }
    monkeypatch.setattr(psycopg.Connection, "execute", counting)
    for name, call in calls.items():
        counts = []
        for svc, arg in ((service, "round_trip"), (limited, "round_trip_2")):
            statements.clear()
            session = first if svc is service else limited_first
            call(svc, (arg, session) if name == "save step 2" else arg)
            counts.append(len(statements))
        extra = 0 if name == "save step 2" else 1  # the common save takes its charges in its own statement
        assert counts[0] >= 1 and counts[1] == counts[0] + extra, (name, counts, statements)


def test_staff_see_blocks_and_clear_them(service: EnrollmentService, db: psycopg.Connection) -> None:
    limited = EnrollmentService(
        service.pool, replace(service.settings, rate_limits=RateLimitSettings(lookups_per_hour=2))
    )
    client = ClientInfo("UA", ADDRESS)
    limited.check_username("first_name", client)
    assert [b.blocked for b in rate_limits.blocks_for_address(db, ADDRESS)] == [False]
    limited.check_username("second_name", client)
    with pytest.raises(errors.RateLimited):
        limited.check_username("third_name", client)
    (bucket,) = rate_limits.blocks_for_address(db, ADDRESS)
    assert (bucket.family, bucket.subject, bucket.capacity, bucket.refused) == (Family.LOOKUP, ADDRESS, 2, 1)
    assert bucket.blocked and 1700 < bucket.blocked_for_seconds <= 1800 and bucket.last_refused_at
    assert [b.subject for b in rate_limits.recent_blocks(db)] == [ADDRESS]
    assert rate_limits.blocks_for_address(db, "192.0.2.99") == []

    assert StaffActions(limited).clear_rate_limit(Family.LOOKUP, ADDRESS) is True
    assert rate_limits.blocks_for_address(db, ADDRESS) == []
    assert limited.check_username("third_name", client).ok
    assert rate_limits.clear_address(db, ADDRESS) == 1


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
    assert [a.address for a in state.locked_addresses] == ["203.0.113.5"] and state.slowed_for_seconds == 0
    assert sign_in_lockout.state_for_user(db, "nobody") is None

    assert StaffActions(strict).unlock_sign_in("dora", "203.0.113.5") == 1
    assert sign_in_lockout.state_for_user(db, "dora").locked_addresses == []  # type: ignore[union-attr]
    accepted = strict.login("dora", draw_signin(strict, "dora"), client=forger)
    assert accepted.accepted and accepted.failures_left == 2
    assert sign_in_lockout.unlock(db, "dora") == 1  # every address: the other one's count


def test_idle_counters_are_forgotten_by_the_hourly_maintenance(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    with service.pool.connection() as conn:
        rate_limits.take(conn, lookup(5, "192.0.2.1") + lookup(5, "192.0.2.2"))
    register_user(service, "erin")
    service.login("erin", draw_signin(service, "erin", person="eve"), client=ClientInfo("UA", ADDRESS))
    db.execute(
        "UPDATE rate_limit_buckets SET refilled_at = NOW() - interval '2 hours' WHERE subject = '192.0.2.1'"
    )
    db.execute("UPDATE sign_in_lockouts SET last_failed_at = NOW() - interval '1 hour'")
    assert maintenance.forget_idle_abuse_counters(service.pool, login_lock_seconds=900) == 2
    assert [r["subject"] for r in db.execute("SELECT subject FROM rate_limit_buckets")] == ["192.0.2.2"]
    assert db.execute("SELECT count(*) AS n FROM sign_in_lockouts").fetchone() == {"n": 0}


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOOKUPS_PER_HOUR", "7")
    monkeypatch.setenv("RATE_LIMIT_SAVES_PER_MINUTE", "0")
    monkeypatch.setenv("API_REQUEST_TIMEOUT_SECONDS", "2.5")
    settings = Settings.from_env()
    assert settings.rate_limits.lookups_per_hour == 7 and settings.request_timeout_seconds == 2.5
    assert settings.rate_limits.sessions_per_hour == RateLimitSettings.sessions_per_hour
    limits = rate_limits.Limits(settings.rate_limits)
    assert [c.family for c in limits.save(ADDRESS, 1000, starts_session=True)] == [
        Family.BYTES,
        Family.SESSION,
    ]
    assert limits.lookup(None) == []  # no client address: not limited per address
    monkeypatch.setenv("RATE_LIMIT_SIGNINS_PER_HOUR", "many")
    with pytest.raises(ValueError, match="RATE_LIMIT_SIGNINS_PER_HOUR must be an integer"):
        Settings.from_env()


def test_an_ipv6_network_is_one_address(service: EnrollmentService, db: psycopg.Connection) -> None:
    """One subscriber's /64 holds 2**64 addresses: limits and sign-in locks count the network."""
    settings = replace(
        service.settings, rate_limits=RateLimitSettings(lookups_per_hour=2), login_max_failures=1
    )
    limited = EnrollmentService(service.pool, settings)
    same_network = [ClientInfo("UA", f"2001:db8:1:2::{n}") for n in ("a", "b", "c")]
    limited.check_username("six_one", same_network[0])
    limited.check_username("six_two", same_network[1])
    with pytest.raises(errors.RateLimited):
        limited.check_username("six_three", same_network[2])
    assert limited.check_username("six_three", ClientInfo("UA", "2001:db8:9:9::a")).ok
    assert [b.subject for b in rate_limits.blocks_for_address(db, "2001:db8:1:2::/64")] == [
        "2001:db8:1:2::/64"
    ]

    assert rate_limits.clear_address(db, "2001:db8:1:2::/64") == 1
    strict = EnrollmentService(service.pool, replace(settings, rate_limits=RateLimitSettings()))
    register_user(service, "vera")
    strict.login("vera", draw_signin(strict, "vera", person="eve"), client=same_network[0])
    assert strict.check_user_exists("vera", same_network[1]).code == "account_locked"
    assert strict.check_user_exists("vera", ClientInfo("UA", "2001:db8:9:9::a")).locked_until is None
    assert rate_limits.address_subject("::ffff:198.51.100.7") == "198.51.100.7"
