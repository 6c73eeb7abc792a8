"""The enrollment app in a real headless Chromium: a person enrolls by drawing on the real canvas, with a
finger on phone-sized screens (320 to 430 px wide) and with the mouse on a desktop, reloads half-way,
and signs in; the pad fits every screen, hides nothing on or above it, and saves how each stroke was
drawn (the pen recorder's timed points).

The app runs as `streamlit run` on a free port against a database of its own; the checks read
PostgreSQL. Touch and mouse input go through CDP (`Input.dispatchTouchEvent` / `dispatchMouseEvent`)
with known timestamps, so the times saved can be compared with the times sent. Waits are on what the
app renders, never on sleeps. Screenshots go to artifacts/enrollment/.
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
from tests.streamlit_server import CHROMIUM, streamlit_app

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "enrollment"
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Mobile Safari/537.36")
WAIT_MS = 30_000  # for anything the app renders: generous on a slow shared 2-core machine
SIGNUP_STEPS = step_plan.total_steps("signup")
Y_SHIFT = 25  # the sample drawings sit this much lower on the pad (signatures above the baseline)
MOVE_MS = 16.0  # between two sent pointer moves (a 60 Hz touch screen)
LIFT_MS = 250.0  # between the end of a stroke and the start of the next
TIME_TOLERANCE_MS = 2.0  # saved time vs sent time
XY_TOLERANCE_PX = 0.5  # saved point vs sent point, in canvas pixels

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
    with streamlit_app("enrollment_app/app.py", {**os.environ, "DATABASE_URL": app_db}, log_path,
                       toolbar_mode=None) as url:  # its own config.toml, as ./dev start runs it
        yield url + "/"


@pytest.fixture
def db(app_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(app_db, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


def phone(browser, width: int, height: int = 844):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=3,
                                  is_mobile=True, has_touch=True, user_agent=PHONE_UA)
    context.set_default_timeout(WAIT_MS)
    return context


def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context


def open_page(context) -> tuple[object, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


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


Points = list[tuple[float, float]]  # in canvas pixels (the 350 x 250 coordinate space)
Stroke = Callable[[object, Points], None]


def pad(page):
    return page.locator("canvas.upper-canvas")


def screen_of(page) -> Callable[[float, float], tuple[float, float]]:
    """Where canvas points are on the screen: the pad may be shown scaled down to fit. (The pad is
    measured once: per point it would cost a round trip to the browser each.)"""
    box = pad(page).bounding_box()
    scale = box["width"] / canvas.CANVAS_WIDTH
    return lambda x, y: (box["x"] + x * scale, box["y"] + y * scale)


def on_screen(page, x: float, y: float) -> tuple[float, float]:
    return screen_of(page)(x, y)


class Clock:
    """Timestamps for CDP input events (seconds since the epoch, as CDP takes them), and a record of
    what was sent, per stroke: (x, y, time in ms) in canvas pixels."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sent: list[list[tuple[float, float, float]]] = []

    def stroke_start(self) -> None:
        self.now = max(self.now + LIFT_MS / 1000, time.time())  # never far from the real clock
        self.sent.append([])

    def tick(self, x: float, y: float) -> float:
        self.sent[-1].append((x, y, self.now * 1000))
        stamp = self.now
        self.now += MOVE_MS / 1000
        return stamp

    def forget_last_stroke(self) -> None:
        self.sent.pop()


def touch_stroker(context, page, clock: Clock | None = None) -> Stroke:
    """Finger strokes through CDP touch events with known timestamps (page.touchscreen.tap only makes
    a dot). The finger lifts where it last moved, one tick later."""
    cdp = context.new_cdp_session(page)
    clock = clock or Clock()

    def stroke(page, points: Points) -> None:
        clock.stroke_start()
        where = screen_of(page)

        def touch(kind: str, x: float, y: float) -> None:
            sx, sy = where(x, y)
            finger = [] if kind == "touchEnd" else [
                {"x": sx, "y": sy, "radiusX": 2, "radiusY": 2, "force": 0.5, "id": 0}]
            cdp.send("Input.dispatchTouchEvent",
                     {"type": kind, "touchPoints": finger, "timestamp": clock.tick(x, y)})

        touch("touchStart", *points[0])
        for x, y in points[1:]:
            touch("touchMove", x, y)
        touch("touchEnd", *points[-1])

    return stroke


