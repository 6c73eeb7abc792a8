"""People page in headless Chromium: a person's remembered devices, one chosen in the table and revoked
after confirmation; nothing cut at phone and desktop widths. Screenshots at 390 and 1280 px go to
artifacts/ (look at them)."""

from __future__ import annotations

import pytest

from enrollment_core import device_tokens
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from tests.browser.test_dashboard_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    PERSON,
    Watched,
    assert_no_errors,
    browser,
    click_table_row,
    cut_texts,
    dashboard_url,
    open_page,
    sign_in,
    wait_until_idle,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_a_remembered_device_is_revoked_from_the_people_page(
    dashboard_url: str,  # noqa: F811
    browser,  # noqa: F811
    db_url: str,
    width: int,
) -> None:
    watched = Watched(browser, width)
    page = watched.page
    sign_in(watched, dashboard_url)
    open_page(watched, "People")
    search = page.locator('input[aria-label="Username or session id"]')
    search.fill(PERSON)
    search.press("Enter")
    page.get_by_text("Remembered devices", exact=True).wait_for(timeout=30_000)
    wait_until_idle(page)
    page.get_by_text("2 of 2 remembered now").wait_for()  # registered, then signed in as an unknown device
    page.get_by_text("Remembered devices", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"dashboard_7_remembered_devices_{width}.png"), full_page=True)

    # The devices' table is the page's last (the enrolled drawings below it are images).
    table = page.locator('[data-testid="stDataFrame"]').last
    table.scroll_into_view_if_needed()
    click_table_row(page, table, 0)
    page.get_by_role("button", name="Revoke this device").click()
    page.get_by_text(f"for {PERSON}? Its next sign-ins count as from an unknown device").wait_for(
        timeout=30_000
    )
    wait_until_idle(page)
    # Nothing of this section is cut (the folded sidebar's own buttons are not this test's).
    assert [t for t in cut_texts(page) if "evoke" in t or "emember" in t or "Cancel" in t] == []
    page.screenshot(path=str(ARTIFACTS / f"dashboard_7_revoke_device_confirm_{width}.png"), full_page=True)
    page.get_by_role("button", name="Revoke", exact=True).click()
    page.get_by_text(f"{PERSON} is no longer remembered on the device remembered since").wait_for(
        timeout=30_000
    )
    wait_until_idle(page)
    page.get_by_text("1 of 2 remembered now").wait_for()
    assert_no_errors(page)
    assert watched.outside_requests() == []
    with create_pool(db_url, Settings(database_url=db_url), name="check") as pool:
        assert sorted(t.live for t in device_tokens.tokens_for_user(pool, PERSON)) == [False, True]
