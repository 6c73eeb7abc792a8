"""The HTTP API through a real uvicorn server on a real PostgreSQL: the seed's flow, sign-in, client
info, idempotent retries and every error status.

Each test gets its own database (db_url fixture) and its own server on a free port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from api.main import create_app
from bench.api_server import serve
from enrollment_core.service import EnrollmentService
from tests.flows import drawing_json, expire

USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) TestPhone/1.0"
VALID_BUT_UNKNOWN_SESSION = "sess_" + "A" * 32


@pytest.fixture
def api_url(service: EnrollmentService) -> Iterator[str]:
    with serve(create_app(service)) as url:
        yield url


@pytest.fixture
def http(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, headers={"User-Agent": USER_AGENT}, timeout=60) as client:
        yield client


def seed_drawing(username: str, step: int, session_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A save-drawing body with exactly the seed's fields (no flowType extension) unless asked."""
    payload = drawing_json(username, step, session_id=session_id, **kwargs)
    if "flow_type" not in kwargs:
        payload.pop("flowType")
    return payload


def draw_signup(http: httpx.Client, username: str, steps: int = 11) -> str:
    first = http.post("/api/save-drawing", json=seed_drawing(username, 1))
    assert first.status_code == 200, first.text
    session_id = first.json()["sessionId"]
    for step in range(2, steps + 1):
        answer = http.post("/api/save-drawing", json=seed_drawing(username, step, session_id))
        assert answer.status_code == 200, answer.text
    return session_id


def register_user(http: httpx.Client, username: str) -> str:
    session_id = draw_signup(http, username)
    done = http.post(
        "/register", json={"username": username, "sessionId": session_id, "useTemporaryData": True}
    )
    assert done.status_code == 201, done.text
    return session_id


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    assert body["error"]["message"], body
    return body


# ------------------------------------------------------------------------------------- the seed's flow


def test_seed_example_flow_signup_to_register(http: httpx.Client, db: psycopg.Connection) -> None:
    check = http.post("/api/check-username", json={"username": "john_doe"})
    assert check.status_code == 200
    assert check.json() == {"username": "john_doe", "available": True, "reason": None, "code": None}

    first = http.post("/api/save-drawing", json=seed_drawing("john_doe", 1))
    assert first.status_code == 200, first.text
    body = first.json()
    session_id = body["sessionId"]
    assert session_id.startswith("sess_")
    assert body["created"] is True and body["duplicate"] is False
    assert body["progress"] == {
        "total_steps": 11,
        "completed_steps": 1,
        "last_step_number": 1,
        "last_step_type": "signature",
        "remaining_steps": 10,
        "is_complete": False,
        "next_step": 2,
    }

    for step in range(2, 12):
        answer = http.post("/api/save-drawing", json=seed_drawing("john_doe", step, session_id))
        assert answer.status_code == 200, answer.text
        assert answer.json()["sessionId"] == session_id
        assert answer.json()["progress"]["completed_steps"] == step
    assert answer.json()["progress"]["is_complete"] is True
    assert answer.json()["progress"]["next_step"] is None

    progress = http.get(f"/api/progress/{session_id}")
    assert progress.status_code == 200
    assert progress.json()["status"] == "in_progress"
    assert progress.json()["flowType"] == "signup"

    done = http.post(
        "/register", json={"username": "john_doe", "sessionId": session_id, "useTemporaryData": True}
    )
    assert done.status_code == 201, done.text
    assert done.json()["username"] == "john_doe"
    assert done.json()["drawingsCopied"] == 11

    user = db.execute("SELECT id FROM users WHERE username = 'john_doe'").fetchone()
    copied = db.execute(
        "SELECT count(*) AS n FROM user_enrolled_drawings WHERE user_id = %s", (user["id"],)
    ).fetchone()
    assert copied["n"] == 11
    assert http.get(f"/api/progress/{session_id}").json()["status"] == "completed"

    taken = http.post("/api/check-username", json={"username": "JOHN_DOE"})
    assert taken.json()["available"] is False and taken.json()["code"] == "username_taken"
    exists = http.post("/api/check-user-exists", json={"username": "john_doe"})
    assert exists.json() == {
        "username": "john_doe",
        "exists": True,
        "reason": None,
        "code": None,
        "lockedUntil": None,
    }


