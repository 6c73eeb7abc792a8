"""Sign-in verdicts and lockout, cleanup (by call, by timer, from the CLI), archiving, demo data."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from enrollment_core import errors, maintenance
from enrollment_core.config import PROJECT_ROOT, Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import seed_demo_data
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService

from .flows import draw_signin, draw_signup, expire, register_user
from .test_schema import _concurrently

# ---------------------------------------------------------------- login


def test_full_signup_then_signin_accepts_the_person_and_rejects_another(service, db):
    register_user(service, "alice")
    genuine = service.login("alice", draw_signin(service, "alice"), client=ClientInfo("UA", "198.51.100.7"))
    assert genuine.accepted and genuine.reason_code == "match" and genuine.score <= genuine.threshold
    forged = service.login("alice", draw_signin(service, "alice", person="mallory"))
    assert not forged.accepted and forged.reason_code == "no_match" and forged.failures_left == 4
    again = service.get_login_result(forged.session_id)  # e.g. the link reopened after a reload
    assert (again.accepted, again.reason_code, again.reason, again.score) == (
        False, "no_match", forged.reason, forged.score
    )  # fmt: skip
    assert service.get_login_result(draw_signin(service, "alice", sample=7)) is None  # not checked yet
    attempts = db.execute("SELECT accepted, reason_code, ip FROM login_attempts ORDER BY id").fetchall()
    assert [(a["accepted"], a["reason_code"]) for a in attempts] == [(True, "match"), (False, "no_match")]
    assert attempts[0]["ip"] == "198.51.100.7"


def test_a_replayed_enrolled_signature_is_rejected(service, db):
    register_user(service, "alice")
    stored = db.execute("SELECT raw_data, signature_data FROM user_enrolled_drawings WHERE step_number = 1")
    enrolled = stored.fetchone()
    payload = replace(
        sample_drawing("alice", 1, flow_type="signin"),
        raw=enrolled["raw_data"],
        signature=enrolled["signature_data"],
    )
    session_id = service.save_drawing(payload).session_id
    verdict = service.login("alice", session_id)
    assert not verdict.accepted and verdict.reason_code == "replay"


def test_repeated_rejections_lock_that_address_out_and_the_lock_expires(db_url, db):
    settings = Settings(database_url=db_url, login_max_failures=2, login_lock_seconds=600)
    eve, owner = ClientInfo("UA", "203.0.113.66"), ClientInfo("UA", "198.51.100.7")
    with create_pool(db_url, settings) as pool:
        service = EnrollmentService(pool, settings)
        register_user(service, "alice")
        first = service.login("alice", draw_signin(service, "alice", person="eve"), client=eve)
        assert (first.accepted, first.failures_left, first.locked_until) == (False, 1, None)
        second = service.login("alice", draw_signin(service, "alice", person="eve", sample=2), client=eve)
        assert second.locked_until is not None and "locked until" in second.reason
        # Locked for that address: its next sign-in is refused before any verification...
        with pytest.raises(errors.AccountLocked) as info:
            service.login("alice", draw_signin(service, "alice"), client=eve)
        assert info.value.locked_until == second.locked_until
        check = service.check_user_exists("alice", eve)  # ...and its start screen can say so first
        assert (check.ok, check.code, check.locked_until) == (True, "account_locked", second.locked_until)
        # Not for the owner elsewhere.
        assert service.check_user_exists("alice", owner).locked_until is None

        db.execute("UPDATE sign_in_lockouts SET locked_until = NOW() - interval '1 second'")
        after_lock = service.login("alice", draw_signin(service, "alice"), client=eve)
        assert after_lock.accepted and after_lock.failures_left == 2
        assert db.execute("SELECT failed_logins FROM users").fetchone() == {"failed_logins": 0}
        assert db.execute("SELECT count(*) AS n FROM sign_in_lockouts").fetchone() == {"n": 0}


def test_a_signin_session_gives_one_verdict_and_needs_its_own_flow(service, db):
    signup = register_user(service, "alice")
    session_id = draw_signin(service, "alice")
    verdict = service.login("alice", session_id)
    assert service.login("alice", session_id) == verdict  # a retry: the same verdict, not a second one
    assert db.execute("SELECT count(*) AS n FROM login_attempts").fetchone()["n"] == 1
    with pytest.raises(errors.WrongFlow):
        service.login("alice", signup)


def test_login_on_an_expired_or_foreign_signin_session(service, db):
    register_user(service, "alice")
    register_user(service, "bob")
    session_id = draw_signin(service, "alice")
    with pytest.raises(errors.SessionNotFound):
        service.login("bob", session_id)
    expire(db, session_id)
    with pytest.raises(errors.SessionExpired):
        service.login("alice", session_id)
    assert db.execute("SELECT count(*) AS n FROM login_attempts").fetchone()["n"] == 0


def test_concurrent_rejections_are_counted_exactly(db_url):
    settings = Settings(database_url=db_url, login_max_failures=10)
    with create_pool(db_url, settings) as pool:
        service = EnrollmentService(pool, settings)
        register_user(service, "alice")
        sessions = [draw_signin(service, "alice", person="eve", sample=i) for i in range(4)]
        results = _concurrently(4, lambda i: service.login("alice", sessions[i]))
        assert sorted(r.failures_left for r in results) == [6, 7, 8, 9]


# ---------------------------------------------------------------- cleanup and archive


def test_service_cleanup_removes_a_backlog_in_batches(db_url, db):
    settings = Settings(database_url=db_url, cleanup_batch_size=3)
    with create_pool(db_url, settings) as pool:
        service = EnrollmentService(pool, settings)
        sessions = [draw_signup(service, f"user{i}", steps=1) for i in range(8)]
        keep = draw_signup(service, "keeper", steps=1)
        for session_id in sessions:
            expire(db, session_id)
        assert service.cleanup_expired() == 8
        assert service.cleanup_expired() == 0
        assert service.get_session(keep).status == "in_progress"


def test_cleanup_rests_after_each_batch_in_proportion_to_its_time(db_url, db, monkeypatch):
    """pause_ratio 1.5: after every full batch the loop sleeps 1.5 x that batch's duration (a fake
    clock: each batch 'takes' 0.1 s), and not after the last, partial one."""
    settings = Settings(database_url=db_url, cleanup_batch_size=3, cleanup_pause_ratio=1.5)

    class FakeTime:
        def __init__(self) -> None:
            self.now, self.sleeps = 0.0, []

        def monotonic(self) -> float:
            self.now += 0.1  # called at a batch's start and when it ends
            return self.now

        def sleep(self, seconds: float) -> None:
            self.sleeps.append(round(seconds, 6))

    with create_pool(db_url, settings) as pool:
        service = EnrollmentService(pool, settings)
        for session_id in [draw_signup(service, f"user{i}", steps=1) for i in range(8)]:
            expire(db, session_id)
        clock = FakeTime()
        monkeypatch.setattr(maintenance, "time", clock)
        assert service.cleanup_expired() == 8  # batches of 3, 3, 2
    assert clock.sleeps == [0.15, 0.15]  # (0.1 s measured between the two clock reads) x 1.5


def test_cleanup_racing_a_save_never_half_deletes(service, db):
    """A save into a session that cleanup is removing either completes before it or finds it gone."""
    sessions = [draw_signup(service, f"user{i}", steps=1) for i in range(12)]
    for session_id in sessions:
        expire(db, session_id)

    def act(i: int):
        if i == 0:
            return service.cleanup_expired()
        return service.save_drawing(sample_drawing(f"user{i}", 2, session_id=sessions[i]))

    results = _concurrently(len(sessions), act)
    assert all(isinstance(r, errors.SessionExpired | errors.SessionNotFound | int) for r in results), results
    orphans = db.execute(
        "SELECT count(*) AS n FROM temp_enrollment_steps s"
        " LEFT JOIN temp_enrollments e ON e.id = s.enrollment_id WHERE e.id IS NULL"
    ).fetchone()["n"]
    assert orphans == 0
    service.cleanup_expired()
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0


def test_periodic_cleanup_runs_once_per_interval_across_instances(db_url, db, service):
    for i in range(3):
        expire(db, draw_signup(service, f"user{i}", steps=1))
    settings = Settings(database_url=db_url)
    with create_pool(db_url, settings) as other_instance:
        assert maintenance.run_cleanup_if_due(service.pool, interval_seconds=3600) == 3
        assert maintenance.run_cleanup_if_due(other_instance, interval_seconds=3600) is None
        db.execute("UPDATE maintenance_runs SET last_run_at = NOW() - interval '2 hours'")
        assert maintenance.run_cleanup_if_due(other_instance, interval_seconds=3600) == 0
    result = db.execute("SELECT last_result FROM maintenance_runs").fetchone()["last_result"]
    assert result == {"removed": 0, "archived": 0}


def test_periodic_cleanup_skips_while_another_instance_holds_the_lock(db_url, service):
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (maintenance.CLEANUP_LOCK_KEY,))
        assert maintenance.run_cleanup_if_due(service.pool, interval_seconds=1) is None


def test_the_background_thread_cleans_up_by_itself(db, service):
    expire(db, draw_signup(service, "stale", steps=1))
    runner = maintenance.PeriodicCleanup(service.pool, interval_seconds=1).start()
    try:
        for _ in range(100):  # bounded wait on the database state, not on a clock
            if db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0:
                break
            runner._stop.wait(0.1)
        assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0
    finally:
        runner.stop()


def test_periodic_run_also_archives_old_completed_sessions(db, service):
    old = register_user(service, "alice")
    db.execute(
        "UPDATE temp_enrollments SET completed_at = NOW() - interval '8 days' WHERE session_id = %s", (old,)
    )
    assert maintenance.run_cleanup_if_due(service.pool, 3600, archive_after_seconds=7 * 24 * 3600) == 0
    assert db.execute("SELECT session_id FROM enrollment_archive").fetchone()["session_id"] == old
    assert db.execute("SELECT last_result FROM maintenance_runs").fetchone()["last_result"]["archived"] == 1


def test_service_close_stops_background_maintenance(db_url):
    settings = Settings(database_url=db_url, cleanup_interval_seconds=1)
    service = EnrollmentService(create_pool(db_url, settings), settings)
    runner = service.start_background_maintenance()
    assert service.start_background_maintenance() is runner
    service.close()
    assert not runner._thread.is_alive() and service.pool.closed


def test_archive_moves_old_completed_sessions_and_keeps_the_user(service, db):
    session_id = register_user(service, "alice")
    fresh = register_user(service, "bob")
    db.execute(
        "UPDATE temp_enrollments SET completed_at = NOW() - interval '2 days' WHERE session_id = %s",
        (session_id,),
    )
    assert maintenance.archive_completed(service.pool, older_than_seconds=24 * 3600) == 1
    archived = db.execute("SELECT * FROM enrollment_archive").fetchone()
    assert (archived["session_id"], archived["step_count"], archived["flow_type"]) == (
        session_id,
        11,
        "signup",
    )
    assert db.execute("SELECT count(*) AS n FROM user_enrolled_drawings").fetchone()["n"] == 22
    remaining = db.execute("SELECT session_id FROM temp_enrollments").fetchall()
    assert [r["session_id"] for r in remaining] == [fresh]


def _cli(db_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "enrollment_core", *args],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_cleanup_archive_and_migrate(db_url, db, service):
    for i in range(2):
        expire(db, draw_signup(service, f"user{i}", steps=1))
    assert "removed 2 expired" in _cli(db_url, "cleanup")
    assert "archived 0 completed" in _cli(db_url, "archive", "--older-than-hours", "1")
    assert "up to date" in _cli(db_url, "migrate")


def test_demo_data_covers_every_state_and_both_flows(db_url, db, service):
    seeded = _cli(db_url, "seed-demo", "--sessions", "60")
    assert "added 60 demo sessions" in seeded
    assert "demo sign-ins: 2 accepted, 6 not matching, 1 replay; " in seeded
    assert seeded.rstrip().endswith("locked out from 198.51.100.23")
    states = db.execute(
        "SELECT DISTINCT flow_type, CASE WHEN status = 'in_progress' AND expires_at < NOW()"
        " THEN 'backlog' ELSE status END AS state FROM temp_enrollments"
    ).fetchall()
    seen = {(s["flow_type"], s["state"]) for s in states}
    assert {("signup", "in_progress"), ("signup", "completed"), ("signup", "backlog")} <= seen
    assert {("signin", "in_progress"), ("signin", "completed")} <= seen
    assert any(s["state"] == "expired" for s in states)
    partial = db.execute(
        "SELECT count(*) AS n FROM temp_enrollments e WHERE status = 'in_progress' AND flow_type = 'signup'"
        " AND (SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = e.id) BETWEEN 1 AND 10"
    ).fetchone()["n"]
    assert partial > 0
    assert "not added" in _cli(db_url, "seed-demo", "--if-empty")
    # Apps starting right after seeding leave the demo's backlog for the next hourly run.
    assert maintenance.run_cleanup_if_due(service.pool, interval_seconds=3600) is None
    waiting = db.execute(
        "SELECT count(*) AS n FROM temp_enrollment_steps s JOIN temp_enrollments e ON e.id = s.enrollment_id"
        " WHERE e.flow_type = 'signin' AND e.status = 'in_progress'"
    ).fetchone()["n"]
    assert waiting > 0  # live signin sessions hold their drawing
    # Registered demo users can sign in with their (synthetic) signature.
    user = db.execute("SELECT username FROM users ORDER BY id LIMIT 1").fetchone()["username"]
    assert service.check_user_exists(user).ok


def test_seed_demo_is_deterministic_in_shape(db_url, service):
    summary = seed_demo_data(service.pool, sessions=10, seed=1)
    assert summary.sessions == 10 and summary.steps > 0


def test_synthetic_signatures_behave_like_a_hand_for_demos_and_tests():
    """Demo users sign in with sample_drawings: a new sample of their own signature must match (and
    never look like a replay), another person's must not."""
    from enrollment_core import sample_drawings, strokes, verification
    from enrollment_core.step_plan import steps_of

    def drawn(person: str, flow: str, step: int, sample: int):
        return strokes.parse_strokes(
            sample_drawings.canvas_json(sample_drawings.strokes_for_step(flow, step, person, sample))
        )

    people = [f"person{i}" for i in range(8)]
    verdicts = []
    for i, person in enumerate(people):
        signatures = [s.number for s in steps_of("signup") if s.type == "signature"]
        profile = verification.build_profile([drawn(person, "signup", n, 0) for n in signatures])
        verdicts += [
            ("genuine", verification.verify(profile, drawn(person, "signin", 1, k))) for k in range(1, 6)
        ]
        verdicts.append(("other", verification.verify(profile, drawn(people[i - 1], "signin", 1, 1))))
    assert all(v.reason_code == "match" for kind, v in verdicts if kind == "genuine")
    assert all(v.reason_code == "no_match" for kind, v in verdicts if kind == "other")
