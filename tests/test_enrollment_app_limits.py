"""The enrollment app under the same limits as the API (Streamlit AppTest, real database): a refused
name check, save or sign-in is a plain message on the screen, never an exception, and the limits are
keyed by the address the app sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from enrollment_app import client, resources
from enrollment_core.config import RateLimitSettings
from enrollment_core.service import ClientInfo, EnrollmentService
from tests.flows import draw_signin
from tests.test_enrollment_app_flow import (
    APP,
    TIMEOUT,
    FakePad,
    assert_no_exception,
    register_user,
    save,
    signin,
    start,
    step_drawing,
    texts,
)
from tests.test_enrollment_app_flow import pad as pad  # noqa: F401 - the fixture, used by name

Factory = Callable[..., AppTest]


@pytest.fixture
def limited_app(service: EnrollmentService, monkeypatch: pytest.MonkeyPatch) -> Factory:
    """A fresh browser session of the app from 192.0.2.77, with these limits (the rest as defaults)."""

    def make(**limits: int) -> AppTest:
        settings = replace(service.settings, rate_limits=RateLimitSettings(**limits))
        limited = EnrollmentService(service.pool, settings)
        monkeypatch.setattr(resources, "get_service", lambda: limited)
        this_browser = ClientInfo("TestBrowser", "192.0.2.77")
        monkeypatch.setattr(client, "client_info", lambda username=None: this_browser)
        return AppTest.from_file(APP, default_timeout=TIMEOUT)

    return make


def test_too_many_name_checks_is_a_plain_message(limited_app: Factory, pad: FakePad) -> None:
    first = start(limited_app(lookups_per_hour=1), "signup", "first_try")
    assert "Step 1 of 11" in texts(first)
    pad.draw(step_drawing("signup", 1, "first_try"))
    save(first)  # the page reruns while drawing and saving: the name's answer is reused, not asked again
    assert_no_exception(first)
    assert "Step 2 of 11" in texts(first)

    second = start(limited_app(lookups_per_hour=1), "signup", "second_try")
    assert_no_exception(second)
    assert "Too many username checks from your network; please wait" in second.warning[0].value
    # A link with a name in it says the same, on the start screen.
    linked = limited_app(lookups_per_hour=1)
    linked.query_params.update({"flow": "signup", "user": "third_try"})
    linked.run()
    assert_no_exception(linked)
    assert "Too many username checks" in linked.error[0].value


def test_too_many_saves_is_a_plain_message(limited_app: Factory, pad: FakePad) -> None:
    at = start(limited_app(saves_per_minute=1), "signup", "quick_draw")
    pad.draw(step_drawing("signup", 1, "quick_draw"))
    save(at)
    pad.draw(step_drawing("signup", 2, "quick_draw"))
    save(at)
    assert_no_exception(at)
    assert "Too many drawings were saved from your network" in at.error[0].value
    assert "Step 2 of 11" in texts(at)  # nothing lost: the same step can be saved after the wait


def test_a_slowed_sign_in_is_a_plain_message_and_can_be_checked_again(
    limited_app: Factory, pad: FakePad
) -> None:
    at = limited_app(account_failures_per_hour=1)
    limited = resources.get_service()
    register_user(limited, "slow_sue")
    limited.login("slow_sue", draw_signin(limited, "slow_sue", person="mallory"))  # spends the allowance
    signin(at, pad, "slow_sue", step_drawing("signin", 1, "slow_sue", sample=7))
    assert_no_exception(at)
    assert at.title[0].value == "Please wait a moment"
    assert "slowed down; please wait about" in at.warning[0].value
    assert [b for b in at.button if b.label == "Check my signature again"]