def mouse_stroker(context, page, clock: Clock | None = None) -> Stroke:
    """Mouse strokes through CDP mouse events with known timestamps."""
    cdp = context.new_cdp_session(page)
    clock = clock or Clock()

    def stroke(page, points: Points) -> None:
        clock.stroke_start()
        where = screen_of(page)

        def mouse(kind: str, x: float, y: float, buttons: int) -> None:
            sx, sy = where(x, y)
            cdp.send("Input.dispatchMouseEvent", {
                "type": kind, "x": sx, "y": sy, "button": "left", "buttons": buttons, "clickCount": 1,
                "force": 0.5 if buttons else 0, "timestamp": clock.tick(x, y)})  # a mouse presses at 0.5

        mouse("mousePressed", *points[0], buttons=1)
        for x, y in points[1:]:
            mouse("mouseMoved", x, y, buttons=1)
        mouse("mouseReleased", *points[-1], buttons=0)

    return stroke


def step_strokes(number: int, person: str, sample: int = 0) -> list[Points]:
    """What a person draws at this signup step."""
    drawn = sample_drawings.strokes_for_step("signup", number, person, sample)
    return [[(x, y + Y_SHIFT) for x, y in stroke] for stroke in drawn]


def signature(person: str, sample: int) -> list[Points]:
    """The person's signature, drawn again: same shape, a hand's wobble (never a pixel-exact copy,
    which the verifier rightly refuses as a replay)."""
    hand = random.Random(f"{person}/{sample}")
    strokes = []
    for stroke in sample_drawings.signature_strokes(person, sample):
        wobble = hand.uniform(0, 2 * math.pi)
        strokes.append([(x + 1.5 * math.sin(i / 5 + wobble) + hand.gauss(0, 0.5),
                         y + Y_SHIFT + 1.5 * math.cos(i / 7 + wobble) + hand.gauss(0, 0.5))
                        for i, (x, y) in enumerate(stroke)])
    return strokes


def stroke_count_text(n: int) -> str:
    return f"{n} stroke{'s' if n != 1 else ''} on the canvas"


IDLE_JS = """() => !document.querySelector(
    '[data-testid^="stStatusWidgetRunning"], [data-stale="true"]')"""

# The canvas's own shadow root, and what the pen recorder did to it: the "Loading the canvas…"
# cover, the canvas toolbar's display, and the element at a screen point (through shadow roots).
PAD_ROOT_JS = """() => [...document.querySelectorAll('.st-key-drawing_pad_box *')]
    .find(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.upper-canvas'))?.shadowRoot"""
PAD_STATE_JS = f"""() => {{
    const root = ({PAD_ROOT_JS})();
    if (!root) return null;
    const cover = root.querySelector('.pen-recorder-wait');
    const toolbar = root.querySelector('.dc-toolbar');
    return {{covered: cover ? !cover.hidden : null, coverText: cover ? cover.textContent : null,
             toolbar: toolbar ? getComputedStyle(toolbar).display : null,
             toolbarButtons: toolbar ? toolbar.querySelectorAll('button').length : 0}};
}}"""
ELEMENT_AT_JS = """([x, y]) => {
    let el = document.elementFromPoint(x, y);
    while (el && el.shadowRoot) {
        const inner = el.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === el) break;
        el = inner;
    }
    return el ? {tag: el.tagName, cls: String(el.className), inToolbar: !!el.closest('.dc-toolbar')} : null;
}"""
INK_PIXELS_JS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""


def pad_state(page) -> dict | None:
    return page.evaluate(PAD_STATE_JS)


def ink_pixels(page) -> int:
    return page.locator("canvas.dc-canvas.lower-canvas").evaluate(INK_PIXELS_JS)


def wait_ready(page) -> None:
    """The step's pad takes ink: the app finished its run (no "running" indicator, no stale element
    from the previous screen), exactly one canvas is left (the new step's canvas replaces the old one)
    and the pen recorder lifted its "Loading the canvas…" cover (Python found the canvas loaded and
    the recorder attached, and enabled the canvas in the same run)."""
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    expect(pad(page)).to_have_count(1, timeout=WAIT_MS)
    page.wait_for_function(f"() => ({PAD_STATE_JS})()?.covered === false", timeout=WAIT_MS)


