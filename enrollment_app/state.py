"""What one browser tab of the app remembers between reruns (st.session_state), in one place.

Where the person is in the flow is not kept here: the page URL holds it (flow.py), so a reload or a
reopened link continues. This is only what makes the reruns pleasant: a confirmation for the next
screen, name checks reused for a minute, the place last shown (drawn again while the database cannot
answer), which step a tab arrived at, the pad's Undo/Clear, how the pad's strokes were drawn, and the
sign-in verdict (the service cannot tell it twice). Every key of st.session_state the app uses is named
below, and read or written only through these functions.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import streamlit as st

from enrollment_core import LoginResult, UsernameCheck
from enrollment_core.step_plan import FlowType

from .flow import Where
from .timed_strokes import PadTiming

# The keys of st.session_state (the widgets' own states are keyed by their widget keys).
FLASH = "flash"
NAME_CHECKS = "name_checks"
ARRIVALS = "arrivals"
PAD = "pad"
PAD_TIMING = "pad_timing"
SIGN_IN_VERDICTS = "sign_in_verdicts"
PLACE = "place"
BROWSER_WRITES = "browser_writes"  # localStorage entries written since the page loaded (written again)
BROWSER_WRITE_COUNT = "browser_write_count"  # each write mid-run mounts a writer under a key of its own
TAB_SECRET = "tab_secret"  # this tab's stand-in for a browser that keeps nothing (browser.stand_in)

NAME_CHECK_SECONDS = 60  # how long an answer about a name is reused (each stroke reruns the page)


# ---------------------------------------------------------------- the sign-in verdict


@dataclass(frozen=True)
class SignInVerdict:
    """The signature was checked: what the person is told (never the score or the threshold: they
    would tell a forger how close they came; staff see them in the dashboard)."""

    accepted: bool
    reason: str  # in words, a lower-case clause: "does not match your enrolled signature"
    reason_code: str  # match, no_match, replay, empty
    failures_left: int  # rejections from this network before signing in from here is locked
    locked_until: datetime | None  # set when this rejection locked signing in from this network

    @classmethod
    def of(cls, result: LoginResult) -> SignInVerdict:
        return cls(
            accepted=result.accepted,
            reason=result.reason,
            reason_code=result.reason_code,
            failures_left=result.failures_left,
            locked_until=result.locked_until,
        )


@dataclass(frozen=True)
class LockedBeforeChecking:
    """Signing in to this account from this network was already locked: the signature was not checked."""

    locked_until: datetime


SignInOutcome = SignInVerdict | LockedBeforeChecking


def remember_sign_in(session_id: str, outcome: SignInOutcome) -> None:
    """Keep the outcome of this sign-in session for this tab (login answers once; a rerun shows it again)."""
    _dict(SIGN_IN_VERDICTS)[session_id] = outcome


def remembered_sign_in(session_id: str) -> SignInOutcome | None:
    return cast("SignInOutcome | None", _dict(SIGN_IN_VERDICTS).get(session_id))


# ---------------------------------------------------------------- a confirmation for the next screen


def set_flash(message: str) -> None:
    st.session_state[FLASH] = message


def take_flash() -> str | None:
    """The confirmation left for this screen, once."""
    return cast("str | None", st.session_state.pop(FLASH, None))


def peek_flash() -> str | None:
    """The confirmation left for the drawing steps, kept through the step's reruns (each stroke, the
    pad's own reports right after it appears) until another replaces it or another screen drops it."""
    return cast("str | None", st.session_state.get(FLASH))


# ---------------------------------------------------------------- name checks, reused for a minute


@dataclass(frozen=True)
class _NameCheck:
    asked_at: float  # time.monotonic()
    check: UsernameCheck


def recent_name_check(flow_type: FlowType, username: str) -> UsernameCheck | None:
    """This tab's answer about this name, if it is less than NAME_CHECK_SECONDS old."""
    held = cast("_NameCheck | None", _dict(NAME_CHECKS).get((flow_type, username)))
    if held is None or time.monotonic() - held.asked_at > NAME_CHECK_SECONDS:
        return None
    return held.check


