"""Issue 24, items 1 and 5 (API half): device tokens and sessions bound to the secret their client holds.

The attacks run against `python -m api.serve` (what ./dev start runs) on a real PostgreSQL, with the
product's default limits; each client connects from its own loopback address (127.0.0.x), so the
server sees real, different peer addresses. The finer rules are tested on the service itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.api_server import serve_command
from dashboard import sign_in_blocks
from enrollment_core import device_tokens, errors
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.maintenance import forget_idle_abuse_counters
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import ClientInfo, EnrollmentService
from enrollment_core.staff import StaffActions
from enrollment_core.step_plan import total_steps
from tests.flows import draw_signin, draw_signup, drawing_json, service_on

OWNER_ADDRESS = "127.0.0.2"
FORGER_ADDRESSES = ("127.0.0.3", "127.0.0.4", "127.0.0.5")


@pytest.fixture(scope="module")
def api_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("device-tokens") / "api.log"


@contextmanager
def api_server(db_url: str, log_path: Path, **env: str) -> Iterator[str]:
    """`python -m api.serve` with one worker on this test's database, the product's defaults."""
    with serve_command(db_url, 1, log_path, env=env) as (base, _pid):
        yield base


def client_from(base: str, address: str) -> httpx.Client:
    """A client whose connections come from `address` (a loopback address of its own)."""
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=60)


def signup_over_http(http: httpx.Client, username: str, **extra: Any) -> httpx.Response:
    """Every signup step, then /register; `extra` goes into every body (e.g. deviceToken)."""
    first = http.post("/api/save-drawing", json={**drawing_json(username, 1), **extra})
    assert first.status_code == 200, first.text
    session_id = first.json()["sessionId"]
    for step in range(2, total_steps("signup") + 1):
        body = {**drawing_json(username, step, session_id=session_id), **extra}
        saved = http.post("/api/save-drawing", json=body)
        assert saved.status_code == 200, saved.text
    return http.post("/register", json={"username": username, "sessionId": session_id, **extra})


def signin_over_http(http: httpx.Client, username: str, *, forger: bool = False, sample: int = 50,
                     **extra: Any) -> httpx.Response:  # fmt: skip
    """One sign-in: its drawing (a forger's, or the owner's genuine one), then /login."""
    person = "mallory" if forger else None
    body = {**drawing_json(username, 1, flow_type="signin", person=person, sample=sample), **extra}
    started = http.post("/api/save-drawing", json=body)
    assert started.status_code == 200, started.text
    completion = {"username": username, "sessionId": started.json()["sessionId"], **extra}
    return http.post("/login", json=completion)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# ---------------------------------------------------------------- against python -m api.serve


def test_forgeries_from_three_addresses_never_stop_the_owner_holding_a_token(
    db_url: str, db: psycopg.Connection, api_log: Path
) -> None:
    """12 forged sign-ins from 3 addresses spend the account's allowance of rejections (10 an hour):
    the last two, and the owner without a token, are slowed (429 with Retry-After, never locked). The
    owner with the token from /register signs in at once, even from a forger's address, and keeps it."""
    with api_server(db_url, api_log) as base:
        with client_from(base, OWNER_ADDRESS) as owner:
            registered = signup_over_http(owner, "olivia")
            assert registered.status_code == 201, registered.text
            token = registered.json()["deviceToken"]
            assert isinstance(token, str) and len(token) >= 43  # 256 bits, URL-safe base64
        statuses = []
        for n in range(12):
            with client_from(base, FORGER_ADDRESSES[n % 3]) as forger:
                statuses.append(signin_over_http(forger, "olivia", forger=True, sample=n).status_code)
        assert statuses == [401] * 10 + [429] * 2
        with client_from(base, OWNER_ADDRESS) as owner:
            slowed = signin_over_http(owner, "olivia")
            assert slowed.status_code == 429 and error_code(slowed) == "rate_limited", slowed.text
            assert "slowed down" in slowed.json()["error"]["message"]
            assert 300 <= int(slowed.headers["Retry-After"]) <= 360  # one of 10 rejections an hour
            accepted = signin_over_http(owner, "olivia", deviceToken=token, sample=51)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["accepted"] is True and accepted.json()["deviceToken"] == token
        # From a forger's own address too: the token, not the address, decides.
        with client_from(base, FORGER_ADDRESSES[0]) as shared_network:
            again = signin_over_http(shared_network, "olivia", deviceToken=token, sample=52)
            assert again.status_code == 200, again.text
    recorded = db.execute(
        "SELECT count(*) FILTER (WHERE device_token_id IS NOT NULL) AS known, count(*) AS all"
        " FROM login_attempts"
    ).fetchone()
    assert recorded == {"known": 2, "all": 12}  # 10 forgeries verified, the owner twice
    # Only the token's hash is stored, nowhere the token itself.
    stored = db.execute("SELECT token_hash FROM device_tokens").fetchall()
    assert [bytes(r["token_hash"]) for r in stored] == [device_tokens.secret_hash(token)]