def draw(page, stroke: Stroke, strokes: list[Points], before: int = 0) -> None:
    """Draw stroke by stroke, each time waiting until the app has received it."""
    wait_ready(page)
    for i, points in enumerate(strokes, start=before + 1):
        stroke(page, points)
        try:
            expect(page.get_by_text(stroke_count_text(i), exact=True)).to_be_visible(timeout=WAIT_MS)
        except AssertionError:  # leave evidence: was the stroke drawn on screen (ink) but not received?
            screenshot(page, "failed_stroke")
            print(f"stroke {i} not received; canvas at {pad(page).bounding_box()}, ink {ink_pixels(page)}")
            raise


def app_button(page, name: str):
    """One of the app's own buttons."""
    return page.locator("[data-testid^='stBaseButton']").filter(has_text=name)


def press(page, name: str, touch: bool) -> None:
    target = app_button(page, name)
    expect(target).to_be_enabled(timeout=WAIT_MS)
    target.tap() if touch else target.click()


def wait_for_step(page, number: int, total: int = SIGNUP_STEPS) -> None:
    expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Nothing drawn yet")).to_be_visible(timeout=WAIT_MS)
    wait_ready(page)


def wait_for_signin(page, username: str) -> None:
    """A sign-in's pad: "Sign in as NAME", no step counter."""
    expect(page.get_by_role("heading", name=f"Sign in as {username}")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Nothing drawn yet")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Step 1 of 1", exact=True)).to_have_count(0)
    wait_ready(page)


def begin(page, url: str, flow_label: str, username: str, touch: bool) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
    choice = page.get_by_role("radio", name=flow_label, exact=True)
    choice.tap() if touch else choice.click()
    page.get_by_role("textbox", name="Username").fill(username)
    press(page, "Continue", touch)


def enroll_steps(page, stroke: Stroke, person: str, numbers: range, touch: bool) -> None:
    for number in numbers:
        wait_for_step(page, number)
        strokes = signature(person, number) if step_plan.step_of("signup", number).type == "signature" \
            else step_strokes(number, person)
        draw(page, stroke, strokes)
        press(page, "Save and continue", touch)


# ---------------------------------------------------------------- checks


MAX_PAD_SCALE = 1.6  # the pen recorder's largest scale (pen_recorder.js)


def assert_pad_fits(page, viewport_width: int) -> None:
    """The whole pad is on screen at a size that fits: as wide as the content column allows (up to
    1.6x), shorter when the window's height asks it, with the canvas's shape; nothing scrolls
    sideways, the pad and its Save button are on screen together, and each of the pad's corners is the
    canvas itself (not clipped, nothing on top of it)."""
    page.wait_for_timeout(400)  # the recorder fits the pad to the window, then scrolls it into view
    box = pad(page).bounding_box()
    column = page.locator(".st-key-drawing_pad_box").bounding_box()
    viewport = page.viewport_size
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport_width, box
    assert box["width"] <= min(column["width"], canvas.CANVAS_WIDTH * MAX_PAD_SCALE) + 0.5, (box, column)
    assert box["width"] / box["height"] == pytest.approx(canvas.CANVAS_WIDTH / canvas.CANVAS_HEIGHT, rel=0.01)
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (box, viewport)
    save_button = app_button(page, "Save and continue")
    save = (save_button if save_button.count() else app_button(page, "Sign")).bounding_box()
    assert save["y"] >= 0 and save["y"] + save["height"] <= viewport["height"], (save, viewport)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport_width
    # The pad's box is as tall as the scaled canvas: no blank space is left below it.
    holder = page.locator(".st-key-drawing_pad_box").bounding_box()
    assert holder["height"] == pytest.approx(box["height"], abs=2), (holder, box)
    for fx, fy in ((0.01, 0.01), (0.99, 0.01), (0.01, 0.99), (0.99, 0.99)):
        hit = page.evaluate(ELEMENT_AT_JS, [box["x"] + fx * box["width"], box["y"] + fy * box["height"]])
        assert hit and "upper-canvas" in hit["cls"], (fx, fy, hit)


