"""Issue 14, tried again from outside: each numbered finding against a real uvicorn server (the
production protocol, api/server.py) on a real PostgreSQL, with the product's default limits unless a
test says otherwise. Client addresses come from X-Forwarded-For, which the server trusts from
127.0.0.1 here, as it would behind a local reverse proxy."""

from __future__ import annotations

import base64
import io
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image
from psycopg.types.json import Jsonb

from api.main import create_app
from api.server import guarded_protocol
from bench.api_server import serve, serve_command
from enrollment_core import rate_limits, sign_in_lockout
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.database import create_pool
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import EnrollmentService
from enrollment_core.validation import parse_drawing_step
from tests.flows import drawing_json, expire, register_user

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


@dataclass
class Api:
    url: str
    service: EnrollmentService

    def client(self, address: str | None = None, **headers: str) -> httpx.Client:
        if address:
            headers["X-Forwarded-For"] = address
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def running_api(db_url: str, *, request_timeout: float | None = None, **changes: Any) -> Iterator[Api]:
    """The API on this test's database with the product's defaults, changed by `changes` (Settings
    fields; rate_limits=dict(...) changes single limits)."""
    limits = RateLimitSettings(**changes.pop("rate_limits", {}))
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=8, rate_limits=limits, **changes)
    options: dict[str, Any] = {"forwarded_allow_ips": "127.0.0.1"}
    if request_timeout is not None:
        options["http"] = guarded_protocol(request_timeout)
    with create_pool(db_url, settings, name="abuse") as pool:
        service = EnrollmentService(pool, settings)
        with serve(create_app(service), **options) as url:
            yield Api(url, service)


def assert_refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["field"] == field, body
    assert body["error"]["message"]
    return body


def assert_rate_limited(response: httpx.Response) -> dict:
    body = assert_refused(response, 429, "rate_limited")
    wait = int(response.headers["Retry-After"])
    assert wait >= 1 and body["retryAfter"] == wait and "please wait" in body["error"]["message"]
    return body


def signin_session(http: httpx.Client, username: str, **kwargs: Any) -> str:
    answer = http.post("/api/save-drawing", json=drawing_json(username, 1, flow_type="signin", **kwargs))
    assert answer.status_code == 200, answer.text
    return answer.json()["sessionId"]


def login(http: httpx.Client, username: str, session_id: str) -> httpx.Response:
    return http.post("/login", json={"username": username, "sessionId": session_id, "useTemporaryData": True})


