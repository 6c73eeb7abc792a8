"""For the enrollment app's browser tests: run the app on a database of its own, open phone- and
desktop-sized pages, find the pad and the app's own buttons, and draw through CDP.

The fuller drawing checks (times and points compared with what was sent) live in
test_enrollment_app_browser.py; this holds what the screen, layout and fast-tapping tests share.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from enrollment_app import canvas
from tests.streamlit_server import streamlit_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "enrollment"
WAIT_MS = 30_000  # for anything the app renders: generous on a slow shared 2-core machine
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Mobile Safari/537.36")

# Every phone from a small portrait one to a large landscape one, and a desktop: (width, height).
PHONES = [(320, 568), (360, 740), (390, 844), (568, 320), (844, 390)]
DESKTOP = (1440, 900)

# No rate limit or lockout gets in the way of tests that sign in (and are rejected) many times from one
# address; the limits and the lockout have their own tests.
NO_LIMITS = {
    "RATE_LIMIT_LOOKUPS_PER_HOUR": "0", "RATE_LIMIT_SAVES_PER_MINUTE": "0",
    "RATE_LIMIT_SESSIONS_PER_HOUR": "0", "RATE_LIMIT_UPLOAD_BYTES_PER_HOUR": "0",
    "RATE_LIMIT_SIGNINS_PER_HOUR": "0", "RATE_LIMIT_ACCOUNT_FAILURES_PER_HOUR": "0",
}


@contextmanager
def running_app(db_url: str, log_dir: Path, **env: str) -> Iterator[str]:
    """The enrollment app as `streamlit run`, on `db_url`, with these extra settings: its URL."""
    with streamlit_app("enrollment_app/app.py", {**os.environ, "DATABASE_URL": db_url, **env},
                       log_dir / "streamlit.log", toolbar_mode=None) as url:  # as ./dev start runs it
        yield url + "/"


def new_context(browser: Any, width: int, height: int, touch: bool, timezone: str | None = None) -> Any:
    """A phone (touch, 3x pixels, a phone's user agent) or a desktop (mouse) of this size."""
    options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
    if touch:
        options |= {"device_scale_factor": 3, "is_mobile": True, "has_touch": True, "user_agent": PHONE_UA}
    if timezone:
        options["timezone_id"] = timezone
    context = browser.new_context(**options)
    context.set_default_timeout(WAIT_MS)
    return context


def open_page(context: Any) -> tuple[Any, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    # With its stack: a message alone does not say whose script threw.
    page.on("pageerror", lambda e: errors.append(f"{e}\n{getattr(e, 'stack', '')}"))
    return page, errors


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """What the person sees (the viewport, unless full_page), after any entry animation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------- what is on the page

IDLE_JS = """() => !document.querySelector(
    '[data-testid^="stStatusWidgetRunning"], [data-stale="true"]')"""
PAD_ROOT_JS = """() => [...document.querySelectorAll('.st-key-drawing_pad_box *')]
    .find(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.upper-canvas'))?.shadowRoot"""
PAD_COVERED_JS = f"""() => {{
    const root = ({PAD_ROOT_JS})();
    const cover = root && root.querySelector('.pen-recorder-wait');
    return cover ? !cover.hidden : null;
}}"""
# Streamlit's own error dialogs ("Connection error … Cached ForwardMsg MISS … Please report this bug")
# and an exception shown in the page: what a person must never see.
STREAMLIT_ERROR_JS = """() => {
    const found = [];
    for (const d of document.querySelectorAll('[role="dialog"], [data-testid="stException"]')) {
        const text = d.innerText || '';
        if (/Connection error|ForwardMsg|report this bug|Traceback|Error/i.test(text)
            || d.matches('[data-testid="stException"]')) found.push(text.slice(0, 400));
    }
    return found;
}"""


def idle(page: Any, timeout: float = WAIT_MS) -> None:
    page.wait_for_function(IDLE_JS, timeout=timeout)


# The step's pad: 'ready' (one, taking ink), 'none' (a screen without one) or 'waiting' (loading).
PAD_STATE_JS = f"""() => {{
    const pads = document.querySelectorAll('.st-key-drawing_pad_box').length;
    if (pads === 0) return 'none';
    return pads === 1 && ({PAD_COVERED_JS})() === false ? 'ready' : 'waiting';
}}"""


def pad(page: Any) -> Any:
    return page.locator("canvas.upper-canvas")


def wait_pad_ready(page: Any, timeout: float = WAIT_MS) -> None:
    """The step's pad takes ink: one canvas, its "Loading the canvas…" cover lifted."""
    idle(page, timeout)
    page.wait_for_function(f"() => ({PAD_STATE_JS})() === 'ready'", timeout=timeout)


def wait_settled(page: Any, timeout: float = WAIT_MS) -> None:
    """The app has finished and its screen is whole: no pad (a verdict, the start page) or one pad that
    takes ink. A pad seen a moment before need not stay: a tap on Sign made while the pen's last stroke
    was still on its way is carried out when the stroke arrives (up to 5 s later), after the app looked
    idle, and then a verdict replaces the pad."""
    idle(page, timeout)
    page.wait_for_function(f"() => ['ready', 'none'].includes(({PAD_STATE_JS})())", timeout=timeout)


def app_button(page: Any, name: str) -> Any:
    """One of the app's own buttons, by its words."""
    return page.locator("[data-testid^='stBaseButton']").filter(has_text=name)


def streamlit_errors(page: Any) -> list[str]:
    return page.evaluate(STREAMLIT_ERROR_JS)


def touch_line(cdp: Any, page: Any, points: list[tuple[float, float]]) -> None:
    """A finger stroke through CDP, points in canvas pixels (the pad may be scaled)."""
    box = pad_box(page)
    if box is None:
        return
    scale = box["width"] / canvas.CANVAS_WIDTH

    def send(kind: str, x: float, y: float) -> None:
        finger = [] if kind == "touchEnd" else [
            {"x": box["x"] + x * scale, "y": box["y"] + y * scale, "radiusX": 2, "radiusY": 2, "force": 0.5}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": finger})

    send("touchStart", *points[0])
    for x, y in points[1:]:
        send("touchMove", x, y)
    send("touchEnd", *points[-1])


def pad_box(page: Any) -> dict[str, float] | None:
    """Where the pad is on screen, or None when it went away meanwhile (fast taps change screens)."""
    try:
        return pad(page).first.bounding_box(timeout=1000)  # type: ignore[no-any-return]
    except Exception:  # playwright's TimeoutError: the pad is gone
        return None


def mouse_line(page: Any, points: list[tuple[float, float]]) -> None:
    box = pad_box(page)
    if box is None:
        return
    scale = box["width"] / canvas.CANVAS_WIDTH
    page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
    page.mouse.up()
