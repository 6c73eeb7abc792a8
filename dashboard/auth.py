"""Staff-only access: a shared password from Streamlit secrets (dashboard_password) or the environment
(DASHBOARD_PASSWORD). There is no default: without one configured, the dashboard shows how to set one
and no data. At sign-in each person also gives their name, which the staff log records with every
action they take (the password is shared, so the name is their word)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from enrollment_core.errors import ValidationError
from enrollment_core.staff import STAFF_NAME_MAX_LENGTH, clean_staff_name

SECRET_NAME = "dashboard_password"
ENV_VAR = "DASHBOARD_PASSWORD"
_SESSION_KEY = "staff_signed_in_as"
_NAME_KEY = "staff_name"
# A wrong password costs this long: slows guessing without bothering a person who mistyped.
FAILED_ATTEMPT_DELAY_SECONDS = 1.0


def configured_password() -> str | None:
    """The password from st.secrets, else the environment; None when neither is set (or blank)."""
    try:
        value = st.secrets.get(SECRET_NAME)
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        value = None
    if not (isinstance(value, str) and value.strip()):
        value = os.environ.get(ENV_VAR)
    return value if value and value.strip() else None


def password_matches(given: str, expected: str) -> bool:
    # Constant-time comparison: the time taken tells nothing about how much of the guess was right.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _fingerprint(password: str) -> str:
    # Stored in the session instead of a bare flag, so that changing the password signs everyone out.
    return hashlib.sha256(b"enrollment-dashboard:" + password.encode("utf-8")).hexdigest()


def is_signed_in() -> bool:
    password = configured_password()
    signed_in_as = st.session_state.get(_SESSION_KEY)
    return (
        password is not None
        and signed_in_as is not None
        and hmac.compare_digest(signed_in_as, _fingerprint(password))
    )


def staff_name() -> str:
    """The name the signed-in person gave (require_staff makes sure there is one)."""
    return str(st.session_state.get(_NAME_KEY) or "")


def sign_out() -> None:
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state.pop(_NAME_KEY, None)


def require_staff() -> bool:
    """True when the visitor is signed in; otherwise draws the sign-in form (or, with no password
    configured, how to configure one) and returns False. Callers show no data unless this is True."""
    password = configured_password()
    if password is None:
        _show_how_to_configure()
        return False
    if is_signed_in() and staff_name():
        return True
    st.title("Enrollment operations")
    with st.form("sign_in", border=True, width=420):
        st.markdown("**Staff sign-in**")
        name = st.text_input(
            "Your name",
            key="sign_in_name",
            max_chars=STAFF_NAME_MAX_LENGTH,
            help="Recorded with every cleanup, archive or other action you take, in the staff log.",
        )
        given = st.text_input("Dashboard password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            cleaned = clean_staff_name(name or "")
        except ValidationError as error:
            st.error(f"Your name {error.message.removeprefix('staff_name ')}.", icon=":material/badge:")
            return False
        if password_matches(given or "", password):
            st.session_state[_SESSION_KEY] = _fingerprint(password)
            st.session_state[_NAME_KEY] = cleaned
            st.rerun()
        time.sleep(FAILED_ATTEMPT_DELAY_SECONDS)
        st.error("Wrong password.", icon=":material/lock:")
    return False


def _show_how_to_configure() -> None:
    st.title("Enrollment operations")
    st.warning(
        "The dashboard is for staff only and no password is configured, so it shows no data.",
        icon=":material/lock:",
    )
    st.markdown(
        f"""
Set a password in **one** of these ways, then reload this page:

* environment variable, e.g. for a demo: `{ENV_VAR}=demo ./dev start`
* Streamlit secrets: add `{SECRET_NAME} = "…"` to `.streamlit/secrets.toml` (in the directory you start
  Streamlit from, or `~/.streamlit/secrets.toml`)
"""
    )
