"""Staff-only access: a shared password from Streamlit secrets (dashboard_password) or the environment
(DASHBOARD_PASSWORD). There is no default: without one configured, the dashboard shows how to set one
and no data. At sign-in each person also gives their name, which the staff log records with every
action they take (the password is shared, so the name is their word).

The door (issue 24):
- Every attempt is a line of the staff log, wrong passwords included (enrollment_core.staff.staff_sign_in),
  and an address with STAFF_SIGN_IN_MAX_FAILURES wrong passwords in STAFF_SIGN_IN_WINDOW_SECONDS is refused
  without its password being compared, until the oldest of them is that old, in plain words.
- A signed, expiring cookie keeps a person signed in across a reload (and in the browser's other tabs)
  until it expires (DASHBOARD_SIGN_IN_HOURS) or they Sign out. It holds their name and its expiry, signed
  with HMAC-SHA256 under a key derived from the password: it cannot be forged or altered without the
  password, and changing the password signs everyone out. Written by the browser store component
  (JavaScript cannot make it HttpOnly; docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import formatting
from enrollment_app.browser_store import Cookie, browser_store
from enrollment_app.client import network_address
from enrollment_core.config import process_configuration
from enrollment_core.errors import DATABASE_UNAVAILABLE, ValidationError
from enrollment_core.rate_limits import address_subject
from enrollment_core.staff import STAFF_NAME_MAX_LENGTH, StaffSignIn, clean_staff_name, sign_in_at_door

log = logging.getLogger(__name__)

SECRET_NAME = "dashboard_password"
ENV_VAR = "DASHBOARD_PASSWORD"  # named to staff on the sign-in page; read by the registry (config.py)
COOKIE_NAME = "enrollment_staff"
_SESSION_KEY = "staff_signed_in_as"
_NAME_KEY = "staff_name"
_COOKIE_KEY = "staff_cookie"  # the cookie this tab keeps in the browser while signed in
_SIGNED_OUT_KEY = "staff_signed_out"  # this tab signed out: the cookie its page was loaded with is void
_STORE_KEY = "staff_browser_store"
# A wrong password costs this long: slows guessing without bothering a person who mistyped.
FAILED_ATTEMPT_DELAY_SECONDS = 1.0
# How staff read the address of a visitor on the server itself (Streamlit reports none for it).
THIS_COMPUTER = "this computer"


def configured_password() -> str | None:
    """The password from st.secrets, else the environment; None when neither is set (or blank)."""
    try:
        value = st.secrets.get(SECRET_NAME)
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        value = None
    if not (isinstance(value, str) and value.strip()):
        value = process_configuration().dashboard.password
    return value if value and value.strip() else None


def password_matches(given: str, expected: str) -> bool:
    # Constant-time comparison: the time taken tells nothing about how much of the guess was right.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _fingerprint(password: str) -> str:
    # Stored in the session instead of a bare flag, so that changing the password signs everyone out.
    return hashlib.sha256(b"enrollment-dashboard:" + password.encode("utf-8")).hexdigest()


def sign_in_hours() -> float:
    """How long the staff cookie keeps a person signed in (DASHBOARD_SIGN_IN_HOURS, default 8)."""
    return process_configuration().dashboard.sign_in_hours


# ---------------------------------------------------------------- the signed cookie


def _cookie_key(password: str) -> bytes:
    return hashlib.sha256(b"enrollment-dashboard-cookie:" + password.encode("utf-8")).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_cookie(staff_name: str, password: str, now: float, lifetime_seconds: float) -> str:
    """'<payload>.<signature>': the name and the expiry (Unix seconds), base64url, and their HMAC."""
    payload = _b64(json.dumps({"name": staff_name, "exp": int(now + lifetime_seconds)}).encode("utf-8"))
    signature = _b64(hmac.new(_cookie_key(password), payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_cookie(value: object, password: str, now: float) -> tuple[str, float] | None:
    """(the staff name, its expiry) of a cookie this password signed and that has not expired; else None."""
    if not isinstance(value, str) or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    digest = hmac.new(_cookie_key(password), payload.encode("ascii", "replace"), hashlib.sha256).digest()
    expected = _b64(digest)
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        return None
    try:
        content = json.loads(_unb64(payload))
        name, expires = clean_staff_name(content["name"]), float(content["exp"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None
    return (name, expires) if expires > now else None


# ---------------------------------------------------------------- who is signed in


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
    """Sign this person out: this tab now, and the browser's cookie (so a reload asks again)."""
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state.pop(_NAME_KEY, None)
    st.session_state.pop(_COOKIE_KEY, None)
    st.session_state[_SIGNED_OUT_KEY] = True