def assert_no_toolbar(page) -> None:
    """The canvas's own toolbar (download, undo, redo, reset) cannot be seen or reached."""
    state = pad_state(page)
    assert state["toolbar"] == "none", state
    expect(page.get_by_role("button", name="Reset canvas & history")).to_have_count(0)


def saved_steps(db: psycopg.Connection, username: str, flow_type: str = "signup") -> list[dict]:
    return db.execute(
        "SELECT s.step_number, s.raw_data, s.metrics FROM temp_enrollment_steps s"
        " JOIN temp_enrollments e ON e.id = s.enrollment_id"
        " WHERE e.username = %s AND e.flow_type = %s ORDER BY s.step_number", (username, flow_type),
    ).fetchall()


def assert_timed(raw: dict, pointer_type: str) -> None:
    """The raw drawing keeps the canvas JSON and adds one timed stroke per path, in the saved format:
    times in ms from the drawing's first point, never decreasing."""
    paths = [o for o in raw["objects"] if o["type"].lower() == "path"]
    assert len(raw["strokes"]) == len(paths) > 0
    times = []
    for stroke, path in zip(raw["strokes"], paths):
        assert stroke["pointerType"] == pointer_type
        first = stroke["points"][0]
        assert (first["x"], first["y"]) == pytest.approx(tuple(path["path"][0][1:3]), abs=1.0)
        for point in stroke["points"]:
            assert {"x", "y", "time", "pressure"} <= set(point)
            times.append(point["time"])
    assert times[0] == 0 and times == sorted(times) and times[-1] > 0


def assert_times_match(raw: dict, sent: list[list[tuple[float, float, float]]]) -> None:
    """Every point saved is a point sent, at the time it was sent (relative to the first)."""
    assert len(raw["strokes"]) == len(sent)
    origin = sent[0][0][2]
    for stroke, points in zip(raw["strokes"], sent):
        assert len(stroke["points"]) == len(points)
        for saved, (x, y, t) in zip(stroke["points"], points):
            assert saved["time"] == pytest.approx(t - origin, abs=TIME_TOLERANCE_MS), (saved, t - origin)
            assert (saved["x"], saved["y"]) == pytest.approx((x, y), abs=XY_TOLERANCE_PX), (saved, x, y)


def assert_enrolled(db: psycopg.Connection, username: str, user_agent_part: str, pointer_type: str) -> None:
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
        assert_timed(step["raw_data"], pointer_type)
        metrics = step["metrics"]
        assert metrics["stroke_count"] == len(step["raw_data"]["objects"])
        assert metrics["point_count"] > 10 and metrics["path_length"] > 50 and metrics["ink_pixels"] > 100
    user = db.execute("SELECT id FROM users WHERE username = %s", (username,)).fetchone()
    assert user is not None
    copied = db.execute(
        "SELECT count(*) AS n FROM user_enrolled_drawings WHERE user_id = %s", (user["id"],)
    ).fetchone()
    assert copied["n"] == SIGNUP_STEPS


# ---------------------------------------------------------------- the tests: the pad


PHONE_SIZES = [(320, 568), (360, 740), (390, 844), (430, 932), (568, 320), (844, 390)]


@pytest.mark.parametrize(("width", "height"), PHONE_SIZES, ids=[f"{w}x{h}" for w, h in PHONE_SIZES])
def test_touch_strokes_are_saved_with_the_times_they_were_drawn(
    browser, app_url: str, db: psycopg.Connection, width: int, height: int
) -> None:
    """On each phone, upright and on its side: the pad fits (at whatever scale), and the strokes drawn
    with a finger are saved in PostgreSQL with the times the touch events carried and at the canvas
    points they were drawn at (the last one undone, as the app's Undo drops it)."""
    username = f"touch_{width}x{height}"
    context = phone(browser, width, height)
    page, errors = open_page(context)
    clock = Clock()
    finger = touch_stroker(context, page, clock)
    try:
        page.goto(f"{app_url}?flow=signup&user={username}")
        wait_for_step(page, 1)
        assert_pad_fits(page, width)
        assert_no_toolbar(page)
        strokes = signature(username, 1)
        draw(page, finger, strokes + [[(300, 200), (310, 205), (320, 212)]])  # ... and a slip
        press(page, "Undo", touch=True)
        clock.forget_last_stroke()
        expect(page.get_by_text(stroke_count_text(len(strokes)), exact=True)).to_be_visible()
        if width in (320, 390, 844):
            screenshot(page, f"phone_{width}x{height}_step")
        press(page, "Save and continue", touch=True)
        wait_for_step(page, 2)
        assert errors == []
    finally:
        context.close()
    (step,) = saved_steps(db, username)
    assert_timed(step["raw_data"], "touch")
    assert_times_match(step["raw_data"], clock.sent)
    assert len(step["raw_data"]["objects"]) == len(strokes)


