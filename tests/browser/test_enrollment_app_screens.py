"""The enrollment app's screens at every size, in a real headless Chromium: a small phone upright
(320 x 568) to a large one on its side (844 x 390), and a desktop (1440 x 900).

For each size, the start page, the sign-in pad (and a new account's first pad on phones), the verdict
of a rejected sign-in and the lock that follows a second one are opened and photographed
(artifacts/enrollment/screens/), and on each:
  * every control is at least 44 x 44 px;
  * axe-core finds no serious or critical accessibility violation;
  * on a pad screen the whole pad and its Save (Sign) button are on screen together, the pad grows
    with the column (at least 480 px wide at 1440 px), and "turn your phone sideways" shows only on a
    phone held upright that is too narrow for the whole pad;
  * the lock is one notice saying until when, in the browser's time zone and naming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from enrollment_app import canvas, flow
from enrollment_core import sample_drawings
from tests.browser.app_driver import (
    ARTIFACTS,
    DESKTOP,
    NO_LIMITS,
    PHONES,
    WAIT_MS,
    app_button,
    idle,
    mouse_line,
    new_context,
    open_page,
    pad,
    running_app,
    streamlit_errors,
    touch_line,
    wait_pad_ready,
)
from tests.flows import register_user, service_on
from tests.streamlit_server import CHROMIUM

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)  # what the app renders can take seconds on a loaded machine
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (./dev test installs it)", allow_module_level=True)

SIZES = [*PHONES, DESKTOP]
SUPPORT = "the front desk (extension 4321)"
TIMEZONE = "Europe/Paris"
MIN_TARGET_PX = 44
MIN_DESKTOP_PAD_PX = 480


def user_for(width: int, height: int) -> str:
    return f"screens_{width}x{height}"


@pytest.fixture(scope="module")
def app(server_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with a support contact, and a lock after 2 rejected sign-ins in a row; one registered
    person per screen size (each size's lock is its own)."""
    from enrollment_core.config import RateLimitSettings, Settings
    from tests.conftest import create_test_database, drop_test_database

    name, db_url = create_test_database(server_url, template_url)
    settings = Settings(database_url=db_url, rate_limits=RateLimitSettings.off())
    with service_on(db_url, settings) as service:
        for width, height in SIZES:
            register_user(service, user_for(width, height))
    try:
        with running_app(db_url, tmp_path_factory.mktemp("screens"), SUPPORT_CONTACT=SUPPORT,
                         LOGIN_MAX_FAILURES="2", **NO_LIMITS) as url:
            yield url
    finally:
        drop_test_database(server_url, name)


# ---------------------------------------------------------------- checks on any screen

# The controls a person can tap, outside the canvas's own (hidden) toolbar: their size on screen.
CONTROLS_JS = r"""() => [...document.querySelectorAll(
        'button, [role="button"], [role="radio"], [role="tab"], [role="checkbox"], input, select, a[href]')]
    .filter(e => { const s = getComputedStyle(e); const r = e.getBoundingClientRect();
                   return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; })
    // Streamlit's "Skip to main content" link: 1 x 1 px, for keyboards and screen readers only.
    .filter(e => !(e.getBoundingClientRect().width <= 1 && e.getBoundingClientRect().height <= 1))
    .map(e => { const r = e.getBoundingClientRect();
                const words = (e.innerText || e.getAttribute('aria-label') || e.tagName).trim();
                return {what: words.split('\n').pop(), width: r.width, height: r.height}; })"""


def assert_targets(page: Any, where: str) -> None:
    """Every control is at least 44 x 44 px (a fingertip)."""
    controls = page.evaluate(CONTROLS_JS)
    assert controls, where
    small = [c for c in controls if c["width"] < MIN_TARGET_PX - 0.5 or c["height"] < MIN_TARGET_PX - 0.5]
    assert small == [], f"{where}: controls smaller than {MIN_TARGET_PX} px: {small}"


def assert_accessible(page: Any, where: str) -> None:
    """axe-core (Deque's rules, as axe-playwright-python ships them): no serious or critical violation."""
    results = axe_playwright.Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:4]}" for v in bad)


def assert_fine(page: Any, where: str, shot: str) -> None:
    idle(page)
    page.wait_for_timeout(300)  # let an entry animation end before the photograph
    (ARTIFACTS / "screens").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screens" / f"{shot}.png"))
    assert streamlit_errors(page) == [], where
    assert_targets(page, where)
    assert_accessible(page, where)


def in_view(page: Any, box: dict[str, float]) -> bool:
    size = page.viewport_size
    return (box["x"] >= -0.5 and box["y"] >= -0.5 and box["x"] + box["width"] <= size["width"] + 0.5
            and box["y"] + box["height"] <= size["height"] + 0.5)