def png_bytes(width: int, height: int, mode: str = "1", noise: bool = False) -> bytes:
    if noise:
        rng = random.Random(7)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        image = Image.new(mode, (width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


# ---------------------------------------------------------------- 1. rate limits


def test_1_lookups_are_limited_per_address_without_revealing_names(db_url: str) -> None:
    """The issue's 125 check-username requests from one client now meet a 429 (default limit: 120 an
    hour per address), shared with check-user-exists; another address is not affected."""
    with running_api(db_url) as api, api.client(ATTACKER) as attacker, api.client(OWNER) as owner:
        register_user(api.service, "known_name")
        answers = [
            attacker.post("/api/check-username", json={"username": f"name{i:03d}"}) for i in range(125)
        ]
        assert [a.status_code for a in answers] == [200] * 120 + [429] * 5
        assert_rate_limited(answers[-1])
        # Refused before the name is looked up: a known and an unknown name get the same answer.
        known = attacker.post("/api/check-user-exists", json={"username": "known_name"})
        unknown = attacker.post("/api/check-user-exists", json={"username": "nobody_here"})
        assert_rate_limited(known)
        assert known.json()["error"] == unknown.json()["error"]
        assert owner.post("/api/check-username", json={"username": "name000"}).status_code == 200


def test_1_signins_are_limited_per_address(db_url: str) -> None:
    with running_api(db_url, rate_limits={"signins_per_hour": 2}) as api:
        register_user(api.service, "bruce")
        with api.client(ATTACKER) as attacker, api.client(OWNER) as owner:
            sessions = [signin_session(attacker, "bruce", person="eve", sample=i) for i in range(3)]
            statuses = [login(attacker, "bruce", s).status_code for s in sessions]
            assert statuses == [401, 401, 429]
            assert_rate_limited(login(attacker, "bruce", sessions[2]))
            accepted = login(owner, "bruce", signin_session(owner, "bruce", sample=50))
            assert accepted.status_code == 200 and accepted.json()["accepted"] is True


# ---------------------------------------------------------------- 2. a lockout nobody can aim


def test_2_forged_signins_lock_the_forgers_address_not_the_owner(db_url: str, db: psycopg.Connection) -> None:
    """Eight forged sign-ins from one address (defaults: 5 rejections lock that address for 15 min):
    the owner elsewhere signs in, and the attacker's address stays locked."""
    with running_api(db_url) as api, api.client(ATTACKER) as attacker, api.client(OWNER) as owner:
        register_user(api.service, "ann")
        statuses = []
        for attempt in range(8):
            forged = signin_session(attacker, "ann", person="mallory", sample=attempt)
            statuses.append(login(attacker, "ann", forged).status_code)
        assert statuses == [401] * 5 + [423] * 3
        locked = login(attacker, "ann", signin_session(attacker, "ann", sample=50))
        body = assert_refused(locked, 423, "account_locked", "username")
        assert body["lockedUntil"] and int(locked.headers["Retry-After"]) > 0

        accepted = login(owner, "ann", signin_session(owner, "ann", sample=50))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["accepted"] is True and accepted.json()["lockedUntil"] is None
        # The start screens can tell each of them before anything is drawn.
        told_attacker = attacker.post("/api/check-user-exists", json={"username": "ann"}).json()
        assert told_attacker["code"] == "account_locked" and told_attacker["lockedUntil"]
        told_owner = owner.post("/api/check-user-exists", json={"username": "ann"}).json()
        assert (told_owner["exists"], told_owner["code"], told_owner["lockedUntil"]) == (True, None, None)
    lock = sign_in_lockout.state_for_user(db, "ann")
    assert lock is not None and [a.address for a in lock.locked_addresses] == [ATTACKER]


def test_2_failures_from_many_addresses_slow_the_account_and_never_lock_it(
    db_url: str, db: psycopg.Connection
) -> None:
    """Rejections from many addresses spend the account's allowance (here 3 an hour): then every
    sign-in waits (429 with Retry-After), the owner's too, and staff see it; once a token has
    refilled, the owner's waiting sign-in is accepted. Nobody is locked."""
    with running_api(db_url, rate_limits={"account_failures_per_hour": 3}) as api:
        register_user(api.service, "carl")
        for n in range(3):
            with api.client(f"203.0.113.{10 + n}") as forger:
                forged = signin_session(forger, "carl", person="mallory", sample=n)
                assert login(forger, "carl", forged).status_code == 401
        with api.client(OWNER) as owner:
            genuine = signin_session(owner, "carl", sample=50)
            slowed = assert_rate_limited(login(owner, "carl", genuine))
            assert "slowed down" in slowed["error"]["message"]
            assert 1100 <= slowed["retryAfter"] <= 1200  # one of 3 tokens an hour

            state = sign_in_lockout.state_for_user(db, "carl")
            assert state is not None and state.failed_logins == 3 and state.slowed_until is not None
            assert len(state.addresses) == 3 and not state.locked_addresses
            account = rate_limits.blocks_for_user(db, "carl")
            assert account is not None and account.blocked and account.last_refused_limit == "signin_failures"

            # 20 minutes later (the allowance's clock moved back), the same sign-in goes through.
            db.execute(
                "UPDATE rate_limits SET signin_failures_full_at = signin_failures_full_at"
                " - interval '20 minutes'"
            )
            accepted = login(owner, "carl", genuine)
            assert accepted.status_code == 200 and accepted.json()["accepted"] is True


# ---------------------------------------------------------------- 3, 4. images checked by decoding

BOMB = png_bytes(9000, 9000)  # 9,912 bytes that decode to 81 million pixels
POLYGLOTS = {
    "png header then HTML": (
        "png",
        b"\x89PNG\r\n\x1a\n<html><body><script>alert(document.cookie)</script></body></html>" * 2,
    ),
    "jpeg header then HTML": ("jpeg", b"\xff\xd8\xff\xe0" + b"<html><body>hello</body></html>" * 3),
    "WAVE labelled webp": ("webp", b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(64)),
}


def test_3_a_decompression_bomb_is_refused_before_anything_is_stored(db_url: str, db) -> None:
    assert len(BOMB) < 10_000
    with running_api(db_url) as api, api.client(OWNER) as http:
        body = {**drawing_json("bomb_user", 1), "signature": data_url("png", BOMB)}
        refused = assert_refused(
            http.post("/api/save-drawing", json=body), 422, "validation_error", "signature"
        )
        assert "9000 x 9000 pixels" in refused["error"]["message"]
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone() == {"n": 0}


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_4_bytes_that_are_not_the_claimed_image_are_refused(db_url: str, name: str) -> None:
    kind, data = POLYGLOTS[name]
    with running_api(db_url) as api, api.client(OWNER) as http:
        body = {**drawing_json("poly_user", 1), "signature": data_url(kind, data)}
        refused = assert_refused(
            http.post("/api/save-drawing", json=body), 422, "validation_error", "signature"
        )
        assert f"says image/{kind}" in refused["error"]["message"]


# ---------------------------------------------------------------- 5. storage per address


def test_5_sessions_and_bytes_per_address_are_bounded(db_url: str, db: psycopg.Connection) -> None:
    """The issue's client: 40 first steps of ~1.4 MB each from one address, as fast as it can. With the
    defaults (30 sessions and 50 MB an hour per address) the rest are refused with 429, nothing of
    theirs is stored, and another address still enrolls."""
    big = data_url("png", png_bytes(590, 590, noise=True))  # 348,100 pixels, ~1.4 MB as a data URL
    assert 1_300_000 < len(big) < 1_500_000
    with running_api(db_url) as api, api.client(ATTACKER) as attacker, api.client(OWNER) as owner:
        answers = [
            attacker.post("/api/save-drawing", json={**drawing_json(f"filler{i}", 1), "signature": big})
            for i in range(40)
        ]
        statuses = [a.status_code for a in answers]
        assert set(statuses) == {200, 429} and statuses.index(429) == statuses.count(200)
        assert_rate_limited(answers[-1])
        stored = db.execute(
            "SELECT count(*) AS n, sum(length(signature_data)) AS size FROM temp_enrollment_steps"
        )
        row = stored.fetchone()
        assert row["n"] == statuses.count(200) <= 30 and row["size"] <= 50_000_000
        assert owner.post("/api/save-drawing", json=drawing_json("fine_user", 1)).status_code == 200


def test_5_the_upload_quota_counts_every_step(db_url: str) -> None:
    """Bytes stored per address an hour: here room for steps 1 and 2 and half of step 3."""
    sizes = [parse_drawing_step(sample_drawing("quota_user", n)).stored_size for n in (1, 2, 3)]
    quota = sizes[0] + sizes[1] + sizes[2] // 2
    with (
        running_api(db_url, rate_limits={"upload_bytes_per_hour": quota}) as api,
        api.client(ATTACKER) as http,
    ):
        first = http.post("/api/save-drawing", json=drawing_json("quota_user", 1))
        assert first.status_code == 200, first.text
        session_id = first.json()["sessionId"]
        second = http.post("/api/save-drawing", json=drawing_json("quota_user", 2, session_id=session_id))
        assert second.status_code == 200, second.text
        third = http.post("/api/save-drawing", json=drawing_json("quota_user", 3, session_id=session_id))
        assert "too much drawing data" in assert_rate_limited(third)["error"]["message"]
        assert api.service.get_progress(session_id).completed_steps == 2


# ---------------------------------------------------------------- 6. numbers beyond the column


def test_6_a_step_beyond_the_column_is_422_and_the_connection_stays_usable(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with running_api(db_url) as api, api.client(OWNER) as http:
        session_id = http.post("/api/save-drawing", json=drawing_json("big_step", 1)).json()["sessionId"]
        for step in (2**31, 2**40, 2**63, 2**64, -(2**63) - 1, 10**30):
            body = {**drawing_json("big_step", 2, session_id=session_id), "step": step}
            answer = http.post("/api/save-drawing", json=body)
            assert_refused(answer, 422, "validation_error", "step")
            # The next request on the same connection is answered normally.
            assert http.post("/api/check-username", json={"username": "big_step"}).status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]


# ---------------------------------------------------------------- 7. client text stored as sent


def test_7_client_text_is_stored_exactly_as_sent(db_url: str, db: psycopg.Connection) -> None:
    instruction = "![x](http://attacker.example/pixel.png) **Sign** <img src=x onerror=alert(1)>"
    agent = "Mozilla/5.0 ![ua](http://attacker.example/ua.png) [link](javascript:alert(1))"
    with running_api(db_url) as api, api.client(OWNER, **{"User-Agent": agent}) as http:
        body = {**drawing_json("text_user", 1), "instruction": instruction}
        assert http.post("/api/save-drawing", json=body).status_code == 200
    row = db.execute(
        "SELECT e.device_info, s.instruction FROM temp_enrollments e JOIN temp_enrollment_steps s"
        " ON s.enrollment_id = e.id"
    ).fetchone()
    assert row == {"device_info": agent, "instruction": instruction}


# ---------------------------------------------------------------- 8. the design note's client


def test_8_without_flow_type_a_registered_name_signs_in_and_a_new_one_signs_up(db_url: str) -> None:
    with running_api(db_url) as api, api.client(OWNER) as http:
        register_user(api.service, "seed_sam")
        body = drawing_json("seed_sam", 1, flow_type="signin", sample=50)
        del body["flowType"]  # exactly the design note's fields
        started = http.post("/api/save-drawing", json=body)
        assert started.status_code == 200, started.text
        assert started.json()["progress"]["total_steps"] == 1
        verdict = login(http, "seed_sam", started.json()["sessionId"])
        assert verdict.status_code == 200 and verdict.json()["accepted"] is True

        new = drawing_json("seed_newcomer", 1)
        del new["flowType"]
        signup = http.post("/api/save-drawing", json=new)
        assert signup.status_code == 200 and signup.json()["progress"]["total_steps"] == 11


# ---------------------------------------------------------------- 9. another writer's plain INSERT


def test_9_a_writer_using_the_design_notes_columns_only(db_url: str, db: psycopg.Connection) -> None:
    """Another writer starts a session and saves its first step with the note's columns only (no
    content_hash, no step_count); the API then treats a re-send of that step as a retry and continues."""
    first = sample_drawing("other_writer", 1)
    session_id = "sess_" + "W" * 32
    enrollment = db.execute(
        "INSERT INTO temp_enrollments (session_id, username, flow_type, status, device_info, metadata)"
        " VALUES (%s, 'other_writer', 'signup', 'in_progress', 'kiosk', '{}') RETURNING id",
        (session_id,),
    ).fetchone()
    db.execute(
        "INSERT INTO temp_enrollment_steps (enrollment_id, step_number, step_type, instruction,"
        " signature_data, raw_data, metrics) VALUES (%s, 1, %s, %s, %s, %s, %s)",
        (
            enrollment["id"],
            first.type,
            first.instruction,
            first.signature,
            Jsonb(first.raw),
            Jsonb(first.metrics),
        ),
    )
    stored = db.execute("SELECT content_hash FROM temp_enrollment_steps").fetchone()["content_hash"]
    assert len(stored) == 64 and int(stored, 16) >= 0
    with running_api(db_url) as api, api.client(OWNER) as http:
        again = http.post("/api/save-drawing", json=drawing_json("other_writer", 1, session_id=session_id))
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
        second = http.post("/api/save-drawing", json=drawing_json("other_writer", 2, session_id=session_id))
        assert second.status_code == 200 and second.json()["progress"]["completed_steps"] == 2


# ---------------------------------------------------------------- 10. the smaller findings


def test_10_a_retry_on_an_expired_session_is_410(db_url: str, db: psycopg.Connection) -> None:
    with running_api(db_url) as api, api.client(OWNER) as http:
        first = http.post("/api/save-drawing", json=drawing_json("late_lucy", 1)).json()["sessionId"]
        second = drawing_json("late_lucy", 2, session_id=first)
        assert http.post("/api/save-drawing", json=second).status_code == 200
        expire(db, first)
        retry = http.post("/api/save-drawing", json=second)
        assert_refused(retry, 410, "session_expired", "sessionId")


def raw_http(url: str, request: bytes, read_timeout: float = 10) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_10_a_malformed_content_length_gets_the_json_error(db_url: str) -> None:
    with running_api(db_url) as api:
        for value in (b"abc", b"-5", b"1e3", b"12, 13"):
            answer = raw_http(
                api.url,
                b"POST /api/check-username HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + value + b"\r\n\r\n{}",
            )
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), answer
            assert b"content-type: application/json" in head.lower() and b"nosniff" in head
            assert b'"code":"bad_request"' in body


def test_10_every_answer_says_nosniff_and_no_store(db_url: str) -> None:
    with running_api(db_url, rate_limits={"lookups_per_hour": 1}) as api, api.client(OWNER) as http:
        answers = [
            http.post("/api/check-username", json={"username": "header_hal"}),  # 200
            http.post("/api/check-username", json={"username": "header_hal"}),  # 429
            http.get("/healthz"),
            http.get("/api/nothing"),  # 404
            http.get("/api/save-drawing"),  # 405
            http.post("/api/save-drawing", json={"step": "1"}),  # 422
            http.post("/api/save-drawing", content=b"x" * (4 * 1024 * 1024)),  # 413
            http.post("/api/save-drawing", content=b"{", headers={"Content-Type": "application/json"}),  # 400
        ]
    assert [a.status_code for a in answers] == [200, 429, 200, 404, 405, 422, 413, 400]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"


def test_10_slow_requests_are_cut_off_and_others_are_served(db_url: str) -> None:
    """300 connections each send their headers and then dribble the body, a byte every 0.3 s (the issue
    kept 300 such connections open for 25 s+). With a 2-second deadline every one gets 408 and is
    closed in about 2 s, while a normal request is answered meanwhile. A connection dribbling its
    headers, or sending nothing, is closed too."""
    deadline = 2.0
    with running_api(db_url, request_timeout=deadline) as api:
        host, port = api.url.removeprefix("http://").split(":")
        head = (
            b"POST /api/check-username HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        slow = [socket.create_connection((host, int(port))) for _ in range(300)]
        partial_headers = socket.create_connection((host, int(port)))
        silent = socket.create_connection((host, int(port)))
        started = time.monotonic()
        for sock in slow:
            sock.sendall(head)
        partial_headers.sendall(b"POST /api/check-username HTTP/1.1\r\nHost: te")
        answers: dict[int, bytes] = {}
        closed_after: dict[int, float] = {}

        def dribble_and_read(i: int, sock: socket.socket, dribble: bool = True) -> None:
            sock.settimeout(0.3)
            received = b""
            while time.monotonic() - started < 10 * deadline:
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    if not dribble:
                        continue
                    try:
                        sock.sendall(b" ")
                    except OSError:
                        break
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                received += chunk
            closed_after[i] = time.monotonic() - started
            answers[i] = received

        threads = [threading.Thread(target=dribble_and_read, args=(i, s)) for i, s in enumerate(slow)]
        threads += [
            threading.Thread(target=dribble_and_read, args=(300, partial_headers)),
            threading.Thread(target=dribble_and_read, args=(301, silent, False)),
        ]
        for t in threads:
            t.start()
        with api.client(OWNER) as http:
            served = http.post("/api/check-username", json={"username": "patient_pat"})
        for t in threads:
            t.join()
        for sock in [*slow, partial_headers, silent]:
            sock.close()
    assert served.status_code == 200
    assert max(closed_after.values()) < deadline + 3, sorted(closed_after.values())[-5:]
    for i in range(301):  # the slow bodies and the slow headers: a 408 in the API's shape
        assert answers[i].startswith(b"HTTP/1.1 408"), answers[i][:200]
        assert b'"code":"request_timeout"' in answers[i]
    assert answers[301] == b""  # nothing was asked: closed without an answer


def test_10_the_api_command_runs_the_guarded_protocol(db_url: str, tmp_path: Path) -> None:
    """`python -m api.serve` (what ./dev start runs), with two worker processes: its answers to a request
    uvicorn cannot parse are the API's JSON error with the security headers, and a request that stops
    half way gets 408 once the configured deadline has passed."""
    deadline = {"API_REQUEST_TIMEOUT_SECONDS": "1"}
    with serve_command(db_url, 2, tmp_path / "api.log", env=deadline) as (base_url, _):
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/check-username HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n{}")
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"x-content-type-options: nosniff" in answer.lower()
        assert b'"code":"bad_request"' in answer
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/check-username HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            started = time.monotonic()
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 0.5 < time.monotonic() - started < 5


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)

