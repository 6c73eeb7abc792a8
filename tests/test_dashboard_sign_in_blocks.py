"""People page: what stops a person from signing in, in words, and the staff actions that lift it
(Streamlit AppTest on a real database, with the real service making the locks and limits): a lock of
one address after forged sign-ins, an address refused by the sign-in rate limit, an account slowed by
rejected sign-ins from many addresses. Each action asks for confirmation first, then writes the staff
log (who, what, on what) and lets the person sign in again from there; the staff log says it in words.
Text a client sent stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pandas as pd
import psycopg
import pytest

from dashboard import data
from enrollment_core import errors
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import DemoSignIns, seed_demo_data, seed_demo_sign_ins
from enrollment_core.service import ClientInfo, EnrollmentService
from tests.flows import draw_signin, register_user
from tests.test_dashboard_app import HOSTILE, click, signed_in_app

FORGER = ClientInfo("Pixel Chrome", "203.0.113.5")
OWNER = ClientInfo("iPhone Safari", "198.51.100.7")


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The dashboard reads this test's database with the default lock settings (5 in a row, 15 min)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DASHBOARD_BACKGROUND_CLEANUP", "0")
    for name in ("LOGIN_MAX_FAILURES", "LOGIN_LOCK_SECONDS", "RATE_LIMIT_SIGNINS_PER_HOUR"):
        monkeypatch.delenv(name, raising=False)
    data.close_service()
    yield db_url
    data.close_service()


@pytest.fixture
def real(db_url: str) -> Iterator[EnrollmentService]:
    """The service with the product's default limits and lock settings."""
    settings = Settings(database_url=db_url)
    with create_pool(db_url, settings, name="blocks") as pool:
        yield EnrollmentService(pool, settings)


def limited(service: EnrollmentService, **limits: int) -> EnrollmentService:
    """The same service on the same database with these rate limits (RateLimitSettings' fields), the
    others at their defaults."""
    return EnrollmentService(service.pool, replace(service.settings, rate_limits=RateLimitSettings(**limits)))


def forge(service: EnrollmentService, username: str, times: int, client: ClientInfo = FORGER) -> None:
    for sample in range(times):
        result = service.login(username, draw_signin(service, username, person="eve", sample=60 + sample),
                               client=client)  # fmt: skip
        assert not result.accepted


def staff_log(db: psycopg.Connection) -> list[dict]:
    return db.execute("SELECT staff_name, action, target, succeeded, result FROM staff_actions").fetchall()


def logged_on_screen(at) -> pd.DataFrame:
    """The staff log as the Maintenance page shows it (its last table)."""
    at.switch_page("app_pages/maintenance.py").run()
    return at.dataframe[-1].value


def texts(at) -> list[str]:
    return [*(w.value for w in at.warning), *(s.value for s in at.success), *(i.value for i in at.info)]


def find(at, username: str):
    at.text_input(key="person_search").input(username).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def test_a_locked_address_is_said_in_words_and_unlocked_after_confirmation(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_user(real, "alice")
    forge(real, "alice", 5)
    with pytest.raises(errors.AccountLocked):
        real.login("alice", draw_signin(real, "alice"), client=FORGER)
    at = find(signed_in_app(monkeypatch, "app_pages/people.py", staff_name="Dana Ops"), "ALICE")

    [lock] = [w.value for w in at.warning]
    assert lock.startswith("Locked out from 203\\.0\\.113\\.5 until ")
    assert "min left) after 5 rejected sign-ins in a row" in lock
    assert "Nothing stops" not in " ".join(texts(at))
    assert any("signin_failures" in t or "subject" in t for t in texts(at)) is False

    click(at, "Unlock 203\\.0\\.113\\.5…")
    question = at.warning[-1].value
    assert question.startswith("Unlock sign-in for **alice** from 203\\.0\\.113\\.5?")
    assert staff_log(db) == []  # nothing happens before the confirmation
    with pytest.raises(errors.AccountLocked):
        real.login("alice", draw_signin(real, "alice"), client=FORGER)

    at.button(key="confirm_sign_in_fix").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        "Unlocked sign-in for alice from 203\\.0\\.113\\.5.",
        "Nothing stops this person from signing in.",
    ]
    assert not at.warning  # the refreshed state: no lock left
    [row] = staff_log(db)
    assert row["staff_name"] == "Dana Ops" and row["action"] == "unlock_sign_in" and row["succeeded"]
    assert row["target"] == "alice from 203.0.113.5"
    assert row["result"] == {"username": "alice", "address": "203.0.113.5", "unlocked": 1}
    assert real.login("alice", draw_signin(real, "alice"), client=FORGER).accepted

    log = logged_on_screen(at)
    assert list(log["who"]) == ["Dana Ops"] and list(log["what"]) == ["Sign-in unlocked"]
    assert list(log["result"]) == ["Unlocked sign-in for alice from 203.0.113.5"]