def test_a_session_started_with_a_device_token_continues_only_with_it(db_url: str, api_log: Path) -> None:
    """The leaked-link attack: with the session id and the username but not the deviceToken, nothing
    can be saved, registered or signed in (409 session_elsewhere); with it, everything goes on."""
    secret = secrets.token_urlsafe(32)
    with api_server(db_url, api_log) as base, client_from(base, OWNER_ADDRESS) as owner, \
            client_from(base, FORGER_ADDRESSES[0]) as thief:  # fmt: skip
        first = owner.post("/api/save-drawing", json={**drawing_json("vera", 1), "deviceToken": secret})
        session_id = first.json()["sessionId"]
        stolen = drawing_json("vera", 2, session_id=session_id, person="mallory")
        for body in (stolen, {**stolen, "deviceToken": secrets.token_urlsafe(32)}):
            refused = thief.post("/api/save-drawing", json=body)
            assert (refused.status_code, error_code(refused)) == (409, "session_elsewhere"), refused.text
            assert refused.json()["error"]["field"] == "sessionId"
        for step in range(2, total_steps("signup") + 1):
            body = {**drawing_json("vera", step, session_id=session_id), "deviceToken": secret}
            assert owner.post("/api/save-drawing", json=body).status_code == 200
        completion = {"username": "vera", "sessionId": session_id}
        refused = thief.post("/register", json=completion)
        assert (refused.status_code, error_code(refused)) == (409, "session_elsewhere")
        registered = owner.post("/register", json={**completion, "deviceToken": secret})
        assert registered.status_code == 201, registered.text
        # A retry gets the same answer, token included (derived, never stored).
        again = owner.post("/register", json={**completion, "deviceToken": secret})
        assert (again.status_code, again.content) == (201, registered.content)
        token = registered.json()["deviceToken"]

        signin = owner.post(
            "/api/save-drawing",
            json={**drawing_json("vera", 1, flow_type="signin", sample=50), "deviceToken": token},
        )
        signin_completion = {"username": "vera", "sessionId": signin.json()["sessionId"]}
        refused = thief.post("/login", json=signin_completion)
        assert (refused.status_code, error_code(refused)) == (409, "session_elsewhere")
        accepted = owner.post("/login", json={**signin_completion, "deviceToken": token})
        assert accepted.status_code == 200 and accepted.json()["deviceToken"] == token
        # An unbound session (the design note's client) behaves as before: anyone with the id goes on.
        plain = owner.post("/api/save-drawing", json=drawing_json("walt", 1)).json()["sessionId"]
        assert (
            thief.post("/api/save-drawing", json=drawing_json("walt", 2, session_id=plain)).status_code == 200
        )
        bad = owner.post("/api/save-drawing", json={**drawing_json("xena", 1), "deviceToken": "short"})
        assert (bad.status_code, error_code(bad), bad.json()["error"]["field"]) == (
            422, "validation_error", "deviceToken"
        )  # fmt: skip