@pytest.mark.parametrize("size", [(1280, 900), (1440, 900)], ids=["1280x900", "1440x900"])
def test_mouse_strokes_on_a_desktop_are_saved_with_their_times_and_no_toolbar_shows(
    browser, app_url: str, db: psycopg.Connection, size: tuple[int, int]
) -> None:
    """On a desktop the pad is shown larger than its canvas (up to 1.6x): the points saved are still
    the canvas points drawn, at the times drawn."""
    username = f"mo_desk_{size[0]}"
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.set_default_timeout(WAIT_MS)
    page, errors = open_page(context)
    clock = Clock()
    mouse = mouse_stroker(context, page, clock)
    try:
        page.goto(f"{app_url}?flow=signup&user={username}")
        wait_for_step(page, 1)
        assert_pad_fits(page, size[0])
        assert pad(page).bounding_box()["width"] >= 480  # it grows with the column
        # Hovering the pad, and where the canvas's toolbar used to appear above its top-right corner,
        # shows nothing.
        box = pad(page).bounding_box()
        for x, y in ((box["x"] + 100, box["y"] + 100), (box["x"] + box["width"] - 5, box["y"] + 5),
                     (box["x"] + box["width"] - 20, box["y"] - 15)):
            page.mouse.move(x, y)
            page.wait_for_timeout(400)  # the toolbar faded in after 0.25 s of hovering
            assert_no_toolbar(page)
            assert not page.evaluate(ELEMENT_AT_JS, [x, y])["inToolbar"]
        screenshot(page, f"desktop_{size[0]}_step_hover")
        strokes = signature(username, 1)
        draw(page, mouse, strokes)
        press(page, "Save and continue", touch=False)
        wait_for_step(page, 2)
        assert errors == []
    finally:
        context.close()
    (step,) = saved_steps(db, username)
    assert_timed(step["raw_data"], "mouse")
    assert_times_match(step["raw_data"], clock.sent)


@pytest.mark.parametrize("device", ["phone_360", "desktop_1280"])
def test_taps_in_and_around_every_corner_never_clear_the_drawing(
    browser, app_url: str, db: psycopg.Connection, device: str
) -> None:
    """At every corner, where the canvas kept its invisible toolbar (its Reset sat on the top-right
    corner): a tap on the pad is a dot like any other stroke, a tap just outside it does nothing.
    (Chrome moves a touch landing within ~8 px of the pad onto it, so "outside" here is 14 px out.)"""
    touch = device.startswith("phone")
    username = f"corners_{device}"
    context = phone(browser, 360) if touch else desktop(browser)
    page, errors = open_page(context)
    stroke = (touch_stroker if touch else mouse_stroker)(context, page)
    try:
        page.goto(f"{app_url}?flow=signup&user={username}")
        wait_for_step(page, 1)
        strokes = signature(username, 1)
        draw(page, stroke, strokes)
        ink = ink_pixels(page)
        count = len(strokes)
        box = pad(page).bounding_box()
        left, top = box["x"], box["y"]
        right, bottom = left + box["width"], top + box["height"]
        for cx, cy in ((left, top), (right, top), (left, bottom), (right, bottom)):
            dx, dy = (1 if cx == left else -1), (1 if cy == top else -1)
            inside, outside = (cx + 3 * dx, cy + 3 * dy), (cx - 14 * dx, cy - 14 * dy)
            for x, y in (outside, inside):
                page.touchscreen.tap(x, y) if touch else page.mouse.click(x, y)
                if (x, y) == inside:
                    count += 1
                    expect(page.get_by_text(stroke_count_text(count), exact=True)).to_be_visible()
                else:  # nothing to wait for: give a stroke the time it takes to reach the app
                    page.wait_for_timeout(700)
                    expect(page.get_by_text(stroke_count_text(count), exact=True)).to_be_visible()
                wait_ready(page)
                assert ink_pixels(page) >= ink, f"the drawing lost ink after a tap at {(x, y)}"
                ink = ink_pixels(page)
        assert_no_toolbar(page)
        press(page, "Undo", touch)  # our Undo drops the last dot only
        expect(page.get_by_text(stroke_count_text(count - 1), exact=True)).to_be_visible()
        assert errors == []
    finally:
        context.close()
    assert saved_steps(db, username) == []  # nothing was saved: only drawn


