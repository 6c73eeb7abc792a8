"""When the flow cannot go on: an expired enrollment, a link that leads nowhere, something that went
wrong, our server that cannot be reached, signing in locked from this network, or a limit that says to
wait. Each says what happened in plain words and offers the way back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import streamlit as st

from enrollment_core import EnrollmentService

from .. import flow, resources
from ..flow import Where
from .navigation import go, start_page_button, stay

log = logging.getLogger(__name__)


def expired_screen(service: EnrollmentService, where: Where) -> None:
    st.title("This enrollment has expired")
    ended = flow.local_time(where.session.expires_at if where.session else None, st.context.timezone)
    st.warning(
        f"Enrollment sessions last {service.settings.session_lifetime}; this one ended at {ended}. "
        "The drawings saved in it will be "
        "deleted. Please start again.",
        icon=":material/timer_off:",
    )
    if where.flow_type is not None and where.username is not None:
        if st.button(f"Start again as {where.username}", type="primary", icon=":material/restart_alt:"):
            go(flow.start_params(where.flow_type, where.username))
    start_page_button()


def missing_screen(where: Where) -> None:
    st.title("Enrollment not found")
    st.warning(
        "We could not find this enrollment. The link may be mistyped, or the enrollment expired and was "
        "removed. Please start again.",
        icon=":material/search_off:",
    )
    start_page_button("Start again")


def elsewhere_screen(where: Where) -> None:
    """The link of a session that was started in another browser (it continues only there)."""
    st.title("This enrollment continues where you started it")
    what = "sign-in" if where.flow_type == "signin" else "enrollment"
    st.info(
        f"This {what} was started on another device or in another browser. To keep it safe, it can only "
        "be continued there: open this link on the phone or computer, and in the same browser app, where "
        "you began (a private window counts as another browser). Your saved steps are waiting for you "
        "there.",
        icon=":material/devices:",
    )
    st.write("Or start again here; the other one expires on its own.")
    if where.flow_type is not None and where.username is not None:
        if st.button(f"Start again here as {where.username}", type="primary", icon=":material/restart_alt:"):
            go(flow.start_params(where.flow_type, where.username))
    start_page_button()


def waiting_screen() -> None:
    """A page's first run, before the browser has said what it keeps: its answer reruns the page."""
    st.caption("Getting ready…")


def problem_screen(message: str) -> None:
    st.title("Something went wrong")
    st.error(message, icon=":material/error:")
    support()
    start_page_button("Start again", key="problem_to_start")


def support() -> None:
    """The support line, when one is configured (SUPPORT_CONTACT)."""
    line = flow.support_line(resources.configuration().app)
    if line:
        st.caption(f":material/support_agent: {line}")


def unreachable(error: Exception, message: str) -> None:
    """The database did not answer this action (nothing of it was saved): say so, and what to do; the
    details are for the log."""
    log.warning("database unavailable: %s: %s", type(error).__name__, error)
    st.warning(message, icon=":material/cloud_off:")


def unreachable_screen(error: Exception, title: str = flow.UNREACHABLE_TITLE,
                       message: str = flow.UNREACHABLE_SCREEN) -> None:
    """Instead of the screen, when the database did not answer what it needs."""
    st.title(title)
    unreachable(error, message)
    # A click runs the app again, which asks the server afresh: nothing more to do here (asking again
    # from the button as well would ask twice per click).
    st.button("Try again", type="primary", icon=":material/refresh:", key="unreachable_try_again")


def wait_screen(message: str) -> None:
    """Too many sign-ins from this network (or of this account) for now: nothing was checked, so the
    same drawing can be checked once the wait is over."""
    st.title("Please wait a moment")
    st.warning(flow.sentence(message), icon=":material/hourglass_top:")
    if st.button("Check my signature again", type="primary", icon=":material/replay:"):
        stay()


def locked_message(locked_until: datetime | None) -> str:
    """Signing in to this account from this network is locked (after repeated rejections): until when,
    in the browser's time zone and saying which."""
    if locked_until is None:
        return (
            "After too many rejected sign-ins from this network, signing in to this account from here "
            "is locked for now. Please try again later."
        )
    minutes = flow.minutes_until(locked_until, datetime.now(UTC))
    return (
        "After too many rejected sign-ins from this network, signing in to this account from here is "
        f"locked until {flow.local_time(locked_until, st.context.timezone)} (in about {minutes} min). "
        "Please try again then."
    )