def test_a_stolen_token_meets_its_own_limit_and_staff_can_revoke_one(
    db_url: str, db: psycopg.Connection, api_log: Path
) -> None:
    """A stolen token gives 5 guesses (LOGIN_MAX_FAILURES rejections in a row), then it is revoked and
    its holder is an unknown device again. The owner signs in as an unknown device and gets a new
    token; staff revoke that one from the dashboard, and it no longer lifts the address's lock."""
    with api_server(db_url, api_log) as base:
        with client_from(base, OWNER_ADDRESS) as owner:
            token = signup_over_http(owner, "sam").json()["deviceToken"]
        with client_from(base, FORGER_ADDRESSES[0]) as thief:
            answers = [
                signin_over_http(thief, "sam", forger=True, sample=n, deviceToken=token) for n in range(6)
            ]
            assert [a.status_code for a in answers] == [401] * 6
            verdicts = [a.json()["login"] for a in answers]
            assert [v["failuresLeft"] for v in verdicts[:5]] == [4, 3, 2, 1, 0]
            assert "no longer remembered" in verdicts[4]["reason"]
            # The sixth came as an unknown device: its address's count starts (5 before the lock).
            assert verdicts[5]["failuresLeft"] == 4 and verdicts[5]["deviceToken"] is None
        with client_from(base, OWNER_ADDRESS) as owner:
            stale = signin_over_http(owner, "sam", deviceToken=token)
            assert stale.status_code == 200 and stale.json()["deviceToken"] != token
            new_token = stale.json()["deviceToken"]
        with client_from(base, FORGER_ADDRESSES[1]) as other:
            for n in range(5):
                assert signin_over_http(other, "sam", forger=True, sample=10 + n).status_code == 401
            locked = signin_over_http(other, "sam", forger=True, sample=20)
            assert locked.status_code == 423
            # The start screen tells the locked address so, but not the owner's device on it.
            told = other.post("/api/check-user-exists", json={"username": "sam"}).json()
            assert told["code"] == "account_locked" and told["lockedUntil"]
            told = other.post(
                "/api/check-user-exists", json={"username": "sam", "deviceToken": new_token}
            ).json()
            assert (told["exists"], told["code"], told["lockedUntil"]) == (True, None, None)
            # The owner's new token opens it from that very address ...
            assert signin_over_http(other, "sam", deviceToken=new_token, sample=51).status_code == 200
            with service_on(db_url, Settings(database_url=db_url, pool_max_size=2)) as service:
                listed = device_tokens.tokens_for_user(service.pool, "sam")
                assert [(t.live, t.revoked_reason) for t in listed] == [(True, None), (False, "failures")]
                assert StaffActions(service, "Rita Staff").revoke_device_token("sam", listed[0].id) == 1
            # ... until staff revoke it: then it is an unknown device from a locked address.
            assert signin_over_http(other, "sam", deviceToken=new_token, sample=52).status_code == 423
    logged = db.execute("SELECT staff_name, action, target, succeeded, result FROM staff_actions").fetchall()
    assert logged == [
        {"staff_name": "Rita Staff", "action": "revoke_device_token", "target": "sam", "succeeded": True,
         "result": {"username": "sam", "token_id": listed[0].id, "revoked": 1}}
    ]  # fmt: skip


# ---------------------------------------------------------------- the rules, on the service


@pytest.fixture
def limited(db_url: str) -> Iterator[EnrollmentService]:
    """The product's default limits (the `service` fixture turns them off)."""
    settings = Settings(
        database_url=db_url, pool_min_size=1, pool_max_size=4, rate_limits=RateLimitSettings()
    )
    with service_on(db_url, settings, name="tokens") as service:
        yield service


def register(service: EnrollmentService, username: str, client: ClientInfo | None = None) -> str:
    registration = service.register(username, draw_signup(service, username), client=client)
    assert registration.device_token is not None
    return registration.device_token


