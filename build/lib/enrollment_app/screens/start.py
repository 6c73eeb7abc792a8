"""The start screen: choose Create account or Sign in, type a username, and go to the first step once
the name can be used (free for a new account; registered, and not locked from here, for a sign-in)."""

from __future__ import annotations

import streamlit as st

from enrollment_core import EnrollmentService, UsernameCheck, errors, step_plan
from enrollment_core.step_plan import FlowType

from .. import client, flow, state
from ..flow import FLOW_LABELS, Where
from .navigation import go
from .problems import locked_message, support, unreachable


def start_screen(service: EnrollmentService, where: Where) -> None:
    st.title("Signature enrollment")
    st.write(
        "Create an account by drawing your signature, a few shapes and drawings (11 short steps), "
        "or sign in by drawing your signature."
    )
    with st.form("start"):
        flow_type = st.segmented_control(
            "What would you like to do?",
            options=list(step_plan.FLOW_TYPES),
            format_func=lambda choice: FLOW_LABELS[choice],
            default=where.flow_type or "signup",
            required=True,
        )
        username = st.text_input(
            "Username", value=where.username or "", max_chars=64, placeholder="e.g. john_doe",
        )
        # Said under the field, not behind a 16 px help icon.
        st.caption("3 to 32 characters: letters, digits, and _ . -")
        submitted = st.form_submit_button("Continue", type="primary", icon=":material/arrow_forward:")
    if submitted:
        assert flow_type is not None  # required=True: one is always chosen
        continue_with(service, flow_type, username)
    elif where.message:  # the URL named a flow and a name that cannot be used (now)
        locked = where.locked_until
        if locked is not None:
            st.error(locked_message(locked), icon=":material/lock:")
        else:
            st.error(where.message, icon=":material/error:")
        support()


def continue_with(service: EnrollmentService, flow_type: FlowType, username: str) -> None:
    """Go to the first step with this name, or say why not (and what to do instead)."""
    try:
        check = checked_name(service, flow_type, username)
    except errors.RateLimited as exc:
        st.warning(flow.sentence(exc.message), icon=":material/hourglass_top:")
        return
    except errors.DATABASE_UNAVAILABLE as exc:
        unreachable(exc, flow.NAME_NOT_CHECKED)
        return
    if check.ok:
        go(flow.start_params(flow_type, check.username))
    if check.locked_until is not None:  # a sign-in this network is locked out of: when it ends, once
        st.error(locked_message(check.locked_until), icon=":material/lock:")
        support()
        return
    st.error(flow.sentence(check.reason or "This username cannot be used"), icon=":material/error:")
    if check.code == "username_taken":
        st.caption("If this is your account, choose **Sign in** instead.")
    elif check.code == "user_not_found":
        st.caption("Check the spelling, or choose **Create account** to enroll this name.")


def checked_name(service: EnrollmentService, flow_type: FlowType, username: str) -> UsernameCheck:
    """flow.check_name for this browser's address, remembered for a minute: the page reruns on every
    stroke, and each check counts against the address's limit of look-ups."""
    check = state.recent_name_check(flow_type, username)
    if check is None:
        check = flow.check_name(service, flow_type, username, client.client_info(username))
        state.remember_name_check(flow_type, username, check)
    return check
