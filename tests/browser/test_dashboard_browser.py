"""The dashboard in a real headless Chromium on demo data plus a person who signed in: sign in with a name,
the charts render, a row click shows its drawings at once with automatic refresh off, Clear works, a
person found by name shows their sign-in attempts beside the enrolled signatures and the lock of the
address they were forged from, Unlock asks first and then the lock is gone, cleanup is logged under the
name. Text that came from a client stays text (no request to an outside host, no <img>), no
label or button is cut, and no request leaves the machine. Every page at every width has no serious or
critical axe-core violation and no control under 44 px; on a phone the sidebar folds away after a
choice and a tapped session's drawings are scrolled into view. Screenshots at 390, 1280, 1440 and
1920 px go to artifacts/ (look at them)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dashboard.selection import ROW_PX
from enrollment_core import monitoring
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import insert_demo_step, seed_demo_data
from enrollment_core.queries import query
from enrollment_core.service import ClientInfo, EnrollmentService
from tests.flows import draw_signin, register_user
from tests.streamlit_server import CHROME_ARGS, CHROMIUM, streamlit_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
PASSWORD = "browser-test-password"
STAFF = "Sam Support"
# What a client could put in any text field: Markdown that would fetch an image, and HTML.
HOSTILE = "![x](http://attacker.example/pixel.png)<img src=x onerror=alert(1)>"
HOSTILE_SESSION = "sess_hostile" + "h" * 24
PERSON = "Frida_K"
LOCKED_ADDRESS = "203.0.113.9"
ATTEMPT_DEVICE = "Mozilla/5.0 (Linux; Android 15; Pixel 9) Chrome/131.0 Mobile"


def add_hostile_session(db: psycopg.Connection) -> None:
    """A live session whose username, instruction, device, address and metrics are all hostile text."""
    now = datetime.now(UTC)
    enrollment_id = db.execute(
        query("demo_insert_enrollment"),
        {
            "session_id": HOSTILE_SESSION,
            "username": HOSTILE,
            "flow_type": "signup",
            "status": "in_progress",
            "device_info": HOSTILE,
            "metadata": Jsonb({"ip": HOSTILE}),
            "created_at": now - timedelta(minutes=90),  # the oldest live one: the last row, out of the way
            "updated_at": now - timedelta(minutes=85),
            "expires_at": now + timedelta(minutes=30),
            "completed_at": None,
            "step_count": 2,
        },
    ).fetchone()["id"]
    for number in (1, 2):
        insert_demo_step(db, enrollment_id, "hostile", "signup", number, now - timedelta(minutes=89 - number))
    db.execute(
        "UPDATE temp_enrollment_steps SET instruction = %s, metrics = %s WHERE enrollment_id = %s",
        (HOSTILE, Jsonb({"note": HOSTILE}), enrollment_id),
    )


@pytest.fixture
def dashboard_url(db_url: str, db, tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=db_url)
    with create_pool(db_url, settings, name="seed") as pool:
        seed_demo_data(pool, sessions=80)
        service = EnrollmentService(pool, settings)
        register_user(service, PERSON)
        service.login(
            PERSON, draw_signin(service, PERSON), client=ClientInfo("iPhone Safari", "198.51.100.7")
        )
        # Five forged sign-ins in a row from one address: that address is locked out of the account.
        for sample in range(60, 65):
            rejected = draw_signin(service, PERSON, person="mallory", sample=sample)
            service.login(PERSON, rejected, client=ClientInfo(ATTEMPT_DEVICE, LOCKED_ADDRESS))
    add_hostile_session(db)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DASHBOARD_PASSWORD": PASSWORD,
        # The backlog stays visible for the screenshots (the periodic cleanup would delete it at start).
        "DASHBOARD_BACKGROUND_CLEANUP": "0",
    }
    with streamlit_app("dashboard/app.py", env, tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page with every request and dialog it made recorded."""

    def __init__(self, browser, width: int, height: int = 2400, touch: bool = False) -> None:
        self.page = browser.new_page(
            viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
        )
        self.width = width
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def outside_requests(self) -> list[str]:
        """Requests to anything but this machine (data: and blob: URLs stay in the page)."""
        return [
            url
            for url in self.requests
            if urlparse(url).scheme not in ("data", "blob")
            and urlparse(url).hostname not in ("127.0.0.1", "localhost")
        ]


