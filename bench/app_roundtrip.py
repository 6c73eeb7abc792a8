"""App round-trip benchmark: in the enrollment app, how long from the tap on "Save and continue" until
the next step's pad is drawn, measured in headless Chromium over full 11-step enrollments.

The app runs as `./dev start` runs it (`streamlit run enrollment_app/app.py`) on a scratch database. A
phone-sized page (390 x 844, touch) enrolls a person: each step's drawing is drawn with a finger
(CDP touch events) and, once the app has received every stroke, the Save button is tapped. A script in
the page stamps, on the browser's own clock:
  tap     the click on Save;
  drawn   the next step's pad is on screen and ready to look at: the progress says the next step, one
          pad is left (a new one, not the old) and its guide (grey strip, baseline) is painted;
  idle    the app has finished its reruns (no "running" indicator, nothing greyed out) and says the
          pad is ready ("Nothing drawn yet", shown once the pad has reported itself loaded): strokes
          drawn from then on cannot be lost.
For the last step, "drawn" is the "Account created" page. Reported: p50 / p90 of tap -> drawn and
tap -> idle over the step-to-step saves (steps 1-10), and the last step apart (it creates the account).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from enrollment_core import sample_drawings, step_plan

from .common import RESULTS_DIR, Results, fmt, median, percentile, table
from .http_save import load_average
from .processes import answers, free_port, server_process

CHROMIUM = "/usr/bin/chromium"  # Debian's (./dev test installs it)
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True}  # fmt: skip
WAIT_MS = 60_000  # anything the app renders, on a loaded 2-core machine
PAD_TOP = 65  # where drawings start on the pad (canvas px), as the other benches draw them
SIGNUP_STEPS = step_plan.total_steps("signup")

# Shadow roots are open (Components v2): the page's own script can walk into them.
PAGE_HELPERS = """
window.__deep = (selector) => {
    const found = [];
    const walk = (root) => {
        root.querySelectorAll(selector).forEach((e) => found.push(e));
        root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
    };
    walk(document);
    return found;
};
window.__guidePainted = (c) => c.getContext('2d').getImageData(c.width - 5, 5, 1, 1).data[3] > 0;
window.__appIdle = () =>
    !document.querySelector('[data-testid^="stStatusWidgetRunning"], [data-stale="true"]');
// The pad takes ink: the pen recorder lifted its "Loading the canvas..." cover.
window.__padReady = () => {
    if (!window.__appIdle()) return false;
    const root = [...document.querySelectorAll('.st-key-drawing_pad_box *')]
        .find((e) => e.shadowRoot && e.shadowRoot.querySelector('canvas.upper-canvas'))?.shadowRoot;
    const cover = root && root.querySelector('.pen-recorder-wait');
    return !!root && (!cover || cover.hidden);
};
"""

# Armed before the tap; stamps tap, drawn and idle (performance.now(), ms) into window.__roundTrip.
ARM_JS = """([nextText]) => {
    const old = window.__deep('canvas.dc-background-canvas')[0] || null;
    const trip = window.__roundTrip = {tap: null, drawn: null, idle: null};
    document.addEventListener('click', (e) => { trip.tap = e.timeStamp; }, {capture: true, once: true});
    const drawn = () => {
        if (nextText === 'Account created') {
            return [...document.querySelectorAll('h1')].some((h) => h.textContent.includes(nextText));
        }
        const progress = document.querySelector('[data-testid="stProgress"]');
        if (!progress || !progress.textContent.includes(nextText)) return false;
        const pads = window.__deep('canvas.dc-background-canvas');
        return pads.length === 1 && pads[0] !== old && window.__guidePainted(pads[0]);
    };
    const watch = () => {
        const now = performance.now();
        if (trip.tap !== null && trip.drawn === null && drawn()) trip.drawn = now;
        const idle = nextText === 'Account created' ? window.__appIdle() : window.__padReady();
        if (trip.drawn !== null && trip.idle === null && idle) trip.idle = now;
        if (trip.idle === null) requestAnimationFrame(watch);
    };
    requestAnimationFrame(watch);
}"""


@contextmanager
def enrollment_app(url: str, log_path: Path, startup_seconds: float = 90) -> Iterator[str]:
    """`streamlit run enrollment_app/app.py` (with ./dev start's options) on database `url`."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "enrollment_app/app.py", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with server_process(
        command,
        log_path,
        env={**os.environ, "DATABASE_URL": url},
        ready=lambda: answers(f"{base}/_stcore/health"),
        what="the enrollment app",
        startup_seconds=startup_seconds,
    ):
        yield base + "/"


# ---------------------------------------------------------------- a person enrolling


def step_strokes(number: int, person: str) -> list[list[tuple[float, float]]]:
    """What the person draws at this signup step, inside the pad's drawing area."""
    drawn = sample_drawings.strokes_for_step("signup", number, person, 0)
    return [[(x, y + PAD_TOP - 40) for x, y in stroke] for stroke in drawn]