def test_username_checks_explain_refusals(http: httpx.Client) -> None:
    short = http.post("/api/check-username", json={"username": "jo"}).json()
    assert short["available"] is False and short["code"] == "validation_error"
    assert "at least 3" in short["reason"]
    reserved = http.post("/api/check-username", json={"username": "admin"}).json()
    assert reserved["available"] is False and "reserved" in reserved["reason"]
    missing = http.post("/api/check-user-exists", json={"username": "nobody_here"}).json()
    assert missing == {
        "username": "nobody_here",
        "exists": False,
        "reason": "no account is registered as 'nobody_here'",
        "code": "user_not_found",
        "lockedUntil": None,
    }


def test_retried_steps_are_idempotent(http: httpx.Client, db: psycopg.Connection) -> None:
    first_body = seed_drawing("retry_user", 1)
    first = http.post("/api/save-drawing", json=first_body).json()
    again = http.post("/api/save-drawing", json=first_body).json()  # the answer to the first was lost
    assert again["sessionId"] == first["sessionId"]
    assert again["created"] is False and again["duplicate"] is True
    assert again["progress"] == first["progress"]

    second_body = seed_drawing("retry_user", 2, first["sessionId"])
    assert http.post("/api/save-drawing", json=second_body).json()["duplicate"] is False
    retried = http.post("/api/save-drawing", json=second_body)
    assert retried.status_code == 200 and retried.json()["duplicate"] is True
    assert retried.json()["progress"]["completed_steps"] == 2

    counts = db.execute(
        "SELECT count(DISTINCT e.id) AS sessions, count(s.id) AS steps FROM temp_enrollments e"
        " JOIN temp_enrollment_steps s ON s.enrollment_id = e.id WHERE e.username = 'retry_user'"
    ).fetchone()
    assert counts == {"sessions": 1, "steps": 2}


def test_signature_pad_raw_and_string_raw_are_accepted(http: httpx.Client) -> None:
    body = seed_drawing("pad_user", 1)
    body["raw"] = [
        {"points": [{"x": 10 + i * 4, "y": 50 + (i % 7) * 3, "time": 1000 + i * 16} for i in range(40)]}
    ]
    body["metrics"] = None  # computed by the server
    first = http.post("/api/save-drawing", json=body)
    assert first.status_code == 200, first.text
    body2 = seed_drawing("pad_user", 2, first.json()["sessionId"])
    body2["raw"] = (
        '{"strokes": [[[0, 0], [40, 10], [80, 0], [120, 30], [160, 5], [200, 40], [240, 0],'
        " [280, 20], [300, 10], [320, 30], [340, 0]]]}"
    )
    assert http.post("/api/save-drawing", json=body2).status_code == 200


# ------------------------------------------------------------------------------------- sign-in


