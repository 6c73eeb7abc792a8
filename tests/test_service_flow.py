"""The rules of the enrollment flow, through the core service on a real PostgreSQL."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import pytest

from enrollment_core import errors, validation
from enrollment_core.config import Settings
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService

from .flows import draw_signin, draw_signup, expire, register_user
from .test_schema import _concurrently

# ---------------------------------------------------------------- usernames


def test_check_username_accepts_a_valid_free_name(service):
    check = service.check_username("  john_doe ")
    assert (check.ok, check.username, check.reason) == (True, "john_doe", None)


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("", "is required"),
        (None, "is required"),
        ("ab", "at least 3"),
        ("a" * 33, "at most 32"),
        ("john doe", "may contain only"),
        ("_john", "must start with a letter or digit"),
        ("Admin", "is reserved"),
        (42, "is required"),
    ],
)
def test_check_username_says_why_a_name_is_invalid(service, username, reason):
    check = service.check_username(username)
    assert not check.ok and check.code == "validation_error" and reason in check.reason


def test_check_username_echoes_unencodable_input_safely(service):
    check = service.check_username("a\ud800bc")
    assert not check.ok and check.username == "a?bc"


def test_check_username_is_case_insensitive_against_registered_users(service):
    register_user(service, "John_Doe")
    check = service.check_username("JOHN_DOE")
    assert (check.ok, check.code) == (False, "username_taken")
    assert "already taken" in check.reason


def test_check_user_exists(service):
    register_user(service, "John_Doe")
    found = service.check_user_exists("john_doe")
    assert (found.ok, found.username) == (True, "John_Doe")
    missing = service.check_user_exists("nobody")
    assert (missing.ok, missing.code) == (False, "user_not_found")


# ---------------------------------------------------------------- sessions


def test_first_save_creates_an_unguessable_session_bound_to_the_username(service, db):
    result = service.save_drawing(sample_drawing("alice", 1), ClientInfo("Mobile Safari", "203.0.113.9"))
    assert result.created and not result.duplicate
    assert re.fullmatch(r"sess_[A-Za-z0-9_-]{32}", result.session_id)  # 24 random bytes = 192 bits
    assert (result.progress.completed_steps, result.progress.next_step) == (1, 2)
    row = db.execute("SELECT * FROM temp_enrollments WHERE session_id = %s", (result.session_id,)).fetchone()
    assert (row["username"], row["flow_type"], row["status"]) == ("alice", "signup", "in_progress")
    assert row["device_info"] == "Mobile Safari" and row["metadata"]["ip"] == "203.0.113.9"
    lifetime = row["expires_at"] - row["created_at"]
    assert lifetime.total_seconds() == pytest.approx(2 * 3600, abs=5)

    with pytest.raises(errors.SessionNotFound):
        service.save_drawing(sample_drawing("mallory", 2, session_id=result.session_id))


def test_session_ids_do_not_repeat(service):
    ids = {service.save_drawing(sample_drawing(f"user{i}", 1)).session_id for i in range(20)}
    assert len(ids) == 20


def test_expiry_is_configurable(db_url, db):
    from enrollment_core.database import create_pool

    settings = Settings(database_url=db_url, session_ttl_seconds=600)
    with create_pool(db_url, settings) as pool:
        session_id = EnrollmentService(pool, settings).save_drawing(sample_drawing("alice", 1)).session_id
    row = db.execute(
        "SELECT expires_at - created_at AS ttl FROM temp_enrollments WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row["ttl"].total_seconds() == pytest.approx(600, abs=5)


def test_steps_continue_in_order_and_progress_comes_from_the_database(service):
    session_id = draw_signup(service, "alice", steps=5)
    progress = service.get_progress(session_id)
    assert (progress.completed_steps, progress.remaining_steps, progress.last_step_type) == (
        5,
        6,
        "signature",
    )
    with pytest.raises(errors.StepConflict, match="next step of this session is 6"):
        service.save_drawing(sample_drawing("alice", 7, session_id=session_id))
    assert service.get_progress(session_id).completed_steps == 5


def test_every_save_answers_the_progress_the_database_function_gives(service):
    """save_enrollment_step computes the progress of a continued save itself (its fast path); it must
    be what get_enrollment_progress says, step by step, for both flows."""
    session_id = None
    for step in range(1, 12):
        result = service.save_drawing(sample_drawing("alice", step, session_id=session_id))
        session_id = result.session_id
        assert result.progress == service.get_progress(session_id), step
    assert result.progress.is_complete and result.progress.remaining_steps == 0
    service.register("alice", session_id)
    signin = service.save_drawing(sample_drawing("alice", 1, flow_type="signin"))
    assert signin.progress == service.get_progress(signin.session_id)


def test_a_step_count_behind_the_rows_is_put_right(service, db):
    """step_count guards the fast path; if it is ever behind the saved steps, a retry is still a
    duplicate (not an error), step_count is recounted, and the next step saves normally."""
    session_id = draw_signup(service, "alice", steps=3)
    db.execute("UPDATE temp_enrollments SET step_count = 1 WHERE session_id = %s", (session_id,))
    again = service.save_drawing(sample_drawing("alice", 2, session_id=session_id))
    assert again.duplicate and again.progress.completed_steps == 3
    count = "SELECT step_count FROM temp_enrollments WHERE session_id = %s"
    assert db.execute(count, (session_id,)).fetchone()["step_count"] == 3
    assert not service.save_drawing(sample_drawing("alice", 4, session_id=session_id)).duplicate
    assert db.execute(count, (session_id,)).fetchone()["step_count"] == 4
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 4


def test_a_step_hashed_by_an_older_recipe_is_still_a_retry(service, db):
    """Migration 0008 changed how the content hash is made: a step saved before an upgrade and re-sent
    after it has the same content but another hash, and is still a retry, not a conflict."""
    session_id = draw_signup(service, "alice", steps=3)
    db.execute("UPDATE temp_enrollment_steps SET content_hash = repeat('0', 64)")
    first = service.save_drawing(sample_drawing("alice", 1))  # step 1 again, without the session id
    assert first.duplicate and first.session_id == session_id
    again = service.save_drawing(sample_drawing("alice", 3, session_id=session_id))
    assert again.duplicate and again.progress.completed_steps == 3
    with pytest.raises(errors.StepConflict, match="different drawing"):  # other content: a conflict
        service.save_drawing(sample_drawing("alice", 3, session_id=session_id, sample=1))
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 3


def test_a_retried_step_is_not_duplicated(service, db):
    session_id = draw_signup(service, "alice", steps=3)
    again = service.save_drawing(sample_drawing("alice", 3, session_id=session_id))
    assert again.duplicate and again.progress.completed_steps == 3
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 3


def test_a_retried_first_step_returns_the_same_session(service, db):
    first = service.save_drawing(sample_drawing("alice", 1))
    retry = service.save_drawing(sample_drawing("alice", 1))
    assert (retry.session_id, retry.duplicate) == (first.session_id, True)
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 1
    # A different first drawing is a new attempt, so a new session.
    other = service.save_drawing(sample_drawing("alice", 1, sample=3))
    assert other.session_id != first.session_id


def test_a_saved_step_with_other_content_is_a_conflict(service):
    session_id = draw_signup(service, "alice", steps=2)
    with pytest.raises(errors.StepConflict, match="already saved with a different drawing"):
        service.save_drawing(sample_drawing("alice", 2, session_id=session_id, sample=9))


def test_two_concurrent_saves_of_the_same_step_store_one_row(service, db):
    session_id = draw_signup(service, "alice", steps=3)
    payload = sample_drawing("alice", 4, session_id=session_id)
    results = _concurrently(8, lambda _: service.save_drawing(payload))
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.duplicate for r in results) == [False] + [True] * 7
    n = db.execute("SELECT count(*) AS n FROM temp_enrollment_steps WHERE step_number = 4").fetchone()["n"]
    assert n == 1


def test_a_step_sent_to_an_expired_session_is_refused_and_the_session_marked(service, db):
    session_id = draw_signup(service, "alice", steps=2)
    expire(db, session_id)
    with pytest.raises(errors.SessionExpired, match="expired"):
        service.save_drawing(sample_drawing("alice", 3, session_id=session_id))
    assert service.get_session(session_id).status == "expired"
    status = db.execute("SELECT status FROM temp_enrollments WHERE session_id = %s", (session_id,)).fetchone()
    assert status["status"] == "expired"


def test_get_session_reports_expiry_before_anything_marks_it(service, db):
    session_id = draw_signup(service, "alice", steps=1)
    assert service.get_session(session_id).status == "in_progress"
    expire(db, session_id)
    assert service.get_session(session_id).status == "expired"


def test_unknown_and_malformed_session_ids(service):
    with pytest.raises(errors.SessionNotFound):
        service.get_progress("sess_" + "x" * 32)
    with pytest.raises(errors.ValidationError, match="session id") as info:
        service.get_progress("sess_123; DROP TABLE users")
    assert info.value.field == "session_id"


def test_signup_cannot_start_with_a_taken_name_and_signin_needs_a_user(service):
    register_user(service, "alice")
    with pytest.raises(errors.UsernameUnavailable):
        service.save_drawing(sample_drawing("ALICE", 1))
    with pytest.raises(errors.UserNotFound):
        service.save_drawing(sample_drawing("bob", 1, flow_type="signin"))


# ---------------------------------------------------------------- validation of a step


def _bad(field: str, value, **overrides):
    """The first step with one field bad (or left out: None, as a client that does not send it)."""
    return replace(sample_drawing("alice", 1), **overrides, **{field: None if value is _DELETE else value})


_DELETE = object()


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


_TINY_PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("step", 12, errors.ValidationError, "between 1 and 11"),
        ("step", 0, errors.ValidationError, "positive integer"),
        ("step", "1", errors.ValidationError, "positive integer"),
        ("step", True, errors.ValidationError, "positive integer"),
        ("type", "shape", errors.ValidationError, "must be 'signature' for step 1"),
        ("type", "scribble", errors.ValidationError, "must be one of"),
        ("signature", "", errors.ValidationError, "is required"),
        ("signature", _DELETE, errors.ValidationError, "is required"),
        ("signature", "https://example.com/x.png", errors.ValidationError, "data URL"),
        ("signature", "data:text/plain;base64,aGVsbG8=", errors.ValidationError, "data URL"),
        ("signature", "data:image/png;base64,!!!", errors.ValidationError, "data URL"),
        ("signature", _TINY_PNG, errors.ValidationError, "empty or too small"),
        ("signature", "data:image/png;base64," + "QUFB" * 100, errors.ValidationError, "not a PNG image"),
        ("signature", "data:image/png;base64," + "A" * 1_600_000, errors.PayloadTooLarge, "limit"),
        ("raw", _DELETE, errors.ValidationError, "raw is required"),
        ("raw", {"objects": []}, errors.ValidationError, "empty or too small"),
        ("raw", {"shapes": 1}, errors.ValidationError, "raw"),
        ("raw", "{not json", errors.ValidationError, "not valid JSON"),
        ("raw", {"strokes": [[[0, 0]] * 10]} | {"pad": "x" * 1_000_001}, errors.PayloadTooLarge, "raw"),
        ("metrics", [1, 2], errors.ValidationError, "JSON object"),
        ("metrics", {"x": "y" * 20_000}, errors.PayloadTooLarge, "metrics"),
        ("instruction", 5, errors.ValidationError, "text"),
        ("instruction", "x" * 501, errors.PayloadTooLarge, "instruction"),
        ("username", "no spaces", errors.ValidationError, "may contain only"),
        ("flow_type", "login", errors.ValidationError, "flow type must be one of"),
        ("session_id", "nope", errors.ValidationError, "not a valid session id"),
        # What PostgreSQL cannot store is refused up front, not as a database error.
        ("instruction", "a\x00b", errors.ValidationError, "NUL"),
        ("instruction", "a\ud800b", errors.ValidationError, "surrogate"),
        ("metrics", {"k": "a\x00b"}, errors.ValidationError, "NUL"),
        ("metrics", {"a\x00": 1}, errors.ValidationError, "NUL"),
        ("metrics", {"k": "\udc00"}, errors.ValidationError, "surrogate"),
        (
            "raw",
            {"strokes": [[[0, 0], [50, 50]] * 10], "k": _nested(300)},
            errors.ValidationError,
            "too deeply",
        ),
        ("metrics", {"k": float("nan")}, errors.ValidationError, "not valid JSON"),
        ("raw", {"strokes": [[[0, 0], [50, 50]] * 10], "note": "a\\u0000"}, None, None),
        ("raw", {"strokes": [[[0, 0], [50, 50]] * 10], "note": "\x00"}, errors.ValidationError, "NUL"),
        ("raw", '{"strokes": [], "x": "\\u0000"}', errors.ValidationError, "NUL"),
        ("raw", "[" * 50_000 + "]" * 50_000, errors.ValidationError, "nested too deeply"),
        ("username", "ab\ud800c", errors.ValidationError, "may contain only"),
    ],
)
def test_bad_steps_are_refused_with_the_field_and_reason(service, db, field, value, error, message):
    if error is None:  # a look-alike that is fine (here: a backslash and "u0000", not a NUL)
        assert service.save_drawing(_bad(field, value)).created
        return
    with pytest.raises(error) as info:
        service.save_drawing(_bad(field, value))
    assert info.value.field == field and message.lower() in info.value.message.lower()
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0


def test_a_refused_step_leaves_the_session_usable(service, db):
    session_id = draw_signup(service, "alice", steps=2)
    with pytest.raises(errors.ValidationError):
        service.save_drawing(
            _bad("signature", "data:image/png;base64,xx", step=3, type="shape", session_id=session_id)
        )
    assert (
        service.save_drawing(sample_drawing("alice", 3, session_id=session_id)).progress.completed_steps == 3
    )


def test_instruction_defaults_to_the_plan(service, db):
    session_id = service.save_drawing(replace(sample_drawing("alice", 1), instruction=None)).session_id
    assert service.list_steps(session_id)[0]["instruction"] == "Sign your name"


def test_limits_are_documented_constants():
    assert validation.SIGNATURE_MAX_CHARS == 1_500_000 and validation.RAW_MAX_BYTES == 1_000_000


# ---------------------------------------------------------------- register


def test_register_creates_the_user_and_copies_the_drawings(service, db):
    session_id = draw_signup(service, "John_Doe")
    registration = service.register("john_doe", session_id)
    assert (registration.username, registration.drawings_copied) == ("John_Doe", 11)
    drawings = db.execute(
        "SELECT step_number, step_type, signature_data FROM user_enrolled_drawings ORDER BY step_number"
    ).fetchall()
    assert [d["step_number"] for d in drawings] == list(range(1, 12))
    assert all(d["signature_data"].startswith("data:image/png;base64,") for d in drawings)
    assert service.get_session(session_id).status == "completed"


@pytest.mark.parametrize("steps", [1, 10])
def test_register_refuses_an_incomplete_session(service, db, steps):
    session_id = draw_signup(service, "alice", steps=steps)
    with pytest.raises(errors.EnrollmentIncomplete, match=f"{steps} of 11"):
        service.register("alice", session_id)
    assert db.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0
    assert service.get_session(session_id).status == "in_progress"


def test_register_refuses_expired_foreign_and_signin_sessions(service, db):
    stale = draw_signup(service, "alice")
    expire(db, stale)
    with pytest.raises(errors.SessionExpired):
        service.register("alice", stale)
    mine = draw_signup(service, "bob")
    with pytest.raises(errors.SessionNotFound):
        service.register("mallory", mine)
    registration = service.register("bob", mine)
    assert service.register("bob", mine) == registration  # a retry (tests/test_idempotent_completion.py)
    signin = draw_signin(service, "bob")
    with pytest.raises(errors.WrongFlow):
        service.register("bob", signin)
    with pytest.raises(errors.ValidationError, match="temporary data") as info:
        service.register("bob", mine, use_temporary_data=False)
    assert info.value.field == "use_temporary_data"
    assert db.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1


def test_two_concurrent_registrations_of_one_username(service, db):
    sessions = [draw_signup(service, "alice", sample=i) for i in range(2)]
    results = _concurrently(2, lambda i: service.register("alice", sessions[i]))
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and isinstance(losers[0], errors.UsernameUnavailable)
    assert db.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1
    loser_session = sessions[1 - sessions.index(winners[0].session_id)]
    assert service.get_session(loser_session).status == "in_progress"  # nothing half-done
    assert db.execute("SELECT count(*) AS n FROM user_enrolled_drawings").fetchone()["n"] == 11


def test_a_retry_that_waited_for_the_first_save_is_recognised(service, db_url, db):
    """The retry's statement starts before the first save commits (it waits on the session's row
    lock), so its snapshot cannot see that step: the service must look again, not refuse or
    duplicate it."""
    import threading

    import psycopg
    from psycopg.types.json import Jsonb

    from enrollment_core.validation import parse_drawing_step

    session_id = draw_signup(service, "alice", steps=2)
    payload = sample_drawing("alice", 3, session_id=session_id)
    step = parse_drawing_step(payload)
    with psycopg.connect(db_url) as first:  # the first save, done by hand and held open
        enrollment_id = first.execute(
            "SELECT id FROM temp_enrollments WHERE session_id = %s FOR UPDATE", (session_id,)
        ).fetchone()[0]
        first.execute(
            "INSERT INTO temp_enrollment_steps (enrollment_id, step_number, step_type, instruction,"
            " signature_data, raw_data, metrics, content_hash) VALUES (%s, 3, %s, %s, %s, %s, %s, %s)",
            (enrollment_id, step.type, step.instruction, step.signature, Jsonb(step.raw), Jsonb(step.metrics),
             step.content_hash),
        )  # fmt: skip
        first.execute("UPDATE temp_enrollments SET step_count = 3 WHERE id = %s", (enrollment_id,))
        results: list = []
        retry = threading.Thread(target=lambda: results.append(service.save_drawing(payload)))
        retry.start()
        for _ in range(600):  # until the retry waits on the row lock (bounded; on database state)
            waiting = db.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            ).fetchone()["n"]
            if waiting:
                break
            threading.Event().wait(0.05)
        assert waiting, "the retry never waited for the lock"
        first.commit()
    retry.join(timeout=60)
    assert results and results[0].duplicate and results[0].progress.completed_steps == 3
    n = db.execute("SELECT count(*) AS n FROM temp_enrollment_steps WHERE step_number = 3").fetchone()["n"]
    assert n == 1
