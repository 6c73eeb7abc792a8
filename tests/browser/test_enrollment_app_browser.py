"""The enrollment app in a real headless Chromium: a person enrolls by drawing on the real canvas, with a
finger on a phone-sized screen and with the mouse on a desktop, reloads half-way, and signs in.

The app runs as `streamlit run` on a free port against a database of its own; the checks at the end
read PostgreSQL. Waits are on text the app renders, never on sleeps. Screenshots go to
artifacts/enrollment/.
"""

from __future__ import annotations

import base64
import io
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from enrollment_app import canvas
from enrollment_core import sample_drawings, step_plan
from tests.streamlit_server import CHROME_ARGS, CHROMIUM, streamlit_app

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "enrollment"
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Mobile Safari/537.36")
WAIT_MS = 30_000  # for anything the app renders: generous on a slow shared 2-core machine
SIGNUP_STEPS = step_plan.total_steps("signup")
# Drawings are placed in the canvas's drawing area, below the toolbar strip.
Y_OFFSET = canvas.TOOLBAR_STRIP_HEIGHT + 25

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (./dev test installs it)", allow_module_level=True)


# ---------------------------------------------------------------- the app under test


@pytest.fixture(scope="module")
def app_db(server_url: str, template_url: str) -> Iterator[str]:
    """One database for this module's app (each test uses its own usernames)."""
    from tests.conftest import create_test_database, drop_test_database

    name, url = create_test_database(server_url, template_url)
    yield url
    drop_test_database(server_url, name)