def _sign_in(name: str, password: str, cookie: str) -> None:
    st.session_state[_SESSION_KEY] = _fingerprint(password)
    st.session_state[_NAME_KEY] = name
    st.session_state[_COOKIE_KEY] = cookie
    st.session_state.pop(_SIGNED_OUT_KEY, None)


def _sign_in_from_cookie(password: str) -> None:
    """A reload, or another tab: the browser's cookie signs the person in, unless this tab signed out."""
    if st.session_state.get(_SIGNED_OUT_KEY) or (is_signed_in() and staff_name()):
        return
    cookie = st.context.cookies.get(COOKIE_NAME)
    found = read_cookie(cookie, password, time.time())
    if found is not None and isinstance(cookie, str):
        _sign_in(found[0], password, cookie)


def _keep_cookie(password: str, signed_in: bool) -> None:
    """Mount the browser store: the cookie written while signed in, removed when not (signed out, expired,
    or signed with a password that changed since)."""
    cookie = st.session_state.get(_COOKIE_KEY) if signed_in else None
    found = read_cookie(cookie, password, time.time()) if cookie else None
    if found is not None and isinstance(cookie, str):
        wanted: dict[str, Cookie | None] = {COOKIE_NAME: Cookie(cookie, int(found[1] - time.time()))}
    elif COOKIE_NAME in st.context.cookies or st.session_state.get(_SIGNED_OUT_KEY):
        wanted = {COOKIE_NAME: None}
    else:
        return  # nothing to keep, nothing to remove
    browser_store(_STORE_KEY, cookies=wanted, report=False)  # it only writes: no answer, no rerun


def staff_address() -> str:
    """The address staff sign-in attempts are counted for: the browser's network address (an IPv6 one as
    its /64, as every limit counts it), or "this computer" for a visitor on the server itself."""
    address = network_address()
    return address_subject(address) if address else THIS_COMPUTER


def require_staff() -> bool:
    """True when the visitor is signed in; otherwise draws the sign-in form (or, with no password
    configured, how to configure one) and returns False. Callers show no data unless this is True."""
    password = configured_password()
    if password is None:
        _show_how_to_configure()
        return False
    _sign_in_from_cookie(password)
    signed_in = is_signed_in() and bool(staff_name())
    _keep_cookie(password, signed_in)
    if signed_in:
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
        outcome = _attempt(cleaned, given or "", password)
        if outcome.refused_until is not None:
            st.error(
                "Too many wrong passwords were tried from your network, so signing in from here is paused "
                f"until {formatting.until(outcome.refused_until, datetime.now(UTC))}. The password was not "
                "checked. If these attempts were not yours, tell a colleague: they are in the staff log.",
                icon=":material/lock_clock:",
            )
            return False
        if outcome.signed_in:
            cookie = make_cookie(cleaned, password, time.time(), sign_in_hours() * 3600)
            _sign_in(cleaned, password, cookie)
            st.rerun()
        time.sleep(FAILED_ATTEMPT_DELAY_SECONDS)
        st.error("Wrong password.", icon=":material/lock:")
    return False


def _attempt(name: str, given: str, password: str) -> StaffSignIn:
    """One sign-in attempt, counted and logged in the database. When the database cannot answer, the
    password alone decides (an outage must not lock staff out of the console that shows it; nothing is
    counted or logged then, and the process log says so)."""
    from dashboard import data  # data imports this module

    def right() -> bool:
        return password_matches(given, password)

    try:
        return sign_in_at_door(data.service(), staff_address(), name, right)
    except DATABASE_UNAVAILABLE as error:
        log.warning("staff sign-in not counted or logged: %s: %s", type(error).__name__, error)
        return StaffSignIn(right())


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