def test_a_stroke_on_a_pad_still_loading_is_refused_visibly_then_drawing_works(
    browser, app_url: str, db: psycopg.Connection
) -> None:
    """Until the canvas has loaded and the pen recorder listens, the pad says "Loading the canvas…"
    over it and takes no ink, so no stroke is lost silently or saved without its times. The messages
    that would make it ready are held back here (the browser's websocket, routed) to see that state."""
    context = phone(browser, 390)
    page, errors = open_page(context)
    held: list[tuple[object, bytes]] = []
    holding = True

    def route(ws) -> None:
        server = ws.connect_to_server()

        def to_server(message) -> None:
            # The widget states the canvas ("backgroundFit") and the recorder ("attached") send once
            # loaded; everything else passes.
            readying = isinstance(message, bytes) and (b"backgroundFit" in message or b"attached" in message)
            if holding and readying:
                held.append((server, message))
            else:
                server.send(message)

        ws.on_message(to_server)
        server.on_message(lambda message: ws.send(message))

    page.route_web_socket("**/_stcore/stream", route)
    finger = touch_stroker(context, page)
    try:
        page.goto(f"{app_url}?flow=signup&user=early_bird")
        page.wait_for_function(f"() => ({PAD_STATE_JS})()?.covered === true", timeout=WAIT_MS)
        assert pad_state(page)["coverText"] == "Loading the canvas…"
        loading = page.get_by_text("Loading the canvas…", exact=True)
        expect(loading).to_have_count(2)  # over the pad (the recorder's cover) and under it
        expect(loading.first).to_be_visible()
        expect(loading.last).to_be_visible()
        assert_no_toolbar(page)
        screenshot(page, "phone_390_loading")
        finger(page, signature("early_bird", 1)[0])
        page.wait_for_timeout(1000)  # a stroke would reach the app in ~0.3 s; give it more
        assert ink_pixels(page) == 0
        assert held, "the pad became ready without its messages"

        holding = False
        for server, message in held:
            server.send(message)
        expect(page.get_by_text("Nothing drawn yet", exact=True)).to_be_visible()
        draw(page, finger, signature("early_bird", 1))
        press(page, "Save and continue", touch=True)
        wait_for_step(page, 2)
        assert errors == []
    finally:
        context.close()
    (step,) = saved_steps(db, "early_bird")
    assert_timed(step["raw_data"], "touch")
    assert len(step["raw_data"]["strokes"]) == len(signature("early_bird", 1))


# ---------------------------------------------------------------- the tests: whole flows


def test_phone_signup_with_a_finger_survives_a_reload(browser, app_url: str, db: psycopg.Connection) -> None:
    context = phone(browser, 390)
    page, errors = open_page(context)
    finger = touch_stroker(context, page)
    try:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "phone_start")
        begin(page, app_url, "Create account", "pat_phone", touch=True)
        wait_for_step(page, 1)
        assert_pad_fits(page, 390)

        # A tap is a dot, not a signature: refused, nothing saved.
        page.touchscreen.tap(*on_screen(page, 150, 150))
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
    assert_enrolled(db, "pat_phone", "Android 14", "touch")