@pytest.fixture(scope="module")
def app_url(app_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("enrollment_app") / "streamlit.log"
    with streamlit_app("enrollment_app/app.py", {**os.environ, "DATABASE_URL": app_db}, log_path) as url:
        yield url + "/"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def db(app_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(app_db, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The success screen's balloons fly for a few seconds; show the screen, not the balloons.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stBalloons"] img')]
            .every(img => img.getAnimations().every(a => a.playState === 'finished'))""",
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(300)  # let a toast's entry animation finish; the state is already there
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# ---------------------------------------------------------------- drawing on the real canvas


Points = list[tuple[float, float]]


def pad(page):
    return page.locator("canvas.upper-canvas")


def mouse_stroke(page, points: Points) -> None:
    box = pad(page).bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    page.mouse.up()


def touch_stroker(context, page) -> Callable[[object, Points], None]:
    """Finger strokes through CDP touch events (page.touchscreen.tap only makes a dot)."""
    cdp = context.new_cdp_session(page)

    def stroke(page, points: Points) -> None:
        box = pad(page).bounding_box()

        def at(x: float, y: float) -> list[dict]:
            return [{"x": box["x"] + x, "y": box["y"] + y, "radiusX": 2, "radiusY": 2, "force": 1, "id": 0}]

        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(x, y)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    return stroke


def step_strokes(number: int, person: str, sample: int = 0) -> list[Points]:
    """What a person draws at this signup step, inside the canvas's drawing area."""
    drawn = sample_drawings.strokes_for_step("signup", number, person, sample)
    return [[(x, y + Y_OFFSET - 40) for x, y in stroke] for stroke in drawn]


def signature(person: str, sample: int) -> list[Points]:
    """The person's signature, drawn again: same shape, a hand's wobble (never a pixel-exact copy,
    which the verifier rightly refuses as a replay)."""
    hand = random.Random(f"{person}/{sample}")
    strokes = []
    for stroke in sample_drawings.signature_strokes(person, sample):
        wobble = hand.uniform(0, 2 * math.pi)
        strokes.append([(x + 1.5 * math.sin(i / 5 + wobble) + hand.gauss(0, 0.5),
                         y + Y_OFFSET - 40 + 1.5 * math.cos(i / 7 + wobble) + hand.gauss(0, 0.5))
                        for i, (x, y) in enumerate(stroke)])
    return strokes


def stroke_count_text(n: int) -> str:
    return f"{n} stroke{'s' if n != 1 else ''} on the canvas"


IDLE_JS = """() => !document.querySelector(
    '[data-testid^="stStatusWidgetRunning"], [data-stale="true"]')"""


# The guide (background image) is painted: its grey strip is at the top-right corner.
GUIDE_PAINTED_JS = """c => { const p = c.getContext('2d').getImageData(c.width - 5, 5, 1, 1).data;
    return p[3] > 0 && p[0] < 250; }"""


INK_PIXELS_JS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""


def wait_ready(page) -> None:
    """The step's canvas is ready to draw on: the app finished its run (no "running" indicator, no
    stale element from the previous screen), exactly one canvas is left (the new step's canvas replaces
    the old one) and it has loaded (its guide is painted). A stroke drawn while the canvas is still
    loading is wiped when the load completes."""
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    expect(pad(page)).to_have_count(1, timeout=WAIT_MS)
    guide = page.locator("canvas.dc-background-canvas")
    deadline = time.monotonic() + WAIT_MS / 1000
    while not guide.evaluate(GUIDE_PAINTED_JS):
        assert time.monotonic() < deadline, "the canvas guide was never painted"
        page.wait_for_timeout(50)


def draw(page, stroke: Callable[[object, Points], None], strokes: list[Points]) -> None:
    """Draw stroke by stroke, each time waiting until the app has received it."""
    wait_ready(page)
    for i, points in enumerate(strokes, start=1):
        stroke(page, points)
        try:
            expect(page.get_by_text(stroke_count_text(i), exact=True)).to_be_visible(timeout=WAIT_MS)
        except AssertionError:  # leave evidence: was the stroke drawn on screen (ink) but not received?
            screenshot(page, "failed_stroke")
            ink = page.locator("canvas.dc-canvas.lower-canvas").evaluate(INK_PIXELS_JS)
            print(f"stroke {i} not received; canvas at {pad(page).bounding_box()}, ink pixels {ink}")
            raise


def app_button(page, name: str):
    """One of the app's own buttons (the canvas toolbar has an "Undo" too)."""
    return page.locator("[data-testid^='stBaseButton']").filter(has_text=name)


def press(page, name: str, touch: bool) -> None:
    target = app_button(page, name)
    expect(target).to_be_enabled(timeout=WAIT_MS)
    target.tap() if touch else target.click()


def wait_for_step(page, number: int, total: int = SIGNUP_STEPS) -> None:
    expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Nothing drawn yet")).to_be_visible(timeout=WAIT_MS)
    wait_ready(page)


def begin(page, url: str, flow_label: str, username: str, touch: bool) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
    choice = page.get_by_role("radio", name=flow_label, exact=True)
    choice.tap() if touch else choice.click()
    page.get_by_role("textbox", name="Username").fill(username)
    press(page, "Continue", touch)


def enroll_steps(page, stroke, person: str, numbers: range, touch: bool) -> None:
    for number in numbers:
        wait_for_step(page, number)
        strokes = signature(person, number) if step_plan.step_of("signup", number).type == "signature" \
            else step_strokes(number, person)
        draw(page, stroke, strokes)
        press(page, "Save and continue", touch)


def assert_enrolled(db: psycopg.Connection, username: str, user_agent_part: str) -> None:
    """What PostgreSQL holds after a complete signup through the browser."""
    session = db.execute(
        "SELECT id, status, device_info, completed_at FROM temp_enrollments"
        " WHERE username = %s AND flow_type = 'signup'", (username,),
    ).fetchone()
    assert session["status"] == "completed" and session["completed_at"] is not None
    assert user_agent_part in session["device_info"]
    steps = db.execute(
        "SELECT step_number, step_type, signature_data, raw_data, metrics FROM temp_enrollment_steps"
        " WHERE enrollment_id = %s ORDER BY step_number", (session["id"],),
    ).fetchall()
    assert [s["step_number"] for s in steps] == list(range(1, SIGNUP_STEPS + 1))
    assert [s["step_type"] for s in steps] == [s.type for s in step_plan.steps_of("signup")]
    for step in steps:
        png = base64.b64decode(step["signature_data"].removeprefix("data:image/png;base64,"))
        image = Image.open(io.BytesIO(png)).convert("L")
        assert image.size == (canvas.CANVAS_WIDTH, canvas.CANVAS_HEIGHT)
        dark = image.point(lambda v: 255 if v < 128 else 0).histogram()[255]
        assert dark > 100, f"step {step['step_number']} has no ink"
        assert step["raw_data"]["objects"] and step["raw_data"]["objects"][0]["type"] == "Path"
        metrics = step["metrics"]
        assert metrics["stroke_count"] == len(step["raw_data"]["objects"])
        assert metrics["point_count"] > 10 and metrics["path_length"] > 50 and metrics["ink_pixels"] > 100
    user = db.execute("SELECT id FROM users WHERE username = %s", (username,)).fetchone()
    assert user is not None
    copied = db.execute(
        "SELECT count(*) AS n FROM user_enrolled_drawings WHERE user_id = %s", (user["id"],)
    ).fetchone()
    assert copied["n"] == SIGNUP_STEPS


# ---------------------------------------------------------------- the tests


def test_phone_signup_with_a_finger_survives_a_reload(browser, app_url: str, db: psycopg.Connection) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                  is_mobile=True, has_touch=True, user_agent=PHONE_UA)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    finger = touch_stroker(context, page)
    try:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "phone_start")
        begin(page, app_url, "Create account", "pat_phone", touch=True)
        wait_for_step(page, 1)

        # The canvas fits the phone's width: nothing to scroll sideways, the whole pad on screen.
        box = pad(page).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] == canvas.CANVAS_WIDTH
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # The canvas toolbar (invisible until hovered, and a hidden Reset on touch screens) stays within
        # the grey strip at the top of the canvas that says not to draw there.
        reset = page.get_by_role("button", name="Reset canvas & history").bounding_box()
        assert reset["y"] + reset["height"] <= box["y"] + canvas.TOOLBAR_STRIP_HEIGHT

        # A tap is a dot, not a signature: refused, nothing saved.
        page.touchscreen.tap(box["x"] + 150, box["y"] + 150)
        expect(page.get_by_text(stroke_count_text(1), exact=True)).to_be_visible(timeout=WAIT_MS)
        press(page, "Save and continue", touch=True)
        expect(page.get_by_text("That is too small to use")).to_be_visible(timeout=WAIT_MS)
        assert db.execute("SELECT count(*) AS n FROM temp_enrollments WHERE username = 'pat_phone'"
                          ).fetchone()["n"] == 0

        # Our own Clear and Undo buttons, under the canvas.
        press(page, "Clear", touch=True)
        expect(page.get_by_text("Nothing drawn yet")).to_be_visible(timeout=WAIT_MS)
        strokes = signature("pat_phone", 1)
        draw(page, finger, strokes + [[(300, 200), (330, 215)]])  # ... and a slip of the finger
        press(page, "Undo", touch=True)
        expect(page.get_by_text(stroke_count_text(len(strokes)), exact=True)).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "phone_step")
        press(page, "Save and continue", touch=True)

        enroll_steps(page, finger, "pat_phone", range(2, 5), touch=True)
        wait_for_step(page, 5)
        assert "?session=sess_" in page.url

        # A reload (or a dropped connection, or reopening the link) continues at the next unsaved step.
        page.reload()
        wait_for_step(page, 5)
        expect(page.get_by_text("Welcome back: 4 steps already saved")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("pat_phone")).to_be_visible()

        enroll_steps(page, finger, "pat_phone", range(5, SIGNUP_STEPS + 1), touch=True)
        expect(page.get_by_role("heading", name="Account created")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "phone_success")
        assert errors == []
    finally:
        context.close()
    assert_enrolled(db, "pat_phone", "Android 14")


