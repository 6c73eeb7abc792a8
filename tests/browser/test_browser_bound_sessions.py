"""The enrollment app's side of device tokens and browser-bound sessions (issue 24, items 1, 2 and 5), in
a real headless Chromium against `streamlit run` and PostgreSQL:

- a signup started in one browser is bound to that browser's own secret (its localStorage, never the
  URL): the link opened in another browser explains where to continue and saves nothing; the first
  browser continues after a reload and creates the account, and keeps the account's device token;
- twelve forged sign-ins from three addresses slow the account down, and then the owner signs in from
  that browser (the token is sent): verified as the known device, not slowed; from a browser without
  the token the owner is slowed, in
  plain words;
- the app on localhost has no network address: what it saves and the locks it counts are this browser's
  ("browser <hash>"), not one "unknown" shared by everyone.
Screenshots in artifacts/enrollment/ (look at them)."""

from __future__ import annotations

import re

import psycopg
import pytest

from enrollment_app.browser import SECRET, TOKEN_PREFIX
from enrollment_core import errors
from enrollment_core.config import Settings
from enrollment_core.service import ClientInfo
from tests.browser.test_enrollment_app_browser import (
    SIGNUP_STEPS,
    WAIT_MS,
    begin,
    desktop,
    draw,
    enroll_steps,
    expect,
    mouse_stroker,
    open_page,
    phone,
    press,
    screenshot,
    signature,
    wait_for_signin,
    wait_for_step,
)
from tests.browser.test_enrollment_app_browser import (
    app_db as app_db,  # noqa: F401 - the fixtures
)
from tests.browser.test_enrollment_app_browser import (
    app_url as app_url,  # noqa: F401
)
from tests.browser.test_enrollment_app_browser import (
    db as db,  # noqa: F401
)
from tests.flows import draw_signin, service_on

pytestmark = pytest.mark.browser

OWNER = "bea_bound"
FORGERS = ("203.0.113.11", "203.0.113.12", "203.0.113.13")


def kept(page) -> dict[str, str]:
    """This browser's localStorage entries of the app."""
    return page.evaluate(
        "() => Object.fromEntries(Object.entries(localStorage).filter(([k]) => k.startsWith('signature-')))"
    )


def test_a_session_continues_only_in_its_browser_and_its_device_token_outlasts_forgeries(
    browser, app_url: str, app_db: str, db: psycopg.Connection  # noqa: F811
) -> None:
    context = desktop(browser)
    page, page_errors = open_page(context)
    mouse = mouse_stroker(context, page)
    try:
        begin(page, app_url, "Create account", OWNER, touch=False)
        enroll_steps(page, mouse, OWNER, range(1, 3), touch=False)
        wait_for_step(page, 3)
        secret = kept(page)[SECRET]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret) and secret not in page.url
        session_id = page.url.split("session=")[1]
        bound = db.execute(
            "SELECT client_secret_hash IS NOT NULL AS bound, metadata FROM temp_enrollments"
            " WHERE session_id = %s",
            (session_id,),
        ).fetchone()
        assert bound["bound"]
        # No network address on localhost: the browser is what limits and locks count.
        assert re.fullmatch(r"browser [0-9a-f]{16}", bound["metadata"]["ip"]), bound

        # The link opened in another browser (a phone's): it says where to continue, and saves nothing.
        other = phone(browser, 390)
        try:
            stranger, stranger_errors = open_page(other)
            stranger.goto(page.url)
            expect(stranger.get_by_role("heading", name="This enrollment continues where you started it")
                   ).to_be_visible(timeout=WAIT_MS)  # fmt: skip
            expect(stranger.get_by_text("open this link on the phone or computer")).to_be_visible()
            expect(stranger.locator("canvas.upper-canvas")).to_have_count(0)
            screenshot(stranger, "bound_elsewhere_390")
            assert stranger_errors == []
        finally:
            other.close()

        # The browser that started it continues after a reload, and creates the account.
        page.reload()
        wait_for_step(page, 3)
        enroll_steps(page, mouse, OWNER, range(3, SIGNUP_STEPS + 1), touch=False)
        expect(page.get_by_role("heading", name="Account created")).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function(
            f"() => localStorage.getItem({(TOKEN_PREFIX + OWNER)!r}) !== null", timeout=WAIT_MS
        )
        token = kept(page)[TOKEN_PREFIX + OWNER]
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,256}", token)
        tokens = db.execute(
            "SELECT count(*) AS n FROM device_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE u.username = %s",
            (OWNER,),
        ).fetchone()
        assert tokens["n"] == 1

        # Twelve forged sign-ins from three addresses: the account's allowance is spent.
        with service_on(app_db, Settings(database_url=app_db), name="forgers") as forgers:
            refused = 0
            for n in range(12):
                forged = draw_signin(forgers, OWNER, person="mallory", sample=60 + n)
                try:
                    forgers.login(OWNER, forged, client=ClientInfo("forger", FORGERS[n % 3]))
                except (errors.RateLimited, errors.AccountLocked):
                    refused += 1
            assert refused >= 2  # the 11th and 12th at least: the account is slowed

        # The owner, from the browser that keeps the token: not slowed or refused by the forgeries, and
        # verified as the known device. (Whether a signature drawn by the test's synthetic hand is
        # accepted depends on how its strokes were timed on a loaded machine; the acceptance of the owner
        # with the token is asserted through the API in tests/test_device_tokens.py.)
        press(page, "Sign in now", touch=False)
        wait_for_signin(page, OWNER)
        # (Sample 23: its shape is far enough from the enrolled ones that the steady test clock's timing
        # does not make it look like a replay of them.)
        draw(page, mouse, signature(OWNER, 23))
        press(page, "Sign", touch=False)
        verdict = page.get_by_role("heading", name="Signed in").or_(
            page.get_by_role("heading", name="Sign-in rejected")
        )
        try:
            expect(verdict).to_be_visible(timeout=WAIT_MS)
        except AssertionError:
            screenshot(page, "owner_with_token_not_verified")
            raise
        assert page_errors == []
        attempt = db.execute(
            "SELECT a.accepted, a.device_token_id, a.ip FROM login_attempts a"
            " JOIN users u ON u.id = a.user_id"
            " WHERE u.username = %s AND a.ip = %s ORDER BY a.id DESC LIMIT 1",
            (OWNER, bound["metadata"]["ip"]),
        ).fetchone()
        assert attempt is not None and attempt["device_token_id"] is not None  # it came as the known device
        assert attempt["ip"] == bound["metadata"]["ip"]  # the same browser, counted as itself
    finally:
        context.close()

    # The owner from a browser without the token: an unknown device, slowed as documented.
    elsewhere = desktop(browser)
    try:
        page, page_errors = open_page(elsewhere)
        begin(page, app_url, "Sign in", OWNER, touch=False)
        wait_for_signin(page, OWNER)
        draw(page, mouse_stroker(elsewhere, page), signature(OWNER, 22))
        press(page, "Sign", touch=False)
        expect(page.get_by_role("heading", name="Please wait a moment")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("its sign-ins are slowed down")).to_be_visible()
        screenshot(page, "signin_slowed_without_token")
        assert page_errors == []
    finally:
        elsewhere.close()