def test_desktop_signup_with_the_mouse_then_sign_in(browser, app_url: str, db: psycopg.Connection) -> None:
    context = desktop(browser)
    page, errors = open_page(context)
    # Known event times: a person's rhythm is about the same each time they sign, which the verifier
    # checks; Playwright's own mouse moves take whatever time the machine's load gives them.
    mouse = mouse_stroker(context, page)
    try:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Signature enrollment")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_start")
        begin(page, app_url, "Create account", "dee_desk", touch=False)
        enroll_steps(page, mouse, "dee_desk", range(1, 3), touch=False)
        wait_for_step(page, 3)
        screenshot(page, "desktop_step")
        page.reload()
        wait_for_step(page, 3)
        enroll_steps(page, mouse, "dee_desk", range(3, SIGNUP_STEPS + 1), touch=False)
        expect(page.get_by_role("heading", name="Account created")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_success")
        assert_enrolled(db, "dee_desk", "HeadlessChrome", "mouse")

        # Sign in with the same signature, drawn again.
        press(page, "Sign in now", touch=False)
        wait_for_signin(page, "dee_desk")
        draw(page, mouse, signature("dee_desk", 21))
        press(page, "Sign", touch=False)
        expect(page.get_by_role("heading", name="Signed in")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "desktop_signin_accepted")

        # Someone else's signature is rejected, with the reason and a way to try again.
        press(page, "Done", touch=False)
        begin(page, app_url, "Sign in", "dee_desk", touch=False)
        wait_for_signin(page, "dee_desk")
        draw(page, mouse, signature("an impostor", 1))
        press(page, "Sign", touch=False)
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
    for signin in saved_steps(db, "dee_desk", "signin"):
        assert_timed(signin["raw_data"], "mouse")


# ---------------------------------------------------------------- the tests: the database not answering


def test_a_save_refused_by_a_locked_table_keeps_the_drawing_on_the_pad(
    browser, app_url: str, app_db: str, db: psycopg.Connection
) -> None:
    """The save of step 2 meets temp_enrollments locked by another connection: after the app's lock
    wait (DB_LOCK_TIMEOUT_SECONDS, 2 s by default, once to locate the session and once to save) the
    page says so in plain words, and the real canvas still holds every stroke, ink included; saved once
    the lock is gone, with its timed strokes. The link opened in another tab meanwhile says that the
    server cannot be reached, with Try again."""
    context = phone(browser, 390)
    page, errors = open_page(context)
    finger = touch_stroker(context, page)
    try:
        begin(page, app_url, "Create account", "lockie", touch=True)
        wait_for_step(page, 1)
        draw(page, finger, signature("lockie", 1))
        press(page, "Save and continue", touch=True)
        wait_for_step(page, 2)
        strokes = signature("lockie", 2)
        draw(page, finger, strokes)
        ink = ink_pixels(page)
        assert ink > 100

        with psycopg.connect(app_db) as holder:  # a transaction: the lock is held until its rollback
            holder.execute("LOCK TABLE temp_enrollments IN ACCESS EXCLUSIVE MODE")
            try:
                press(page, "Save and continue", touch=True)
                expect(page.get_by_text("so this step is not saved yet")).to_be_visible(timeout=WAIT_MS)
                page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
                expect(page.get_by_text(stroke_count_text(len(strokes)), exact=True)).to_be_visible()
                expect(page.get_by_text("Step 2 of 11", exact=True)).to_be_visible()
                assert ink_pixels(page) == ink  # the same drawing, not a redrawn or an empty canvas
                screenshot(page, "phone_390_save_unreachable")
                # The same link opened afresh (another tab: nothing shown there yet) cannot be located.
                other, other_errors = open_page(context)
                other.goto(page.url)
                heading = other.get_by_role("heading", name="We can't reach our server right now")
                expect(heading).to_be_visible(timeout=WAIT_MS)
                expect(app_button(other, "Try again")).to_be_visible()
                screenshot(other, "phone_390_unreachable")
                assert other_errors == []
            finally:
                holder.rollback()

        press(page, "Save and continue", touch=True)
        wait_for_step(page, 3)
        assert errors == []
    finally:
        context.close()
    steps = saved_steps(db, "lockie")
    assert [s["step_number"] for s in steps] == [1, 2]
    assert len(steps[1]["raw_data"]["strokes"]) == len(strokes)
    assert_timed(steps[1]["raw_data"], "touch")