def test_desktop_signup_with_the_mouse_then_sign_in(browser, app_url: str, db: psycopg.Connection) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_start")
        begin(page, app_url, "Create account", "dee_desk", touch=False)
        enroll_steps(page, mouse_stroke, "dee_desk", range(1, 3), touch=False)
        wait_for_step(page, 3)
        screenshot(page, "desktop_step")
        page.reload()
        wait_for_step(page, 3)
        enroll_steps(page, mouse_stroke, "dee_desk", range(3, SIGNUP_STEPS + 1), touch=False)
        expect(page.get_by_role("heading", name="Account created")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_success")
        assert_enrolled(db, "dee_desk", "HeadlessChrome")

        # Sign in with the same signature, drawn again.
        press(page, "Sign in now", touch=False)
        wait_for_step(page, 1, total=1)
        draw(page, mouse_stroke, signature("dee_desk", 21))
        press(page, "Save and continue", touch=False)
        expect(page.get_by_role("heading", name="Signed in")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_signin_accepted")

        # Someone else's signature is rejected, with the reason and a way to try again.
        press(page, "Done", touch=False)
        begin(page, app_url, "Sign in", "dee_desk", touch=False)
        wait_for_step(page, 1, total=1)
        draw(page, mouse_stroke, signature("an impostor", 1))
        press(page, "Save and continue", touch=False)
        expect(page.get_by_role("heading", name="Sign-in rejected")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_role("button", name="Try again")).to_be_visible()
        screenshot(page, "desktop_signin_rejected")
        assert errors == []
    finally:
        context.close()
    attempts = db.execute(
        "SELECT a.accepted, a.reason_code FROM login_attempts a JOIN users u ON u.id = a.user_id"
        " WHERE u.username = 'dee_desk' ORDER BY a.attempted_at"
    ).fetchall()
    assert [(a["accepted"], a["reason_code"]) for a in attempts] == [(True, "match"), (False, "no_match")]