def assert_pad_and_save_fit(page: Any, save_label: str, where: str) -> dict[str, float]:
    """The whole pad and its Save button are on screen together, nothing scrolls sideways, and the pad
    keeps the canvas's shape (one coordinate space at every scale)."""
    wait_pad_ready(page)
    page.wait_for_timeout(400)  # the recorder fits the pad, then scrolls it into view
    box = pad(page).bounding_box()
    save = app_button(page, save_label).bounding_box()
    assert in_view(page, box), f"{where}: pad {box} not all on screen {page.viewport_size}"
    assert in_view(page, save), f"{where}: {save_label} {save} not on screen with the pad {box}"
    assert box["width"] / box["height"] == pytest.approx(canvas.CANVAS_WIDTH / canvas.CANVAS_HEIGHT, rel=0.01)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    return box


def scribble_strokes(person: str) -> list[list[tuple[float, float]]]:
    """Someone else's signature: a sign-in the verifier rejects."""
    return [[(x, y + 25) for x, y in stroke] for stroke in sample_drawings.signature_strokes(person, 3)]


def sign_wrongly(page: Any, context: Any, touch: bool, person: str) -> None:
    cdp = context.new_cdp_session(page) if touch else None
    wait_pad_ready(page)
    strokes = scribble_strokes(person)
    for n, stroke in enumerate(strokes, start=1):
        touch_line(cdp, page, stroke) if touch else mouse_line(page, stroke)
        count = f"{n} stroke{'s' if n != 1 else ''} on the canvas"
        expect(page.get_by_text(count, exact=True)).to_be_visible(timeout=WAIT_MS)
    app_button(page, "Sign").click()
    expect(page.get_by_role("heading", name="Sign-in rejected")).to_be_visible(timeout=WAIT_MS)


# ---------------------------------------------------------------- the screens, at every size


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_screen_fits_is_tappable_and_accessible(
    browser: Any, app: str, width: int, height: int
) -> None:
    touch = width < 1000
    size = f"{width}x{height}"
    username = user_for(width, height)
    context = new_context(browser, width, height, touch, timezone=TIMEZONE)
    page, page_errors = open_page(context)
    try:
        # The start page: the product's name in the title, no Streamlit menu.
        page.goto(app)
        expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible()
        assert page.title() == "Signature enrollment"
        expect(page.locator('[data-testid="stMainMenu"], [data-testid="stToolbar"]')).to_have_count(0)
        assert_fine(page, f"{size} start", f"{size}_start")

        if touch:  # a new account's first pad, its header above it: pad and Save fit too
            page.goto(f"{app}?flow=signup&user=new_{width}x{height}")
            assert_pad_and_save_fit(page, "Save and continue", f"{size} signup pad")
            assert_fine(page, f"{size} signup pad", f"{size}_pad_signup")

        # The sign-in pad: who signs in, a Sign button, no steps.
        page.goto(f"{app}?flow=signin&user={username}")
        expect(page.get_by_role("heading", name=f"Sign in as {username}")).to_be_visible()
        box = assert_pad_and_save_fit(page, "Sign", f"{size} sign-in pad")
        expect(page.get_by_text("Step 1 of 1")).to_have_count(0)
        if not touch:
            assert box["width"] >= MIN_DESKTOP_PAD_PX, box
        narrow_upright = height > width and width <= 380
        rotate = page.get_by_text("For a bigger pad, turn your phone sideways.")
        expect(rotate).to_be_visible() if narrow_upright else expect(rotate).to_be_hidden()
        assert_fine(page, f"{size} sign-in pad", f"{size}_pad")

        # A rejected sign-in: the verdict in words, attempts left, Try again, the support line.
        sign_wrongly(page, context, touch, "an impostor")
        expect(page.get_by_text(flow.VERDICT_WORDS["no_match"])).to_be_visible()
        expect(page.get_by_text(f"Need help? Contact {SUPPORT}.")).to_be_visible()
        assert_fine(page, f"{size} verdict", f"{size}_verdict")

        # The second rejection locks signing in from here: one notice, the local time and its zone.
        app_button(page, "Try again").click()
        sign_wrongly(page, context, touch, "another impostor")
        notices = page.locator('[data-testid="stAlert"]')
        expect(notices).to_have_count(1)
        text = notices.inner_text()
        assert "locked until" in text and (" CET" in text or " CEST" in text), text
        expect(app_button(page, "Try again")).to_have_count(0)
        expect(page.get_by_text(f"Need help? Contact {SUPPORT}.")).to_be_visible()
        assert_fine(page, f"{size} lock", f"{size}_lock")
        assert page_errors == []
    finally:
        context.close()
