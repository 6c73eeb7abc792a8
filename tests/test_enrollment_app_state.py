"""enrollment_app/state.py: the one place the app keeps things in st.session_state, and the sign-in
verdict's two variants as the person sees them (Streamlit AppTest, no database: the verdicts are built
here, the flow tests reach them through the real service)."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from enrollment_app import state
from enrollment_app.state import LockedBeforeChecking, SignInVerdict
from enrollment_core import LoginResult

APP_DIR = Path(__file__).resolve().parent.parent / "enrollment_app"


def in_15_minutes() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=15)


def login_result(**changes: Any) -> LoginResult:
    values: dict[str, Any] = dict(
        accepted=False, username="ann", session_id="sess_x", score=3.21, threshold=2.04,
        reason="does not match your enrolled signature", reason_code="no_match", failures_left=3,
        locked_until=None,
    )  # fmt: skip
    return LoginResult(**(values | changes))


def test_a_checked_verdict_keeps_what_the_person_is_told_and_never_the_score() -> None:
    verdict = SignInVerdict.of(login_result())
    assert verdict == SignInVerdict(False, "does not match your enrolled signature", "no_match", 3, None)
    assert {f.name for f in fields(SignInVerdict)} == {
        "accepted", "reason", "reason_code", "failures_left", "locked_until"
    }  # no score, no threshold: nothing the screens could show by mistake


def test_only_state_py_touches_session_state() -> None:
    """Every key lives in state.py; the screens go through its functions."""
    for path in APP_DIR.rglob("*.py"):
        if path.name != "state.py":
            assert not re.search(r"session_state", path.read_text()), path


def outcome_screen(outcome: object) -> None:
    """A page showing one sign-in outcome (AppTest runs this function's source as the app)."""
    from enrollment_app.flow import Where
    from enrollment_app.screens.done import sign_in_outcome_screen

    sign_in_outcome_screen(Where("completed", "signin", "ann", "sess_x"), outcome)


def shown(outcome: state.SignInOutcome) -> AppTest:
    at = AppTest.from_function(outcome_screen, args=(outcome,), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_accepted() -> None:
    at = shown(SignInVerdict.of(login_result(accepted=True, reason="matches your enrolled signature",
                                             reason_code="match")))
    assert at.title[0].value == "Signed in"
    assert "Welcome back, **ann**!" in at.success[0].value
    assert [b.label for b in at.button] == ["Done"]


def test_rejected_with_attempts_left() -> None:
    at = shown(SignInVerdict.of(login_result(failures_left=1)))
    assert at.title[0].value == "Sign-in rejected"
    assert at.error[0].value == "Does not match your enrolled signature."
    assert "1 more rejected attempt will lock the account" in at.caption[0].value
    assert [b.label for b in at.button] == ["Try again", "Back to the start page"]


def test_rejected_and_locked_by_this_rejection() -> None:
    at = shown(SignInVerdict.of(login_result(failures_left=0, locked_until=in_15_minutes())))
    assert at.title[0].value == "Sign-in rejected"
    assert at.error[0].value == "Does not match your enrolled signature."
    assert "locked until" in at.warning[0].value and "(about 15 min)" in at.warning[0].value
    assert [b.label for b in at.button] == ["Back to the start page"]  # no "Try again" while locked


def test_locked_before_checking_is_its_own_screen() -> None:
    at = shown(LockedBeforeChecking(in_15_minutes()))
    assert at.title[0].value == "Account locked"
    assert "locked until" in at.error[0].value
    assert not at.caption  # no reason and no attempts left: nothing was checked
    assert [b.label for b in at.button] == ["Back to the start page"]


def remembering_page() -> None:
    """Keeps a verdict and a name check in the first run; says what it remembers in every run."""
    from datetime import UTC, datetime

    import streamlit as st

    from enrollment_app import state
    from enrollment_core import UsernameCheck

    if not state.remembered_sign_in("sess_a"):
        state.remember_sign_in("sess_a", state.LockedBeforeChecking(datetime(2030, 1, 1, tzinfo=UTC)))
        state.remember_name_check("signin", "ann", UsernameCheck("ann", ok=True))
    st.write(repr(state.remembered_sign_in("sess_a")))
    st.write(repr(state.remembered_sign_in("sess_b")))
    st.write(repr(state.recent_name_check("signin", "ann")))
    if st.button("forget"):
        state.forget_name_checks()
        st.write(repr(state.recent_name_check("signin", "ann")))


@pytest.mark.parametrize("reruns", [1, 3])
def test_what_a_tab_remembers_survives_reruns(reruns: int) -> None:
    at = AppTest.from_function(remembering_page, default_timeout=30)
    for _ in range(reruns):
        at.run()
    said = [m.value for m in at.markdown]
    assert said[0].startswith("LockedBeforeChecking(locked_until=datetime.datetime(2030")
    assert said[1] == "None"
    assert said[2].startswith("UsernameCheck(username='ann', ok=True")
    at.button[0].click().run()
    assert [m.value for m in at.markdown][-1] == "None"


def place_page() -> None:
    """Remembers a place on "remember", moves on with go() on "go"; says what it remembers each run."""
    import streamlit as st

    from enrollment_app import state
    from enrollment_app.flow import Where
    from enrollment_app.screens.navigation import go

    here = {"session": "sess_a"}
    st.write(repr(state.last_place(here)))
    st.write(repr(state.last_place({"session": "sess_b"})))
    if st.button("remember"):
        state.remember_place(here, Where("drawing", "signup", "ann", "sess_a"))
    if st.button("go"):
        go(here)  # e.g. a step saved: the same URL, the next step


def test_the_place_shown_is_remembered_for_its_url_until_the_flow_moves_on() -> None:
    """What the app draws again while the database cannot answer (flow.locate_or_last): the step this
    tab showed for the URL, never one it has left (a saved step keeps its URL: ?session=...)."""
    at = AppTest.from_function(place_page, default_timeout=30).run()
    assert [m.value for m in at.markdown] == ["None", "None"]
    at.button[0].click().run()
    at.run()
    said = [m.value for m in at.markdown]
    assert said[0].startswith("Where(kind='drawing', flow_type='signup', username='ann', session_id='sess_a'")
    assert said[1] == "None"  # another URL
    at.button[1].click().run()
    assert [m.value for m in at.markdown] == ["None", "None"]
    assert dict(at.query_params) == {"session": "sess_a"}