def test_signin_login_accepts_the_owner_and_locks_out_the_forgers_address(
    strict_service: EnrollmentService, db: psycopg.Connection
) -> None:
    with (
        serve(create_app(strict_service)) as url,
        httpx.Client(base_url=url, headers={"User-Agent": USER_AGENT}, timeout=60) as http,
    ):
        register_user(http, "mary_jane")

        def signin(**kwargs: Any) -> str:
            payload = drawing_json("mary_jane", 1, flow_type="signin", **kwargs)
            answer = http.post("/api/save-drawing", json=payload)
            assert answer.status_code == 200, answer.text
            assert answer.json()["progress"]["total_steps"] == 1
            assert answer.json()["progress"]["is_complete"] is True
            return answer.json()["sessionId"]

        genuine = signin(sample=50)
        ok = http.post(
            "/login", json={"username": "mary_jane", "sessionId": genuine, "useTemporaryData": True}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["accepted"] is True and ok.json()["reasonCode"] == "match"
        # The verdict in words only: a score or threshold would tell a forger how close they came.
        assert "score" not in ok.json() and "threshold" not in ok.json()

        replay = http.post("/login", json={"username": "mary_jane", "sessionId": genuine})
        assert (replay.status_code, replay.content) == (200, ok.content)  # one verdict per sign-in session

        forged = signin(sample=3, person="somebody_else")
        rejected = http.post("/login", json={"username": "mary_jane", "sessionId": forged})
        body = assert_error(rejected, 401, "signature_rejected", "sessionId")
        assert body["login"]["accepted"] is False and body["login"]["failuresLeft"] == 1
        assert "score" not in body["login"] and "threshold" not in body["login"]

        forged = signin(sample=4, person="somebody_else")
        rejected = http.post("/login", json={"username": "mary_jane", "sessionId": forged})
        body = assert_error(rejected, 401, "signature_rejected", "sessionId")
        assert body["login"]["failuresLeft"] == 0 and body["login"]["lockedUntil"] is not None

        # This address is locked out of the account (others are not: tests/test_abuse_api.py).
        locked = http.post("/login", json={"username": "mary_jane", "sessionId": signin(sample=60)})
        body = assert_error(locked, 423, "account_locked", "username")
        assert body["lockedUntil"] and int(locked.headers["Retry-After"]) > 0
        # The client can tell before the person draws.
        check = http.post("/api/check-user-exists", json={"username": "mary_jane"}).json()
        assert (check["exists"], check["code"]) == (True, "account_locked") and check["lockedUntil"]

    attempts = db.execute("SELECT accepted, ip, user_agent FROM login_attempts ORDER BY id").fetchall()
    assert [a["accepted"] for a in attempts] == [True, False, False]
    assert all(a["ip"] == "127.0.0.1" and a["user_agent"] == USER_AGENT for a in attempts)


def test_signin_needs_an_existing_user_and_login_a_signin_session(http: httpx.Client) -> None:
    unknown = http.post("/api/save-drawing", json=drawing_json("ghost_user", 1, flow_type="signin"))
    assert_error(unknown, 404, "user_not_found", "username")

    session_id = draw_signup(http, "flow_user", steps=2)
    wrong = http.post("/login", json={"username": "flow_user", "sessionId": session_id})
    assert_error(wrong, 409, "wrong_flow", "sessionId")


# ------------------------------------------------------------------------------------- client info


def test_user_agent_and_ip_are_recorded(http: httpx.Client, db: psycopg.Connection) -> None:
    # The test server trusts no proxy: a forged X-Forwarded-For must not replace the peer address.
    first = http.post(
        "/api/save-drawing", json=seed_drawing("device_user", 1), headers={"X-Forwarded-For": "203.0.113.9"}
    )
    session_id = first.json()["sessionId"]
    http.post("/api/save-drawing", json=seed_drawing("device_user", 2, session_id))
    row = db.execute(
        "SELECT device_info, metadata FROM temp_enrollments WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row["device_info"] == USER_AGENT
    assert row["metadata"]["ip"] == "127.0.0.1"
    assert row["metadata"]["last_ip"] == "127.0.0.1"


def test_forwarded_for_is_used_only_behind_a_trusted_proxy(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    with serve(create_app(service), forwarded_allow_ips="127.0.0.1") as url:
        answer = httpx.post(
            f"{url}/api/save-drawing",
            json=seed_drawing("proxied_user", 1),
            headers={"X-Forwarded-For": "198.51.100.7, 127.0.0.1", "User-Agent": "ProxiedPhone/2"},
            timeout=60,
        )
    assert answer.status_code == 200, answer.text
    row = db.execute(
        "SELECT device_info, metadata FROM temp_enrollments WHERE session_id = %s",
        (answer.json()["sessionId"],),
    ).fetchone()
    assert row == {"device_info": "ProxiedPhone/2", "metadata": {"ip": "198.51.100.7"}}


# ------------------------------------------------------------------------------------- errors


def test_unknown_session_is_404(http: httpx.Client) -> None:
    body = seed_drawing("lost_user", 2, VALID_BUT_UNKNOWN_SESSION)
    assert_error(http.post("/api/save-drawing", json=body), 404, "session_not_found", "sessionId")
    assert_error(
        http.get(f"/api/progress/{VALID_BUT_UNKNOWN_SESSION}"), 404, "session_not_found", "sessionId"
    )
    register = http.post("/register", json={"username": "lost_user", "sessionId": VALID_BUT_UNKNOWN_SESSION})
    assert_error(register, 404, "session_not_found", "sessionId")


def test_another_users_session_is_reported_as_unknown(http: httpx.Client) -> None:
    session_id = draw_signup(http, "owner_user", steps=1)
    intruder = http.post("/api/save-drawing", json=seed_drawing("intruder", 2, session_id))
    assert_error(intruder, 404, "session_not_found", "sessionId")


def test_expired_session_is_410(http: httpx.Client, db: psycopg.Connection) -> None:
    session_id = draw_signup(http, "late_user", steps=11)
    expire(db, session_id)
    progress = http.get(f"/api/progress/{session_id}")
    assert_error(progress, 410, "session_expired", "sessionId")
    register = http.post("/register", json={"username": "late_user", "sessionId": session_id})
    assert_error(register, 410, "session_expired", "sessionId")
    assert db.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0

    other = draw_signup(http, "later_user", steps=2)
    expire(db, other)
    late_step = http.post("/api/save-drawing", json=seed_drawing("later_user", 3, other))
    assert_error(late_step, 410, "session_expired", "sessionId")


def test_step_conflicts_are_409(http: httpx.Client) -> None:
    session_id = draw_signup(http, "order_user", steps=2)
    skipped = http.post("/api/save-drawing", json=seed_drawing("order_user", 4, session_id))
    body = assert_error(skipped, 409, "step_conflict", "step")
    assert "next step of this session is 3" in body["error"]["message"]

    changed = seed_drawing("order_user", 2, session_id, sample=7)  # step 2 again, another drawing
    assert_error(http.post("/api/save-drawing", json=changed), 409, "step_conflict", "step")

    restart = http.post("/api/save-drawing", json=seed_drawing("order_user2", 3))
    assert_error(restart, 409, "step_conflict", "step")

    incomplete = http.post("/register", json={"username": "order_user", "sessionId": session_id})
    assert_error(incomplete, 409, "enrollment_incomplete", "sessionId")


def test_username_taken_is_409(http: httpx.Client) -> None:
    session_id = register_user(http, "taken_user")
    again = http.post("/api/save-drawing", json=seed_drawing("Taken_User", 1, flow_type="signup"))
    assert_error(again, 409, "username_taken", "username")
    # Without flowType (the design note's client), a registered name starts a sign-in instead.
    signin = http.post("/api/save-drawing", json=seed_drawing("Taken_User", 1))
    assert signin.status_code == 200 and signin.json()["progress"]["total_steps"] == 1
    twice = http.post("/register", json={"username": "taken_user", "sessionId": session_id})
    assert twice.status_code == 201 and twice.json()["sessionId"] == session_id  # a retry, not a second user


def test_validation_errors_are_422_and_name_the_field(http: httpx.Client) -> None:
    body = seed_drawing("valid_user", 1)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**body, "step": "1"}, "step", "valid integer"),  # JSON types are not coerced
        ({**body, "step": 0}, "step", "positive integer"),
        ({**body, "step": 12}, "step", "between 1 and 11"),
        ({**body, "type": "shape"}, "type", "'signature' for step 1"),
        ({**body, "signature": "data:image/png;base64,AAAA"}, "signature", "too small"),
        ({**body, "signature": "https://example.com/x.png"}, "signature", "data URL"),
        ({**body, "raw": {"objects": []}}, "raw", "empty"),
        ({**body, "metrics": [1, 2]}, "metrics", "valid dictionary"),
        ({**body, "sessionId": "sess_123"}, "sessionId", "not a valid session id"),
        ({**body, "flowType": "login"}, "flowType", "'signup' or 'signin'"),
        ({**body, "username": "no spaces"}, "username", "may contain only"),
        ({k: v for k, v in body.items() if k != "username"}, "username", "is required"),
        ({k: v for k, v in body.items() if k != "raw"}, "raw", "is required"),
    ]
    for payload, field, words in cases:
        answer = http.post("/api/save-drawing", json=payload)
        error = assert_error(answer, 422, "validation_error", field)["error"]
        assert words in error["message"], (field, error)

    not_object = http.post("/api/save-drawing", json=[body])
    assert_error(not_object, 422, "validation_error", None)
    empty = http.post("/register", content=b"", headers={"Content-Type": "application/json"})
    assert_error(empty, 422, "validation_error", None)
    flag = http.post(
        "/register",
        json={"username": "x_user", "sessionId": VALID_BUT_UNKNOWN_SESSION, "useTemporaryData": False},
    )
    assert_error(flag, 422, "validation_error", "useTemporaryData")