def test_unlock_can_be_cancelled_and_every_address_unlocked_at_once(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More rejections than the account's allowance: the locks are what this test is about.
    real = limited(real, account_failures_per_hour=100)
    register_user(real, "bruno")
    forge(real, "bruno", 5)
    forge(real, "bruno", 5, ClientInfo("UA", "203.0.113.6"))
    forge(real, "bruno", 2, ClientInfo("UA", "2001:db8:1:2::7"))
    at = find(signed_in_app(monkeypatch, "app_pages/people.py"), "bruno")
    assert len(at.warning) == 2
    assert any("2 rejected sign-ins in a row" in c and "2001:db8:1:2::/64" in c.replace("\\", "")
               for c in (c.value for c in at.caption))  # fmt: skip

    click(at, "Unlock 203\\.0\\.113\\.5…")
    at.button(key="cancel_sign_in_fix").click().run()
    assert len(at.warning) == 2 and staff_log(db) == []

    click(at, "Unlock every address…")
    assert "from all 2 locked addresses (203\\.0\\.113\\.6, 203\\.0\\.113\\.5)" in at.warning[-1].value
    at.button(key="confirm_sign_in_fix").click().run()
    assert at.success[0].value == "Unlocked sign-in for bruno from every address."
    assert not at.warning and not at.caption[0].value.startswith("From ")
    [row] = staff_log(db)
    assert (row["target"], row["result"]) == ("bruno", {"username": "bruno", "address": None, "unlocked": 3})
    for sample, address in ((50, "203.0.113.5"), (51, "203.0.113.6")):
        signin = draw_signin(real, "bruno", sample=sample)  # each a new drawing: a repeat is a replay
        assert real.login("bruno", signin, client=ClientInfo("UA", address)).accepted


def test_an_address_refused_by_the_sign_in_limit_is_cleared_after_confirmation(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = limited(real, signins_per_hour=2)
    register_user(strict, "chloe")
    for sample in (50, 51):  # each a new drawing: a repeat is a replay
        assert strict.login("chloe", draw_signin(strict, "chloe", sample=sample), client=OWNER).accepted
    with pytest.raises(errors.RateLimited):
        strict.login("chloe", draw_signin(strict, "chloe", sample=52), client=OWNER)
    at = find(signed_in_app(monkeypatch, "app_pages/people.py", staff_name="Sam Support"), "chloe")

    [refused] = [w.value for w in at.warning]
    assert re.fullmatch(
        r"Address 198\\\.51\\\.100\\\.7 is refused: too many sign-in attempts from it\. Next try allowed at "
        # The dated form when the next try falls on the next day (a run in the half hour before midnight).
        r"(\d\d [A-Z][a-z]{2} )?\d\d:\d\d UTC \(\d+ min left\), whole again in (1 h 00|59) min\. "
        r"Everyone behind that address is "
        r"refused, not only this person\.",
        refused,
    ), refused
    click(at, "Clear block on 198\\.51\\.100\\.7…")
    assert at.warning[-1].value.startswith("Clear the sign-in limit for address 198\\.51\\.100\\.7?")
    assert staff_log(db) == []

    at.button(key="confirm_sign_in_fix").click().run()
    assert [s.value for s in at.success] == [
        "Cleared the sign-in limit for address 198\\.51\\.100\\.7.",
        "Nothing stops this person from signing in.",
    ]
    [row] = staff_log(db)
    assert (row["staff_name"], row["action"], row["target"]) == (
        "Sam Support",
        "clear_rate_limit",
        "address 198.51.100.7",
    )
    assert row["succeeded"] and row["result"] == {"limit": "signins", "cleared": 1}
    assert strict.login("chloe", draw_signin(strict, "chloe", sample=52), client=OWNER).accepted

    log = logged_on_screen(at)
    assert list(log["what"]) == ["Sign-in limit cleared"]
    assert list(log["result"]) == ["Cleared the sign-in limit for address 198.51.100.7"]


def test_an_account_slowed_by_rejections_from_many_addresses_is_cleared(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = limited(real, account_failures_per_hour=3)
    register_user(strict, "dmitri")
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        forge(strict, "dmitri", 1, ClientInfo("UA", address))
    with pytest.raises(errors.RateLimited):
        strict.login("dmitri", draw_signin(strict, "dmitri"), client=OWNER)
    at = find(signed_in_app(monkeypatch, "app_pages/people.py"), "dmitri")

    [slowed] = [w.value for w in at.warning]
    assert slowed.startswith("Sign-ins to this account are slowed until ")
    assert "(3 rejected sign-ins in the last hour from 3 addresses)" in slowed
    assert "The account is not locked." in slowed
    click(at, "Clear the slow-down…")
    at.button(key="confirm_sign_in_fix").click().run()
    assert at.success[0].value == "Cleared the limit on rejected sign-ins for account dmitri."
    [row] = staff_log(db)
    assert (row["target"], row["result"]) == ("account dmitri", {"limit": "signin_failures", "cleared": 1})
    assert strict.login("dmitri", draw_signin(strict, "dmitri"), client=OWNER).accepted


def test_a_person_nothing_stops_is_told_so(env: str, real: EnrollmentService, monkeypatch) -> None:
    register_user(real, "emma")
    assert real.login("emma", draw_signin(real, "emma"), client=OWNER).accepted
    forge(real, "emma", 1)
    at = find(signed_in_app(monkeypatch, "app_pages/people.py"), "emma")
    assert [s.value for s in at.success] == ["Nothing stops this person from signing in."]
    assert any(
        c.value.startswith("From 203\\.0\\.113\\.5: 1 rejected sign-in in a row; 5 in a row lock")
        for c in at.caption
    )
    assert not [b for b in at.button if b.key and b.key.startswith("sign_in_fix")]


def test_client_text_in_blocks_and_the_log_stays_text(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A username and an address are whatever a client (or a trusted proxy) sent: in Markdown only
    escaped, in the staff log's table cells as they are."""
    hostile = "".join(HOSTILE)
    register_user(real, "mallory_t")
    forge(real, "mallory_t", 5)
    db.execute("UPDATE users SET username = %s", (hostile,))
    db.execute("UPDATE temp_enrollments SET username = %s", (hostile,))
    db.execute("UPDATE sign_in_lockouts SET address = %s", (HOSTILE[1],))
    signup = db.execute("SELECT session_id FROM temp_enrollments WHERE flow_type = 'signup'").fetchone()
    at = signed_in_app(monkeypatch, "app_pages/people.py", staff_name=HOSTILE[0])
    find(at, signup["session_id"])
    assert len(at.warning) == 1
    [unlock] = [b for b in at.button if b.key == "sign_in_fix_0"]
    unlock.click().run()
    at.button(key="confirm_sign_in_fix").click().run()
    rendered = [*texts(at), *(c.value for c in at.caption), *(m.value for m in at.markdown)]
    rendered += [b.label for b in at.button]
    for payload in HOSTILE:
        assert not [text for text in rendered if payload in text or "http://" in text]
    [row] = staff_log(db)
    assert row["target"] == f"{hostile} from {HOSTILE[1]}" and row["result"]["unlocked"] == 1
    assert list(logged_on_screen(at)["result"]) == [f"Unlocked sign-in for {hostile} from {HOSTILE[1]}"]


def test_demo_sign_ins_give_every_verdict_and_a_locked_person(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """./dev start's demo data: real sign-ins (accepted, no match, a replay) and one user locked out of
    one address, which the People page shows."""
    summary = seed_demo_data(real.pool, sessions=40)
    assert len(summary.usernames) == summary.users >= 3
    made = seed_demo_sign_ins(real, summary.usernames)
    first, second, third = summary.usernames[:3]
    assert made == DemoSignIns(accepted=2, no_match=6, replays=1, locked=(third, "198.51.100.23"))
    attempts = db.execute(
        "SELECT u.username, a.reason_code, a.ip FROM login_attempts a JOIN users u ON u.id = a.user_id"
        " ORDER BY a.id"
    ).fetchall()
    assert [(a["username"], a["reason_code"]) for a in attempts] == [
        (first, "match"),
        (first, "replay"),
        (second, "match"),
        (second, "no_match"),
        *[(third, "no_match")] * 5,
    ]
    at = find(signed_in_app(monkeypatch, "app_pages/people.py"), third)
    [lock] = [w.value for w in at.warning]
    assert lock.startswith("Locked out from 198\\.51\\.100\\.23 until ")
    assert list(at.dataframe[0].value["reason"]) == ["Does not match"] * 5
    at = find(at, first)
    # The demo's replay sends its accepted sign-in's drawing again: staff see which check refused it.
    assert list(at.dataframe[0].value["reason"]) == ["Copy of a recent sign-in", "Matches"]


def test_everyone_refused_now_is_listed_before_any_search(
    env: str, db, real: EnrollmentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_app(monkeypatch, "app_pages/people.py")
    assert any(c.value.startswith("Nobody is refused now") for c in at.caption)
    strict = limited(real, signins_per_hour=1)
    register_user(strict, "farid")
    forge(strict, "farid", 1, ClientInfo("UA", "203.0.113.40"))  # its one sign-in this hour
    with pytest.raises(errors.RateLimited):
        strict.login("farid", draw_signin(strict, "farid"), client=ClientInfo("UA", "203.0.113.40"))
    register_user(real, "grace")
    forge(real, "grace", 5)
    at.run()
    refused = at.dataframe[0].value
    assert sorted(zip(refused["who"], refused["what"])) == [
        ("address 203.0.113.40", "Refused: too many sign-in attempts from it"),
        ("grace", "Locked out from 203.0.113.5 after 5 rejected sign-ins in a row"),
    ]
    assert all(left.endswith(" min left") for left in refused["left"])
    assert "Click a person to open them, or an address to clear its block." in [c.value for c in at.caption]