def remember_name_check(flow_type: FlowType, username: str, check: UsernameCheck) -> None:
    _dict(NAME_CHECKS)[(flow_type, username)] = _NameCheck(time.monotonic(), check)


def forget_name_checks() -> None:
    """Ask afresh next time (e.g. after a sign-in: whether this address is locked may have changed)."""
    st.session_state.pop(NAME_CHECKS, None)


# ---------------------------------------------------------------- the place last shown


def remember_place(params: Mapping[str, str], where: Where) -> None:
    """The place in the flow this tab shows for these URL parameters (only the latest is kept)."""
    st.session_state[PLACE] = (dict(params), where)


def last_place(params: Mapping[str, str]) -> Where | None:
    """The place this tab showed last, if it was for these same URL parameters."""
    held = cast("tuple[dict[str, str], Where] | None", st.session_state.get(PLACE))
    return held[1] if held is not None and held[0] == dict(params) else None


def forget_place() -> None:
    """The flow moves on: the place shown is not one to draw again (a saved step keeps its URL)."""
    st.session_state.pop(PLACE, None)


# ---------------------------------------------------------------- where this tab joined a session


def arrival_step(session_id: str, saved_steps: int) -> int:
    """How many steps were saved when this tab first showed this session (saved_steps, the first
    time): a "welcome back" note stays until the tab saves a step of its own."""
    return cast(int, _dict(ARRIVALS).setdefault(session_id, saved_steps))


def arrived_fresh(session_id: str) -> None:
    """This tab started the session itself: no "welcome back"."""
    _dict(ARRIVALS).setdefault(session_id, 0)


# ---------------------------------------------------------------- the pad on screen


@dataclass
class PadState:
    """Our Undo/Clear state of the canvas on screen: `objects` + `revision` redraw the canvas (None:
    as drawn), `last` is what it reported last (the canvas's Fabric JSON). `save_asked_at`: when Save
    (Sign) was tapped and not yet done (time.monotonic()); kept in the session by the button's callback,
    so a tap is not lost when the canvas's report of the last stroke interrupts the run it started.
    `save_saw_empty`: the pad looked empty when that tap was checked."""

    key: str
    objects: list[dict[str, Any]] | None = None
    revision: int = 0
    last: dict[str, Any] | None = None
    save_asked_at: float | None = None
    save_saw_empty: bool = False


def pad(key: str) -> PadState:
    """The state of the pad `key`, fresh whenever another pad is shown."""
    held = cast("PadState | None", st.session_state.get(PAD))
    if held is None or held.key != key:
        held = PadState(key)
        st.session_state[PAD] = held
    return held


def pad_timing(key: str) -> PadTiming:
    """How the strokes of the pad `key` were drawn, fresh whenever another pad is shown."""
    held = cast("tuple[str, PadTiming] | None", st.session_state.get(PAD_TIMING))
    if held is None or held[0] != key:
        held = (key, PadTiming())
        st.session_state[PAD_TIMING] = held
    return held[1]


# ---------------------------------------------------------------- what the browser keeps (browser.py)


def browser_writes() -> dict[str, str | None]:
    """localStorage entries written (None: removed) since the page loaded, to write again on each run."""
    return dict(cast("dict[str, str | None]", st.session_state.get(BROWSER_WRITES) or {}))


def set_browser_writes(writes: Mapping[str, str | None]) -> None:
    st.session_state[BROWSER_WRITES] = dict(writes)


def next_browser_write() -> int:
    """A new number for a writer's widget key (keys are unique within a run)."""
    count = int(st.session_state.get(BROWSER_WRITE_COUNT, 0)) + 1
    st.session_state[BROWSER_WRITE_COUNT] = count
    return count


def tab_secret() -> str:
    """A random secret of this tab's own, made the first time it is asked for."""
    return cast(str, st.session_state.setdefault(TAB_SECRET, secrets.token_urlsafe(32)))


def widget_value(key: str) -> Mapping[str, Any]:
    """The state a component last reported under its widget key ({} before it has)."""
    value = st.session_state.get(key)
    return value if isinstance(value, Mapping) else {}


def _dict(key: str) -> dict[Any, Any]:
    return cast("dict[Any, Any]", st.session_state.setdefault(key, {}))
