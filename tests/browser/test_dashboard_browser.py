"""The dashboard in a real headless Chromium on demo data: sign in, the charts render, no error boxes, a
session's drawings load. Screenshots go to artifacts/ (look at them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.demo_data import seed_demo_data
from tests.streamlit_server import CHROME_ARGS, CHROMIUM, streamlit_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
PASSWORD = "browser-test-password"


@pytest.fixture
def dashboard_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    with create_pool(db_url, Settings(database_url=db_url), name="seed") as pool:
        seed_demo_data(pool, sessions=80)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DASHBOARD_PASSWORD": PASSWORD,
        # The backlog stays visible for the screenshots (the periodic cleanup would delete it at start).
        "DASHBOARD_BACKGROUND_CLEANUP": "0",
    }
    with streamlit_app("dashboard/app.py", env, tmp_path / "streamlit.log") as url:
        yield url


def assert_no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def wait_until_idle(page) -> None:
    """Until Streamlit's "running" indicator is gone (the script and its fragments have finished)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )


def test_dashboard_in_a_real_browser(dashboard_url: str, db) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    target = db.execute(
        """SELECT te.session_id, te.username, count(s.id) AS steps
           FROM temp_enrollments te JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
           WHERE te.status = 'in_progress' AND te.expires_at > NOW()
           GROUP BY te.id ORDER BY count(s.id) DESC, te.id LIMIT 1"""
    ).fetchone()
    assert target and target["steps"] >= 2

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 2400})
            page.goto(dashboard_url)

            # Sign in: before that, no data at all.
            password = page.locator('input[type="password"]')
            password.wait_for(timeout=30_000)
            assert page.locator('[data-testid="stMetric"]').count() == 0
            page.screenshot(path=str(ARTIFACTS / "dashboard_0_sign_in.png"))
            password.fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            # Overview: four cards, five Altair charts drawn (canvas or svg inside each).
            page.locator('[data-testid="stMetric"]').nth(3).wait_for(timeout=30_000)
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            charts.nth(4).wait_for(timeout=30_000)
            wait_until_idle(page)
            assert charts.count() == 5
            for i in range(5):
                charts.nth(i).locator("canvas, svg").first.wait_for(timeout=15_000)
            assert_no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard_1_overview.png"), full_page=True)

            # Sessions: the table, then a session's drawings.
            page.get_by_role("link", name="Sessions").click()
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
            session_input = page.get_by_label("Session id")
            session_input.fill(target["session_id"])
            session_input.press("Enter")
            page.get_by_text(f"{target['username']} · ", exact=False).first.wait_for(timeout=30_000)
            images = page.locator('[data-testid="stImage"] img')
            images.nth(target["steps"] - 1).wait_for(timeout=30_000)
            wait_until_idle(page)
            assert images.count() == target["steps"]
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                ".every(img => img.complete && img.naturalWidth > 0)",
                timeout=30_000,
            )
            assert_no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard_2_sessions_drill_down.png"), full_page=True)

            # Maintenance: table growth chart and the actions.
            page.get_by_role("link", name="Maintenance").click()
            page.get_by_text("Table growth").wait_for(timeout=30_000)
            page.locator('[data-testid="stVegaLiteChart"]').first.locator("canvas, svg").first.wait_for()
            wait_until_idle(page)
            assert_no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard_3_maintenance.png"), full_page=True)

            # Cleanup, confirmed: the backlog is gone from the database.
            backlog = "status IN ('in_progress', 'expired') AND expires_at < NOW()"
            before = db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {backlog}").fetchone()["n"]
            assert before > 0
            page.get_by_role("button", name="Run cleanup now…").click()
            page.get_by_role("button", name="Delete expired sessions").click()
            page.get_by_text(f"Cleanup removed {before} expired session(s)").wait_for(timeout=30_000)
            wait_until_idle(page)
            assert (
                db.execute(f"SELECT count(*) AS n FROM temp_enrollments WHERE {backlog}").fetchone()["n"] == 0
            )
            assert_no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard_4_after_cleanup.png"), full_page=True)
        finally:
            browser.close()
