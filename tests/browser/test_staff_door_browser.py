"""The staff door of the real dashboard (`streamlit run`, PostgreSQL, headless Chromium), behind a trusted
reverse proxy (FORWARDED_ALLOW_IPS=127.0.0.1; the proxy's X-Forwarded-For is played by the browser's extra
header): ten wrong passwords from one address, then that address is refused in plain words while another
signs in; the wrong passwords are in the staff log with their address; a reload keeps staff signed in (the
signed cookie), Sign out ends it for good. Screenshots in artifacts/ (look at them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.browser.test_dashboard_browser import ARTIFACTS, Watched, open_page, wait_until_idle  # noqa: F401 - the fixture
from tests.browser.test_dashboard_browser import browser as browser
from tests.streamlit_server import streamlit_app

pytestmark = pytest.mark.browser

PASSWORD = "door-test-password"
FORGER = "203.0.113.50"
OFFICE = "198.51.100.20"


@pytest.fixture
def dashboard_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DASHBOARD_PASSWORD": PASSWORD,
        "DASHBOARD_BACKGROUND_CLEANUP": "0",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the test's browser plays the proxy on this machine
    }
    with streamlit_app("dashboard/app.py", env, tmp_path / "streamlit.log") as url:
        yield url


def from_address(browser, address: str, width: int) -> Watched:  # noqa: F811
    """A page whose requests reach the dashboard as forwarded for `address` by the trusted proxy."""
    context = browser.new_context(
        viewport={"width": width, "height": 1400}, extra_http_headers={"X-Forwarded-For": address}
    )
    watched = Watched.__new__(Watched)
    watched.page, watched.width, watched.requests, watched.dialogs = context.new_page(), width, [], []
    return watched


def try_password(page, name: str, password: str) -> str:
    """Submit the sign-in form; the text of the alert it answers with ('' when it signed in)."""
    page.locator('input[aria-label="Your name"]').fill(name)
    page.locator('input[type="password"]').fill(password)
    page.get_by_role("button", name="Sign in").click()
    running = page.locator('[data-testid="stStatusWidget"]')
    try:  # the run is seen running (a wrong password takes a second), then done
        running.wait_for(timeout=3_000)
    except Exception:  # noqa: BLE001 - a quick run may be over before it is seen
        pass
    wait_until_idle(page)
    if page.locator('input[type="password"]').count() == 0:
        return ""  # signed in: the form is gone
    alerts = page.locator('[data-testid="stAlert"]')
    return alerts.last.inner_text() if alerts.count() else ""


def test_wrong_passwords_limit_their_address_and_the_cookie_keeps_staff_signed_in(
    browser, dashboard_url: str, db: psycopg.Connection  # noqa: F811
) -> None:
    forger = from_address(browser, FORGER, 390)
    page = forger.page
    page.goto(dashboard_url)
    page.locator('input[type="password"]').wait_for(timeout=30_000)
    answers = [try_password(page, "Mallory", f"guess-{n}") for n in range(11)]
    assert all("Wrong password" in a for a in answers[:10]), answers
    assert "Too many wrong passwords were tried from your network" in answers[10], answers[10]
    assert "min left" in answers[10]  # until when, with the minutes left
    page.screenshot(path=str(ARTIFACTS / "staff-door-refused-390.png"), full_page=True)
    # Even the right password is refused from there now (the limit must not confirm a right guess).
    assert "Too many wrong passwords" in try_password(page, "Mallory", PASSWORD)
    logged = db.execute(
        "SELECT staff_name, target FROM staff_actions WHERE action = 'sign_in' AND NOT succeeded"
    ).fetchall()
    assert logged == [{"staff_name": "Mallory", "target": FORGER}] * 10

    # Staff at the office are not affected; they read the attempts in the staff log.
    staff = from_address(browser, OFFICE, 1280)
    page = staff.page
    page.goto(dashboard_url)
    page.locator('input[type="password"]').wait_for(timeout=30_000)
    assert try_password(page, "Sam Support", PASSWORD) == ""
    page.get_by_role("heading", name="Overview").first.wait_for(timeout=30_000)
    open_page(staff, "Maintenance")
    log = page.locator('[data-testid="stDataFrame"]').last
    log.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "staff-door-log-1280.png"), full_page=True)
    office_lines = db.execute("SELECT count(*) AS n FROM staff_actions WHERE target = %s", (OFFICE,))
    assert office_lines.fetchone()["n"] == 0

    # A reload keeps them signed in: the signed cookie, not the password again.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["enrollment_staff"]["sameSite"] == "Strict"
    page.reload()
    page.get_by_role("heading", name="Maintenance").first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert page.locator('input[type="password"]').count() == 0
    assert "Signed in as Sam Support" in page.locator('[data-testid="stSidebar"]').inner_text()

    # Sign out: the form again, and after a reload too (the cookie is gone).
    page.get_by_role("button", name="Sign out").click()
    page.locator('input[type="password"]').wait_for(timeout=30_000)
    wait_until_idle(page)
    assert "enrollment_staff" not in {c["name"] for c in page.context.cookies()}
    page.reload()
    page.locator('input[type="password"]').wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "staff-door-signed-out-1280.png"), full_page=True)