def wait_until_idle(page) -> None:
    """Until Streamlit's "running" indicator is gone (the script and its fragments have finished)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )


def assert_no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def cut_texts(page) -> list[str]:
    """Metric labels and values, buttons, segmented controls and tabs whose text does not fit (ellipsis)."""
    return page.evaluate(
        """() => {
            const selectors = ['[data-testid="stMetricLabel"] p', '[data-testid="stMetricValue"] div',
                               '[data-testid="stMetricValue"]', 'button p', 'button div p',
                               '[data-testid="stMarkdownContainer"] p'];
            const cut = [];
            for (const el of document.querySelectorAll(selectors.join(','))) {
                if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) cut.push(el.innerText);
            }
            return cut;
        }"""
    )


# Every control a finger can tap, measured by the box it is tapped in (a field, not the text inside it).
SMALL_TARGETS = """() => {
    const controls = 'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button], '
        + '[role=tab], [role=checkbox], [role=radio], [role=switch], [role=combobox], [role=option], '
        + '[role=spinbutton]';
    const fields = '[data-testid="stSelectbox"] [role="group"], [data-testid="stTextInputRootElement"], '
        + '[data-testid="stNumberInputContainer"], [data-testid="stDateInputField"]';
    const small = [];
    for (const el of document.querySelectorAll(controls)) {
        if (el.matches('[data-testid="stSkipToContent"]')) continue;  // hidden until focused, then large
        const sidebar = el.closest('[data-testid="stSidebar"]');
        if (sidebar && sidebar.getBoundingClientRect().right < 50) continue;  // folded away
        const own = el.getBoundingClientRect();
        if (own.width === 0 || own.height === 0 || getComputedStyle(el).visibility === 'hidden'
            || el.closest('[aria-hidden="true"]')) continue;
        const box = el.closest(fields) ? el.closest(fields).getBoundingClientRect() : own;
        if (box.width < 43.5 || box.height < 43.5) {
            const name = (el.getAttribute('aria-label') || el.innerText || el.tagName).slice(0, 40);
            small.push(`${name.trim()} ${Math.round(box.width)}x${Math.round(box.height)}`);
        }
    }
    return small;
}"""


def small_targets(page) -> list[str]:
    """Controls under 44 x 44 px (WCAG 2.5.5's target size, the usual minimum for a finger)."""
    return page.evaluate(SMALL_TARGETS)


def serious_accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page, where: str) -> None:
    assert serious_accessibility_problems(page) == [], where
    assert small_targets(page) == [], where


def assert_hostile_text_stays_text(watched: Watched) -> None:
    page = watched.page
    assert page.evaluate('document.querySelectorAll(\'img[src="x"], img[src*="attacker"]\').length') == 0
    links = page.evaluate("[...document.querySelectorAll('a[href*=\"attacker.example\"]')].map(a => a.href)")
    assert links == []  # nor a link
    assert not [url for url in watched.requests if "attacker.example" in url]
    assert watched.dialogs == []


def open_page(watched: Watched, name: str) -> None:
    page = watched.page
    unfold = page.locator('[data-testid="stExpandSidebarButton"]')
    if watched.width < 640 and unfold.count():  # the sidebar is folded away on a phone
        unfold.click()
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name).first.wait_for(timeout=30_000)
    if watched.width < 640 and not unfold.count():  # fold it again to see the page
        page.locator('[data-testid="stSidebarCollapseButton"] button').click()
        unfold.wait_for()
    wait_until_idle(page)


def sign_in(watched: Watched, url: str) -> None:
    page = watched.page
    page.goto(url)
    password = page.locator('input[type="password"]')
    password.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stMetric"]').count() == 0  # nothing before signing in
    page.locator('input[aria-label="Your name"]').fill(STAFF)
    password.fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stMetric"]').nth(3).wait_for(timeout=30_000)
    wait_until_idle(page)


def set_refresh_off(watched: Watched) -> None:
    page = watched.page
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Refresh every").click()
    page.get_by_role("option", name="Off").click()
    wait_until_idle(page)


def click_table_row(page, table, row: int) -> None:
    """Click a row's selection box in a Streamlit table (a canvas: the console's selectable tables have
    44 px rows, for touch, under a header as high)."""
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + ROW_PX + ROW_PX * row + ROW_PX // 2)


def first_live_sessions(db, n: int) -> list[dict]:
    """The sessions table's first rows, as the default view orders them (newest first)."""
    return db.execute(
        """SELECT te.session_id, te.username, te.flow_type, te.step_count FROM temp_enrollments te
           WHERE te.status = 'in_progress' AND te.expires_at > NOW()
           ORDER BY te.created_at DESC, te.id DESC LIMIT %s""",
        (n,),
    ).fetchall()