def test_retries_answer_the_same_token_and_only_its_hash_is_stored(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    session_id = draw_signup(service, "tina")
    first = service.register("tina", session_id)
    assert first.device_token and first.device_token not in repr(first)
    assert service.register("tina", session_id).device_token == first.device_token
    signin = draw_signin(service, "tina")
    accepted = service.login("tina", signin)
    assert accepted.accepted and accepted.device_token not in (None, first.device_token)
    assert service.login("tina", signin) == accepted  # the retry: the same verdict and token
    assert not accepted.known_device
    known = service.login("tina", draw_signin(service, "tina", sample=51),
                          client=ClientInfo(device_token=first.device_token))  # fmt: skip
    assert known.known_device and known.device_token == first.device_token
    rows = db.execute("SELECT token_hash, session_id FROM device_tokens ORDER BY id").fetchall()
    assert [bytes(r["token_hash"]) for r in rows] == [
        device_tokens.secret_hash(first.device_token), device_tokens.secret_hash(str(accepted.device_token))
    ]  # fmt: skip
    dump = str(db.execute("SELECT * FROM device_tokens, login_attempts, temp_enrollments").fetchall())
    assert first.device_token not in dump and str(accepted.device_token) not in dump


def test_a_known_device_ignores_the_address_lock_and_the_slowdown(limited: EnrollmentService) -> None:
    token = register(limited, "uma")
    forger = ClientInfo(ip="203.0.113.9")
    for n in range(5):
        assert not limited.login(
            "uma", draw_signin(limited, "uma", person="eve", sample=n), client=forger
        ).accepted
    with pytest.raises(errors.AccountLocked):
        limited.login("uma", draw_signin(limited, "uma", sample=50), client=forger)
    # The owner, from the same (locked) address, with the token: nothing stops it, nothing is said.
    same_network = ClientInfo(ip="203.0.113.9", device_token=token)
    check = limited.check_user_exists("uma", same_network)
    assert check.ok and check.locked_until is None
    assert limited.check_user_exists("uma", forger).locked_until is not None
    accepted = limited.login("uma", draw_signin(limited, "uma", sample=51), client=same_network)
    assert accepted.accepted and accepted.known_device and accepted.device_token == token
    # ... and the forger's address stays locked.
    with pytest.raises(errors.AccountLocked):
        limited.login("uma", draw_signin(limited, "uma", sample=52), client=forger)


def test_a_known_device_has_its_own_sign_in_limit(db_url: str) -> None:
    settings = Settings(database_url=db_url, rate_limits=replace(RateLimitSettings.off(), signins_per_hour=2))
    with service_on(db_url, settings) as service:
        token = register(service, "vic")
        holder = ClientInfo(ip="198.51.100.1", device_token=token)
        for sample in (50, 51):
            assert service.login("vic", draw_signin(service, "vic", sample=sample), client=holder).accepted
        with pytest.raises(errors.RateLimited) as refused:
            service.login("vic", draw_signin(service, "vic", sample=52), client=holder)
        assert "from this device" in refused.value.message
        # Staff's "Refused now" names the person whose device it is.
        [row] = sign_in_blocks.refused_now(service.staff_reads(), datetime.now(UTC))
        assert (row.who, row.username) == ("vic", "vic") and "remembered device" in row.what
        # Its address's own allowance is untouched: without the token it is an unknown device, let in.
        elsewhere = ClientInfo(ip="198.51.100.1")
        assert service.login("vic", draw_signin(service, "vic", sample=53), client=elsewhere).accepted


def test_tokens_expire_are_bounded_per_account_and_old_ones_are_forgotten(
    service: EnrollmentService, db: psycopg.Connection
) -> None:
    token = register(service, "wes")
    db.execute("UPDATE device_tokens SET expires_at = NOW() - interval '1 minute'")
    expired = service.login("wes", draw_signin(service, "wes"), client=ClientInfo(device_token=token))
    assert expired.accepted and not expired.known_device and expired.device_token != token
    for sample in range(device_tokens.MAX_LIVE_TOKENS_PER_ACCOUNT + 2):
        assert service.login("wes", draw_signin(service, "wes", sample=60 + sample)).accepted
    live = db.execute("SELECT count(*) AS n FROM device_tokens WHERE revoked_at IS NULL").fetchone()
    assert live == {"n": device_tokens.MAX_LIVE_TOKENS_PER_ACCOUNT}
    db.execute(
        "UPDATE device_tokens SET revoked_at = NOW() - interval '31 days' WHERE revoked_at IS NOT NULL"
    )
    before = db.execute("SELECT count(*) AS n FROM device_tokens").fetchone()["n"]
    assert forget_idle_abuse_counters(service.pool, 900) >= before - device_tokens.MAX_LIVE_TOKENS_PER_ACCOUNT
    assert db.execute("SELECT count(*) AS n FROM device_tokens").fetchone() == {
        "n": device_tokens.MAX_LIVE_TOKENS_PER_ACCOUNT
    }


def test_a_session_bound_in_one_browser_says_so_in_another(service: EnrollmentService) -> None:
    """What the app needs: its per-browser secret binds the session; a link opened elsewhere is told
    (SessionElsewhere) wherever it turns; the browser that started it goes on."""
    here = ClientInfo(session_secret=secrets.token_urlsafe(32))
    elsewhere = ClientInfo(session_secret=secrets.token_urlsafe(32))
    session_id = service.save_drawing(sample_drawing("yara", 1), here).session_id
    assert service.get_session(session_id).bound
    for client in (elsewhere, ClientInfo()):
        with pytest.raises(errors.SessionElsewhere):
            service.get_live_session(session_id, client)
        with pytest.raises(errors.SessionElsewhere):
            service.save_drawing(sample_drawing("yara", 2, session_id=session_id), client)
        # The first step sent again from elsewhere does not hand out the session either.
        with pytest.raises(errors.SessionElsewhere):
            service.save_drawing(sample_drawing("yara", 1), client)
    assert service.get_live_session(session_id, here)[1].completed_steps == 1
    assert service.save_drawing(sample_drawing("yara", 1), here).duplicate  # its own retry is fine
    for step in range(2, total_steps("signup") + 1):
        service.save_drawing(sample_drawing("yara", step, session_id=session_id), here)
    with pytest.raises(errors.SessionElsewhere):
        service.register("yara", session_id, client=elsewhere)
    assert service.register("yara", session_id, client=here).drawings_copied == total_steps("signup")
    signin = service.save_drawing(sample_drawing("yara", 1, flow_type="signin", sample=50), here).session_id
    with pytest.raises(errors.SessionElsewhere):
        service.login("yara", signin, client=elsewhere)
    verdict = service.login("yara", signin, client=here)
    with pytest.raises(errors.SessionElsewhere):
        service.get_login_result(signin, elsewhere)
    assert service.get_login_result(signin, here) == verdict
    with pytest.raises(errors.ValidationError) as bad:
        service.save_drawing(sample_drawing("zoe", 1), ClientInfo(session_secret="x" * 10))
    assert bad.value.field == "session_secret"


def test_a_known_device_is_not_refused_by_what_its_network_spent(db_url: str) -> None:
    """Someone on the owner's network (the same address) spends its look-ups and sign-in starts: the
    owner's device with its token still checks the name, draws and signs in; without it, 429."""
    limits = replace(RateLimitSettings(), lookups_per_hour=2, sessions_per_hour=2)
    settings = Settings(database_url=db_url, rate_limits=limits)
    with service_on(db_url, settings) as service:
        token = register(service, "xavi")
        neighbour = ClientInfo(ip="192.0.2.44")
        for sample in range(2):
            assert service.check_user_exists("xavi", neighbour).ok
            service.save_drawing(
                sample_drawing("xavi", 1, flow_type="signin", person="eve", sample=sample), neighbour
            )
        with pytest.raises(errors.RateLimited):
            service.check_user_exists("xavi", neighbour)
        with pytest.raises(errors.RateLimited):
            service.save_drawing(sample_drawing("xavi", 1, flow_type="signin", sample=50), neighbour)
        owner = ClientInfo(ip="192.0.2.44", device_token=token, session_secret=token)
        assert service.check_user_exists("xavi", owner).ok
        signin = service.save_drawing(sample_drawing("xavi", 1, flow_type="signin", sample=50), owner)
        assert service.login("xavi", signin.session_id, client=owner).accepted
        # A token of another account, or none valid, is charged on the address as before.
        stranger = ClientInfo(ip="192.0.2.44", device_token=secrets.token_urlsafe(32))
        with pytest.raises(errors.RateLimited):
            service.check_user_exists("xavi", stranger)