def test_malformed_json_is_400(http: httpx.Client) -> None:
    answer = http.post(
        "/api/save-drawing",
        content=b'{"username": "john_doe", "step": 1,',
        headers={"Content-Type": "application/json"},
    )
    body = assert_error(answer, 400, "malformed_json", None)
    assert "not valid JSON" in body["error"]["message"]


def test_non_json_body_is_415(http: httpx.Client) -> None:
    answer = http.post(
        "/api/check-username",
        content=b"username=john_doe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(answer, 415, "unsupported_media_type", None)


def test_field_over_its_limit_is_413(http: httpx.Client, db: psycopg.Connection) -> None:
    body = seed_drawing("big_user", 1)
    body["signature"] = "data:image/png;base64," + "A" * 1_500_000  # under the 3 MiB body limit
    body_error = assert_error(
        http.post("/api/save-drawing", json=body), 413, "payload_too_large", "signature"
    )
    assert "1500000" in body_error["error"]["message"]
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0


def test_body_over_the_limit_is_413_before_parsing(http: httpx.Client, db: psycopg.Connection) -> None:
    huge = b'{"username": "big_user", "raw": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    declared = http.post("/api/save-drawing", content=huge, headers={"Content-Type": "application/json"})
    assert declared.request.headers["content-length"] == str(len(huge))
    body = assert_error(declared, 413, "payload_too_large", None)
    assert "3145728 bytes" in body["error"]["message"]

    def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, without Content-Length
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = http.post("/api/save-drawing", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert_error(streamed, 413, "payload_too_large", None)

    # Even malformed JSON is refused for its size: the limit applies before any parsing.
    garbage = http.post(
        "/api/check-username",
        content=b"{" * (3 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert_error(garbage, 413, "payload_too_large", None)
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0

    # The connection stays usable after a refused body.
    assert http.post("/api/check-username", json={"username": "big_user"}).status_code == 200


def test_small_chunked_body_is_accepted(http: httpx.Client) -> None:
    payload = httpx.Request("POST", "/", json=seed_drawing("chunk_user", 1)).content

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    answer = http.post("/api/save-drawing", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.request.headers["transfer-encoding"] == "chunked"


def test_unknown_routes_and_methods_use_the_error_body(http: httpx.Client) -> None:
    assert_error(http.get("/api/nothing-here"), 404, "not_found", None)
    wrong_method = http.get("/api/save-drawing")
    assert_error(wrong_method, 405, "method_not_allowed", None)
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["error"]["message"] == "GET is not allowed on /api/save-drawing; allowed: POST"


def test_liveness_and_readiness(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready", "database": "ok"}


def test_app_opens_and_closes_its_own_service(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected service (as uvicorn runs the factory), the app opens one on DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", db_url)

    def maintenance_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "periodic-cleanup" and t.is_alive()}

    before = maintenance_threads()
    app = create_app()
    with serve(app) as url:
        assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
        service = app.state.service
        assert not service.pool.closed
        assert len(maintenance_threads() - before) == 1  # the hourly maintenance runs while the API runs
    assert service.pool.closed
    assert maintenance_threads() - before == set()  # and stops with it


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instruction", "Sign\x00 here"),  # PostgreSQL text cannot hold NUL
        ("instruction", "Sign \ud800 here"),  # not Unicode: cannot be encoded for the database
        ("metrics", {"note": "a\x00b"}),  # jsonb cannot hold \u0000
        ("metrics", {"\udc00": 1}),
        ("raw", {"strokes": [[[0, 0], [40, 10], [80, 0], [120, 30], [160, 5], [200, 40]]], "x": "\x00"}),
        ("raw", json.dumps({"strokes": [[[0, 0], [40, 10], [80, 0], [120, 30]]], "x": "\x00"})),  # JSON text
        ("raw", json.dumps({"strokes": [[[0, 0], [40, 10], [80, 0], [120, 30]]], "x": "\ud800"})),
    ],
)
def test_text_the_database_cannot_store_is_422_not_500(
    http: httpx.Client, db: psycopg.Connection, field: str, value: Any
) -> None:
    body = {**seed_drawing("text_user", 1), field: value}
    # json.dumps escapes NUL and lone surrogates (\u0000, \ud800), as JSON.stringify does.
    answer = http.post(
        "/api/save-drawing", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    error = assert_error(answer, 422, "validation_error", field)["error"]
    assert "NUL character or an unpaired surrogate" in error["message"], error
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0


def test_lone_surrogate_username_is_refused_and_echoed_safely(http: httpx.Client) -> None:
    answer = http.post(
        "/api/check-username",
        content=b'{"username": "\\ud800abc"}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json() | {"reason": None} == {
        "username": "?abc",
        "available": False,
        "reason": None,
        "code": "validation_error",
    }
    assert "may contain only" in answer.json()["reason"]


def test_json_nested_too_deeply_is_400_or_422(http: httpx.Client) -> None:
    deep = b'{"username": "deep_user", "raw": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = http.post("/api/save-drawing", content=deep, headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "malformed_json", None)
    # The same inside raw sent as JSON text (which the service decodes): the field is named.
    body = {**seed_drawing("deep_user", 1), "raw": "[" * 100_000 + "]" * 100_000}
    answer = http.post("/api/save-drawing", json=body)
    assert "nested too deeply" in assert_error(answer, 422, "validation_error", "raw")["error"]["message"]