def test_staff_find_a_session_and_a_person_and_clean_up(dashboard_url: str, db, browser) -> None:
    watched = Watched(browser, 1440)
    page = watched.page
    sign_in(watched, dashboard_url)

    # Overview: four cards, five charts drawn (canvas or svg inside each), nothing cut.
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(4).wait_for(timeout=30_000)
    wait_until_idle(page)
    assert charts.count() == 5
    for i in range(5):
        charts.nth(i).locator("canvas, svg").first.wait_for(timeout=15_000)
    assert_no_errors(page)
    assert cut_texts(page) == []

    # Sessions, with automatic refresh off: a click shows that session's drawings within seconds.
    set_refresh_off(watched)
    open_page(watched, "Sessions")
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(timeout=30_000)
    page.get_by_text("Click a row of the table").wait_for()
    clear = page.get_by_role("button", name="Clear", exact=True)
    assert clear.is_disabled()
    first, third = first_live_sessions(db, 3)[0], first_live_sessions(db, 3)[2]
    for row, session in ((0, first), (2, third)):
        started = time.monotonic()
        click_table_row(page, table, row)
        flow = "Sign-up" if session["flow_type"] == "signup" else "Sign-in"
        page.get_by_role("heading", name=f"{session['username']} · {flow}").wait_for(timeout=10_000)
        images = page.locator('[data-testid="stImage"] img')
        images.nth(session["step_count"] - 1).wait_for(timeout=10_000)
        assert time.monotonic() - started < 5, "the drawings took more than a few seconds"
        wait_until_idle(page)
        assert images.count() == session["step_count"]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        timeout=30_000,
    )
    assert not clear.is_disabled()
    assert_no_errors(page)
    assert cut_texts(page) == []
    page.screenshot(path=str(ARTIFACTS / "dashboard_2_sessions_drill_down_1440.png"), full_page=True)
    clear.click()
    page.get_by_text("Click a row of the table").wait_for(timeout=10_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stImage"]').count() == 0 and clear.is_disabled()

    # A session pasted by id whose every client text is hostile: shown literally, nothing loaded.
    paste = page.locator('input[aria-label="Session id"]')
    paste.fill(HOSTILE_SESSION)
    paste.press("Enter")
    page.get_by_text(HOSTILE, exact=True).first.wait_for(timeout=10_000)
    page.locator('[data-testid="stImage"] img').nth(1).wait_for(timeout=10_000)
    wait_until_idle(page)
    assert_hostile_text_stays_text(watched)

    # People: the hostile session's person, by session id: the name is shown as text.
    open_page(watched, "People")
    search = page.locator('input[aria-label="Username or session id"]')
    search.fill(HOSTILE_SESSION)
    search.press("Enter")
    # (The heading's text holds an invisible word joiner after "http:", which keeps it from being a link.)
    page.get_by_role("heading").filter(has_text="onerror=alert(1)").first.wait_for(timeout=30_000)
    page.locator('[data-testid="stImage"] img').nth(1).wait_for(timeout=10_000)  # its drawings, chosen
    wait_until_idle(page)
    assert_hostile_text_stays_text(watched)

    # People: found by name in another case, the attempts and the rejected one beside the signatures.
    search.fill(PERSON.lower())
    search.press("Enter")
    page.get_by_role("heading", name=PERSON).wait_for(timeout=30_000)
    page.get_by_text("Attempt of").wait_for(timeout=30_000)
    wait_until_idle(page)
    assert page.get_by_text("Rejected, does not match").count() == 1  # the latest attempt, chosen
    # The device in words; the string it sent only on demand.
    assert page.locator('[data-testid="stText"]').filter(has_text="Chrome 131 on Android 15").count() == 1
    assert page.locator('[data-testid="stText"]').filter(has_text=ATTEMPT_DEVICE).count() == 0
    page.get_by_role("button", name="As sent").first.click()
    page.locator('[data-testid="stText"]').filter(has_text=ATTEMPT_DEVICE).first.wait_for(timeout=10_000)
    page.keyboard.press("Escape")
    # The attempt and the 5 enrolled signatures (the folded gallery of all 11 drawings is not shown).
    images = page.locator('[data-testid="stImage"] img').filter(visible=True)
    assert images.count() == 6
    for i in range(6):
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle()
        )
    assert_no_errors(page)
    assert cut_texts(page) == []
    page.screenshot(path=str(ARTIFACTS / "dashboard_5_people_1440.png"), full_page=True)

    # Maintenance: cleanup, confirmed, runs and is logged under the name given at sign-in.
    open_page(watched, "Maintenance")
    backlog = "status IN ('in_progress', 'expired') AND expires_at < NOW()"
    before = db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {backlog}").fetchone()["n"]
    assert before > 0
    page.get_by_role("button", name="Run cleanup now…").click()
    page.get_by_role("button", name="Delete expired sessions").wait_for()
    wait_until_idle(page)
    assert cut_texts(page) == []
    page.get_by_role("button", name="Delete expired sessions").click()
    page.get_by_text(f"Cleanup removed {before} expired session(s)").wait_for(timeout=30_000)
    wait_until_idle(page)
    assert db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {backlog}").fetchone()["n"] == 0
    log = db.execute("SELECT staff_name, action, succeeded, result FROM staff_actions").fetchall()
    assert log == [
        {"staff_name": STAFF, "action": "cleanup", "succeeded": True, "result": {"removed": before}}
    ]
    assert_no_errors(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard_4_after_cleanup_1440.png"), full_page=True)

    assert watched.outside_requests() == []  # icon, fonts, everything served by the app itself


def test_staff_unlock_a_locked_person(dashboard_url: str, db, browser) -> None:
    """Found by name: the attempts and the lock in words; Unlock asks first, then the lock is gone."""
    watched = Watched(browser, 1280)
    page = watched.page
    sign_in(watched, dashboard_url)
    set_refresh_off(watched)
    open_page(watched, "People")
    # Before any search: who is refused now; a click on the person opens them.
    page.get_by_text("Click a person to open them").wait_for(timeout=30_000)
    refused = page.locator('[data-testid="stDataFrame"]').first
    page.screenshot(path=str(ARTIFACTS / "dashboard_6_people_refused_now_1280.png"), full_page=True)
    click_table_row(page, refused, 0)
    page.get_by_role("heading", name=PERSON).wait_for(timeout=30_000)
    page.get_by_text("Attempt of").wait_for(timeout=30_000)
    wait_until_idle(page)
    # Found by name too (the search box now holds the name the row opened).
    search = page.locator('input[aria-label="Username or session id"]')
    assert search.input_value() == PERSON
    search.fill(PERSON)
    search.press("Enter")
    page.get_by_text("Attempt of").wait_for(timeout=30_000)
    wait_until_idle(page)
    lock = page.get_by_text(f"Locked out from {LOCKED_ADDRESS} until")
    assert lock.count() == 1 and "after 5 rejected sign-ins in a row" in lock.inner_text()
    assert page.locator('[data-testid="stDataFrame"]').first.is_visible()  # the attempts
    page.get_by_role("button", name=f"Unlock {LOCKED_ADDRESS}…").click()
    confirm = page.get_by_role("button", name="Unlock", exact=True)
    confirm.wait_for(timeout=10_000)
    page.get_by_text(f"Unlock sign-in for {PERSON} from {LOCKED_ADDRESS}?").wait_for()
    wait_until_idle(page)
    assert cut_texts(page) == []
    assert db.execute("SELECT count(*) AS n FROM staff_actions").fetchone()["n"] == 0
    page.screenshot(path=str(ARTIFACTS / "dashboard_6_people_unlock_confirm_1280.png"), full_page=True)
    confirm.click()
    page.get_by_text(f"Unlocked sign-in for {PERSON} from {LOCKED_ADDRESS}.").wait_for(timeout=30_000)
    page.get_by_text("Nothing stops this person from signing in.").wait_for(timeout=10_000)
    wait_until_idle(page)
    assert page.get_by_text("Locked out from").count() == 0
    row = db.execute("SELECT staff_name, action, target, succeeded FROM staff_actions").fetchone()
    assert row == {
        "staff_name": STAFF,
        "action": "unlock_sign_in",
        "target": f"{PERSON} from {LOCKED_ADDRESS}",
        "succeeded": True,
    }
    assert_no_errors(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard_6_people_unlocked_1280.png"), full_page=True)
    assert watched.outside_requests() == []


@pytest.mark.parametrize("width", [390, 1280, 1440, 1920])
def test_every_page_fits_the_screen(dashboard_url: str, browser, width: int) -> None:
    watched = Watched(browser, width)
    page = watched.page
    sign_in(watched, dashboard_url)
    page.locator('[data-testid="stVegaLiteChart"]').nth(4).locator("canvas, svg").first.wait_for(
        timeout=30_000
    )
    wait_until_idle(page)
    pages = {"Overview": None, "People": PERSON, "Sessions": HOSTILE_SESSION, "Maintenance": None}
    for number, (name, search) in enumerate(pages.items(), start=1):
        if name != "Overview":
            open_page(watched, name)
        if name == "People":
            box = page.locator('input[aria-label="Username or session id"]')
            box.fill(search)
            box.press("Enter")
            page.get_by_text("Attempt of").wait_for(timeout=30_000)
        if name == "Sessions":
            box = page.locator('input[aria-label="Session id"]')
            box.fill(search)
            box.press("Enter")
            page.locator('[data-testid="stImage"] img').nth(1).wait_for(timeout=30_000)
        wait_until_idle(page)
        assert_no_errors(page)
        assert_accessible(page, f"{name} at {width} px")
        if width >= 1280:
            assert cut_texts(page) == [], name
        if width < 640:  # cards stack: each takes the whole width
            cards = page.locator('[data-testid="stMetric"]')
            widths = [cards.nth(i).bounding_box()["width"] for i in range(cards.count())]
            assert widths and min(widths) > width * 0.7, name
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard_{number}_{name.lower()}_{width}.png"), full_page=True
        )
    assert_hostile_text_stays_text(watched)
    assert watched.outside_requests() == []


def test_on_a_phone_the_console_folds_its_sidebar_and_brings_what_was_tapped_into_view(
    dashboard_url: str, db, browser
) -> None:
    """390 x 844 with touch: a choice in the sidebar (a time zone, a page) folds it away; every time then
    says the zone chosen; a tapped session's drawings are scrolled into view; part of a name lists the
    people holding it, and a tap opens one."""
    watched = Watched(browser, 390, 844, touch=True)
    page = watched.page
    sign_in(watched, dashboard_url)
    unfold = page.locator('[data-testid="stExpandSidebarButton"]')
    assert unfold.is_visible()  # a phone starts with the sidebar folded

    unfold.click()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Time zone").click()
    page.keyboard.type("Kolkata")
    page.get_by_role("option", name="Asia/Kolkata").click()
    unfold.wait_for(timeout=5_000)  # folded again by the choice
    wait_until_idle(page)
    page.locator('[data-testid="stCaptionContainer"]').filter(has_text=" IST · refreshes every").wait_for()
    set_refresh_off_on_a_phone(watched)

    unfold.click()
    page.get_by_role("link", name="Sessions").click()
    page.get_by_role("heading", name="Sessions").first.wait_for(timeout=30_000)
    unfold.wait_for(timeout=5_000)
    wait_until_idle(page)
    page.get_by_text("Started between (Asia/Kolkata)").wait_for(timeout=10_000)
    second = first_live_sessions(db, 2)[1]
    click_table_row(page, page.locator('[data-testid="stDataFrame"]').first, 1)
    flow = "Sign-up" if second["flow_type"] == "signup" else "Sign-in"
    heading = page.get_by_role("heading", name=f"{second['username']} · {flow}")
    heading.wait_for(timeout=10_000)
    wait_until_idle(page)
    # Brought to the top of the screen (just below Streamlit's header bar), not left below the table.
    page.wait_for_function(
        """() => {
            const top = document.querySelector('.st-key-session_drawings').getBoundingClientRect().y;
            const bar = document.querySelector('[data-testid="stHeader"]').getBoundingClientRect().bottom;
            return top >= bar - 2 && top < bar + 40;
        }""",
        timeout=5_000,
    )
    assert heading.bounding_box()["y"] < 844
    assert page.get_by_text(" IST", exact=False).count() > 0
    assert_accessible(page, "Sessions, a session open, on a phone")
    page.screenshot(path=str(ARTIFACTS / "dashboard_phone_session_tapped_390.png"))

    unfold.click()
    page.get_by_role("link", name="People").click()
    page.get_by_role("heading", name="People").first.wait_for(timeout=30_000)
    unfold.wait_for(timeout=5_000)
    search = page.locator('input[aria-label="Username or session id"]')
    search.fill("a_0")  # part of several demo names
    search.press("Enter")
    page.get_by_text("Their usernames contain “a_0”.").wait_for(timeout=30_000)
    wait_until_idle(page)
    names = list(monitoring.people_matching(db, "a_0")["username"])
    assert len(names) > 1 and all("a_0" in name.lower() for name in names)
    assert_accessible(page, "People, matches, on a phone")
    page.screenshot(path=str(ARTIFACTS / "dashboard_phone_people_matches_390.png"), full_page=True)
    click_table_row(page, page.locator('[data-testid="stDataFrame"]').first, 0)
    page.get_by_role("heading", name=names[0]).wait_for(timeout=30_000)
    wait_until_idle(page)
    assert search.input_value() == names[0]
    assert_no_errors(page)
    assert watched.outside_requests() == []


def set_refresh_off_on_a_phone(watched: Watched) -> None:
    page = watched.page
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    set_refresh_off(watched)
    page.locator('[data-testid="stExpandSidebarButton"]').wait_for(timeout=5_000)
