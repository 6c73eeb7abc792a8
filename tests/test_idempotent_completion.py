"""/register and /login are idempotent: the same request sent again after it succeeded (its answer lost
on the way) gets the same answer and writes nothing; sent twice at once, one does the work and the other
waits on the session's lock and then answers the same. Another username or session is still refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest

from api.main import create_app
from bench.api_server import serve
from enrollment_core import errors
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.service import ClientInfo, EnrollmentService, Registration

from .flows import draw_signin, draw_signup, register_user, service_on

EVE = ClientInfo("UA", "203.0.113.66")


def assert_written(db: psycopg.Connection, **expected: int) -> None:
    """What register and login write, as expected: users, drawings (enrolled), attempts (sign-in
    verdicts), failed_logins (the account's rejections), address_failures (those of its addresses)."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM users) AS users,"
        " (SELECT count(*) FROM user_enrolled_drawings) AS drawings,"
        " (SELECT count(*) FROM login_attempts) AS attempts,"
        " (SELECT COALESCE(sum(failed_logins), 0) FROM users) AS failed_logins,"
        " (SELECT COALESCE(sum(failures), 0) FROM sign_in_lockouts) AS address_failures"
    ).fetchone()
    assert row is not None
    assert {name: row[name] for name in expected} == expected


def while_session_locked(db_url: str, session_id: str, calls: int, action: Callable[[int], Any]) -> list[Any]:
    """Run action(i) in `calls` threads while another transaction holds the session's row lock; once all
    of them wait on that lock, release it. Returns their results (or exceptions), in order."""
    results: list[Any] = [None] * calls

    def run(i: int) -> None:
        try:
            results[i] = action(i)
        except Exception as exc:  # asserted by the caller
            results[i] = exc

    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM temp_enrollments WHERE session_id = %s FOR UPDATE", (session_id,))
        threads = [threading.Thread(target=run, args=(i,)) for i in range(calls)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        with psycopg.connect(db_url, autocommit=True) as watcher:
            while True:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting is not None and waiting[0] == calls:
                    break
                assert time.monotonic() < deadline, "the requests never waited on the session's lock"
                time.sleep(0.02)
        holder.commit()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a request did not finish within 60 s"
    return results


# ---------------------------------------------------------------- register


def test_register_retried_after_success_returns_the_same_registration_and_writes_nothing(service, db):
    session_id = draw_signup(service, "alice")
    first = service.register("alice", session_id)
    assert first == Registration(first.user_id, "alice", session_id, 11)
    completed_at = service.get_session(session_id).completed_at
    assert service.register("alice", session_id) == first
    assert service.register("ALICE", session_id) == first  # the name as stored, as the first answer
    assert_written(db, users=1, drawings=11)
    assert service.get_session(session_id).completed_at == completed_at


def test_a_retry_that_is_not_the_same_request_is_still_refused(service, db):
    mine, spare = draw_signup(service, "alice"), draw_signup(service, "alice", sample=1)
    service.register("alice", mine)
    with pytest.raises(errors.SessionNotFound):  # another username reveals nothing, as before
        service.register("bob", mine)
    with pytest.raises(errors.UsernameUnavailable):  # another session for the registered name
        service.register("alice", spare)
    with pytest.raises(errors.WrongFlow):
        service.register("alice", draw_signin(service, "alice"))
    db.execute("DELETE FROM users")  # a completed session that no longer has its account
    with pytest.raises(errors.SessionClosed):
        service.register("alice", mine)
    assert_written(db, users=0)


def test_two_identical_registrations_at_once_create_one_account(service, db, db_url):
    session_id = draw_signup(service, "alice")
    results = while_session_locked(db_url, session_id, 2, lambda _: service.register("alice", session_id))
    assert all(isinstance(r, Registration) for r in results), results
    assert results[0] == results[1] and results[0].drawings_copied == 11
    assert_written(db, users=1, drawings=11)


# ---------------------------------------------------------------- login


def test_login_retried_after_acceptance_gives_the_same_verdict_and_records_nothing(service, db):
    register_user(service, "alice")
    session_id = draw_signin(service, "alice")
    first = service.login("alice", session_id, client=EVE)
    assert first.accepted
    assert service.login("Alice", session_id, client=EVE) == first
    assert service.login("alice", session_id) == first  # from anywhere: the verdict is the session's
    assert_written(db, attempts=1, failed_logins=0)


def test_a_rejection_retried_counts_once_and_spends_no_limit(strict_service, db):
    """With two rejections locking the address and one sign-in an hour, three retries of a rejection
    answer the same and lock nothing; the next new sign-in from that address is the one refused."""
    limits = RateLimitSettings(signins_per_hour=1)  # and the account's allowance of rejections (10)
    service = EnrollmentService(strict_service.pool, replace(strict_service.settings, rate_limits=limits))
    register_user(service, "alice")
    forged = draw_signin(service, "alice", person="eve")
    first = service.login("alice", forged, client=EVE)
    assert (first.accepted, first.failures_left, first.locked_until) == (False, 1, None)
    limits_after_first = db.execute("SELECT * FROM rate_limits ORDER BY subject").fetchall()
    assert [row["subject"] for row in limits_after_first] == ["account alice", f"address {EVE.ip}"]
    # The per-address sign-in is spent, yet a retry is answered: it is checked before that limit.
    assert [service.login("alice", forged, client=EVE) for _ in range(3)] == [first] * 3
    assert_written(db, attempts=1, failed_logins=1, address_failures=1)
    assert db.execute("SELECT * FROM rate_limits ORDER BY subject").fetchall() == limits_after_first
    with pytest.raises(errors.RateLimited):  # a new sign-in is not a retry
        service.login("alice", draw_signin(service, "alice", person="eve", sample=2), client=EVE)


def test_a_rejection_that_locked_the_address_is_repeated_not_refused_as_locked(db_url, db):
    settings = Settings(database_url=db_url, login_max_failures=1, rate_limits=RateLimitSettings.off())
    with service_on(db_url, settings) as service:
        register_user(service, "alice")
        forged = draw_signin(service, "alice", person="eve")
        first = service.login("alice", forged, client=EVE)
        assert first.locked_until is not None and "locked until" in first.reason
        assert service.login("alice", forged, client=EVE) == first
        assert service.get_login_result(forged) == first
        with pytest.raises(errors.AccountLocked):  # a new attempt from there is locked out
            service.login("alice", draw_signin(service, "alice"), client=EVE)
        assert_written(db, attempts=1)


def test_a_login_retry_with_another_username_or_session_is_refused_as_before(service, db):
    register_user(service, "alice")
    bob_signup = register_user(service, "bob")
    session_id = draw_signin(service, "alice")
    service.login("alice", session_id)
    with pytest.raises(errors.SessionNotFound):
        service.login("bob", session_id)
    bobs = draw_signin(service, "bob")
    service.login("bob", bobs)
    with pytest.raises(errors.SessionNotFound):  # another user's verdict is not given
        service.login("alice", bobs)
    with pytest.raises(errors.WrongFlow):
        service.login("bob", bob_signup)
    assert_written(db, attempts=2)


def test_two_identical_logins_at_once_give_one_verdict(db_url, db):
    settings = Settings(database_url=db_url, login_max_failures=3, rate_limits=RateLimitSettings.off())
    with service_on(db_url, settings) as service:
        register_user(service, "alice")
        forged = draw_signin(service, "alice", person="eve")
        results = while_session_locked(
            db_url, forged, 2, lambda _: service.login("alice", forged, client=EVE)
        )
        assert not isinstance(results[0], Exception) and results[0] == results[1], results
        assert (results[0].accepted, results[0].failures_left) == (False, 2)
        assert_written(db, attempts=1, failed_logins=1, address_failures=1)


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def http(strict_service: EnrollmentService) -> Iterator[httpx.Client]:
    with serve(create_app(strict_service)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def completion(username: str, session_id: str) -> dict[str, Any]:
    return {"username": username, "sessionId": session_id, "useTemporaryData": True}


def test_register_retried_over_http_gets_the_identical_201(http, strict_service, db):
    session_id = draw_signup(strict_service, "mary_jane")
    first = http.post("/register", json=completion("mary_jane", session_id))
    assert first.status_code == 201, first.text
    again = http.post("/register", json=completion("mary_jane", session_id))
    assert (again.status_code, again.content) == (201, first.content)
    assert first.json()["drawingsCopied"] == 11
    assert_written(db, users=1, drawings=11)
    other = http.post("/register", json=completion("someone", session_id))
    assert (other.status_code, other.json()["error"]["code"]) == (404, "session_not_found")


def test_login_retried_over_http_gets_the_identical_verdict(http, strict_service, db):
    register_user(strict_service, "mary_jane")
    register_user(strict_service, "peter")
    genuine = draw_signin(strict_service, "mary_jane")
    accepted = http.post("/login", json=completion("mary_jane", genuine))
    assert accepted.status_code == 200 and accepted.json()["accepted"] is True, accepted.text
    for _ in range(2):
        again = http.post("/login", json=completion("mary_jane", genuine))
        assert (again.status_code, again.content) == (200, accepted.content)
    assert_written(db, attempts=1, failed_logins=0)
    other = http.post("/login", json=completion("peter", genuine))  # a registered name, not the session's
    assert (other.status_code, other.json()["error"]["code"]) == (404, "session_not_found")
    peters = draw_signin(strict_service, "peter")
    assert http.post("/login", json=completion("peter", peters)).status_code == 200
    mine = http.post("/login", json=completion("mary_jane", peters))  # another user's session and verdict
    assert (mine.status_code, mine.json()["error"]["code"]) == (404, "session_not_found")


def test_a_rejected_login_retried_over_http_gets_the_identical_401(http, strict_service, db):
    register_user(strict_service, "mary_jane")
    forged = draw_signin(strict_service, "mary_jane", person="eve")
    rejected = http.post("/login", json=completion("mary_jane", forged))
    assert rejected.status_code == 401, rejected.text
    assert rejected.json()["login"]["failuresLeft"] == 1
    for _ in range(3):  # two rejections lock the address: retries are not rejections
        again = http.post("/login", json=completion("mary_jane", forged))
        assert (again.status_code, again.content) == (401, rejected.content)
    assert_written(db, attempts=1, failed_logins=1, address_failures=1)
    other = http.post("/login", json=completion("someone", forged))
    assert (other.status_code, other.json()["error"]["code"]) == (404, "session_not_found")

    # The second rejection, not a retry, is the one that locks; its retry is that 401 again, not a 423.
    forged = draw_signin(strict_service, "mary_jane", person="eve", sample=2)
    locking = http.post("/login", json=completion("mary_jane", forged))
    assert locking.status_code == 401 and locking.json()["login"]["lockedUntil"] is not None, locking.text
    again = http.post("/login", json=completion("mary_jane", forged))
    assert (again.status_code, again.content) == (401, locking.content)
    assert_written(db, attempts=2, failed_logins=2, address_failures=2)