class Finger:
    """Strokes through CDP touch events (Playwright's touchscreen.tap only makes dots)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.page, self.cdp = page, context.new_cdp_session(page)

    def stroke(self, points: list[tuple[float, float]]) -> None:
        box = self.page.locator("canvas.upper-canvas").bounding_box()

        def at(x: float, y: float) -> list[dict[str, Any]]:
            return [{"x": box["x"] + x, "y": box["y"] + y, "radiusX": 2, "radiusY": 2, "force": 1, "id": 0}]

        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
        for x, y in points[1:]:
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(x, y)})
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _wait_ready(page: Any) -> None:
    page.wait_for_function(
        "() => window.__padReady() && window.__deep('canvas.dc-background-canvas').length === 1"
        " && window.__guidePainted(window.__deep('canvas.dc-background-canvas')[0])",
        timeout=WAIT_MS,
    )


def _draw(page: Any, finger: Finger, strokes: list[list[tuple[float, float]]]) -> None:
    _wait_ready(page)
    for i, points in enumerate(strokes, start=1):
        finger.stroke(points)
        label = f"{i} stroke{'s' if i != 1 else ''} on the canvas"
        page.get_by_text(label, exact=True).wait_for(timeout=WAIT_MS)


def _save_button(page: Any) -> Any:
    return page.locator("[data-testid^='stBaseButton']").filter(has_text="Save and continue")


def enroll(browser: Any, app_url: str, username: str, steps: int) -> list[dict[str, float]]:
    """One person's signup through `steps` steps; the round trip of each save (ms)."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(PAGE_HELPERS)
    page = context.new_page()
    finger = Finger(context, page)
    trips = []
    try:
        page.goto(app_url)
        page.get_by_role("radio", name="Create account", exact=True).tap()
        page.get_by_role("textbox", name="Username").fill(username)
        page.locator("[data-testid^='stBaseButton']").filter(has_text="Continue").tap()
        page.get_by_text(f"Step 1 of {SIGNUP_STEPS}", exact=True).wait_for(timeout=WAIT_MS)
        for number in range(1, steps + 1):
            _draw(page, finger, step_strokes(number, username))
            last = number == SIGNUP_STEPS
            page.evaluate(ARM_JS, ["Account created" if last else f"Step {number + 1} of {SIGNUP_STEPS}"])
            _save_button(page).tap()
            try:
                page.wait_for_function("() => window.__roundTrip.idle !== null", timeout=WAIT_MS)
            except Exception:
                shot = RESULTS_DIR / f"app-roundtrip-failed-step{number}.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
                trip = page.evaluate("window.__roundTrip")
                print(f"step {number}: no round trip within {WAIT_MS} ms ({trip}); screenshot {shot}")
                raise
            trip = page.evaluate("() => window.__roundTrip")
            drawn, idle = trip["drawn"] - trip["tap"], trip["idle"] - trip["tap"]
            trips.append({"step": number, "drawn_ms": drawn, "idle_ms": idle})
    finally:
        context.close()
    return trips


# ---------------------------------------------------------------- the run


def summarize(trips: list[dict[str, float]]) -> dict[str, Any]:
    between = [t for t in trips if t["step"] < SIGNUP_STEPS]
    last = [t for t in trips if t["step"] == SIGNUP_STEPS]
    figures: dict[str, Any] = {"saves": len(between)}
    for what in ("drawn_ms", "idle_ms"):
        values = [t[what] for t in between]
        figures[what] = {"p50": percentile(values, 50), "p90": percentile(values, 90), "max": max(values)}
        figures[f"last_{what}"] = median([t[what] for t in last]) if last else math.nan
    return figures


def report(figures: dict[str, Any]) -> str:
    rows = [
        [
            label,
            figures["saves"],
            fmt(figures[what]["p50"], 0),
            fmt(figures[what]["p90"], 0),
            fmt(figures[what]["max"], 0),
            fmt(figures[f"last_{what}"], 0),
        ]
        for label, what in (("tap -> next pad drawn", "drawn_ms"), ("tap -> app idle", "idle_ms"))
    ]
    return table(["round trip", "saves (steps 1-10)", "p50 ms", "p90 ms", "max ms", "last step ms"], rows)


def run(url: str, *, quick: bool, enrollments: int | None = None) -> Results:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium")
    enrollments = enrollments or (1 if quick else 3)
    steps = 3 if quick else SIGNUP_STEPS
    results = Results("app", quick)
    load_before = load_average()
    print(
        f"app round-trip benchmark: {enrollments} enrollment(s) x {steps} steps on a 390 px phone page "
        f"(touch); load average {load_before} (1, 5, 15 min)"
    )
    trips: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-app-") as scratch,
        enrollment_app(url, Path(scratch) / "streamlit.log") as app_url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            for n in range(enrollments):
                trips += enroll(browser, app_url, f"bench_app_{os.getpid()}_{n}", steps)
        finally:
            browser.close()
    figures = summarize(trips)
    load_after = load_average()
    print(report(figures))
    print(f"load average before {load_before}, after {load_after} (1, 5, 15 min)")
    results.data.update(
        figures=figures, trips=trips, enrollments=enrollments, load_average_before=load_before,
        load_average_after=load_after,
    )  # fmt: skip
    return results
